"""The playground's evals page: ``eval turns`` and ``eval memory`` run on the files of the
data folder's ``evals/``, shown as the charts of :mod:`botkit.evaluation.charts` beside a
table of the same figures.

A request names a file by its name only; nothing outside that one folder can be read
through the page. Files come in by hand or by upload (bounded, the name made plain).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import functools
import json
import re
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from botkit.adapters.web.page import frame, tool_links
from botkit.adapters.web.uploads import TooLarge, last_part, read_bounded, upload_field

from botkit.atomic_files import write_atomically
from botkit.backends.base import ChatBackend
from botkit.evaluation.charts import MEMORY_BASELINES, recall_chart, who_accuracy_chart
from botkit.evaluation.corpora import load_corpus
from botkit.evaluation.locomo import read_locomo
from botkit.evaluation.memory_data import DatasetError, load_dataset
from botkit.evaluation.memory_eval import evaluate_memory
from botkit.evaluation.turns_eval import evaluate_turns
from botkit.evaluation.turns_policies import BACKEND_POLICIES, BASELINES, build_policy
from botkit.memory.settings import MemorySettings
from botkit.one_line import one_line
from botkit.policy_catalog import POLICY_SUMMARIES

__all__ = [
    "MAX_MEMORY_CONVERSATIONS",
    "MAX_TURNS_CONVERSATIONS",
    "MAX_UPLOAD",
    "MEMORY_KS",
    "POLICIES",
    "RUN_SECONDS",
    "eval_routes",
]

POLICIES = tuple(name for name in POLICY_SUMMARIES if name not in BACKEND_POLICIES)
"""The turn-taking policies the page measures: those that call no model backend."""
DEFAULT_POLICIES = ("scoring", "round-robin")
"""The policies measured when a request names none."""
MEMORY_KS = (1, 5, 10)
"""The cut-offs of recall@k, as ``botkit eval memory`` has them by default."""
MAX_UPLOAD = 8 << 20
"""The largest file the page may upload."""
MAX_TURNS_CONVERSATIONS = 200
"""A turn-taking run measures at most the file's first this many conversations."""
MAX_MEMORY_CONVERSATIONS = 10
"""A memory run indexes at most the file's first this many conversations."""
RUN_SECONDS = 120.0
"""A run still going after this long is stopped at its next progress report."""
SEED = 0
"""The random baseline's seed, as ``botkit eval turns`` has it by default."""

_SUFFIXES = {".jsonl": ("turns",), ".json": ("turns", "memory"), ".csv": ("turns",)}
"""The files the page offers, by suffix, and the evaluations each may hold."""
_FORMAT_NAMES = {
    "jsonl": "botkit's JSON Lines",
    "meld": "MELD",
    "emorynlp": "EmoryNLP",
    "molweni": "Molweni",
    "json": "botkit's JSON",
    "locomo": "LoCoMo",
}
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_PEEK = 4096
"""Bytes read from a file's start to tell its format."""
_CSS = """
body.evals { grid-template-columns: 11rem 1fr; height: auto; min-height: 100vh; }
main.evals { padding: 0 1.2rem 2rem; min-width: 0; }
main.evals header { display: flex; align-items: baseline; gap: 1rem; padding: .8rem 0; }
main.evals h2 { margin: 0; font-size: 1.1rem; }
.evals fieldset { border: 1px solid var(--line, #e2ded6); border-radius: 6px;
                  background: var(--panel, #fff); margin: 0 0 .8rem; padding: .5rem .8rem; }
.evals legend { font-weight: 600; padding: 0 .3rem; }
.evals ul { list-style: none; margin: 0; padding: 0; }
.evals li { margin: .2rem 0; }
.evals .size, .evals .hint { color: var(--dim, #777); font-size: .85rem; }
.evals fieldset.choices { display: flex; flex-wrap: wrap; gap: .2rem 1.2rem; border: 0;
                         background: none; margin: .2rem 0 .2rem 1.4rem; padding: 0; }
.evals .error { color: #a4161a; font-weight: 600; }
.evals figure { margin: 1rem 0; max-width: 56rem; }
.evals table { border-collapse: collapse; font-size: .9rem; margin-bottom: 1rem;
               background: var(--panel, #fff); }
.evals th, .evals td { padding: .25rem .6rem; border-bottom: 1px solid var(--line, #e2ded6); }
.evals th { text-align: left; }
.evals td.number { text-align: right; font-variant-numeric: tabular-nums; }
.evals tr.baseline td:first-child { color: var(--dim, #777); font-style: italic; }
"""


class _Busy(Exception):
    """Another evaluation is running."""


class _TooLong(Exception):
    """The run went past :data:`RUN_SECONDS`."""


def _error(line: str) -> str:
    """The JSON body of an error answer: ``{"error": line}``."""
    return json.dumps({"error": line})


def _refusal(status: type[web.HTTPException], line: str) -> web.HTTPException:
    """An error answer of ``status`` that says ``line``."""
    return status(text=_error(line), content_type="application/json")


def _shown(name: object) -> str:
    """A name from a request as a message may show it: printable, and not too long."""
    text = "".join(ch for ch in str(name) if ch.isprintable())
    return text if len(text) <= 80 else text[:79] + "…"


def _offered(name: str) -> bool:
    """Whether ``name`` is one the page offers: a plain file name with a known suffix."""
    return (
        bool(name)
        and not name.startswith(".")
        and "/" not in name
        and "\\" not in name
        and "\0" not in name
        and Path(name).suffix in _SUFFIXES
    )


def _upload_name(filename: str) -> str | None:
    """An uploaded file's name made plain (its last part, letters, digits, ``.``, ``_``,
    ``-``), or None when it has no suffix the page offers."""
    last = last_part(filename)
    stem, dot, suffix = last.rpartition(".")
    plain = _UNSAFE.sub("-", stem).strip(".-")[:80]
    name = f"{plain or 'data'}.{suffix.lower()}"
    return name if dot and _offered(name) else None


def _size(size: int) -> str:
    """A file size for people."""
    if size < 1024:
        return f"{size} B"
    return f"{size / 1024:.0f} KB" if size < 1 << 20 else f"{size / (1 << 20):.1f} MB"


def _peek(path: Path) -> bytes:
    """The first bytes of the file at ``path``; DatasetError naming it when unreadable."""
    try:
        with path.open("rb") as file:
            return file.read(_PEEK)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read: {error.strerror}") from error


def _turns_format(path: Path) -> str:
    """How ``eval turns`` reads the file at ``path``: by its suffix, and for a CSV file by
    its header (EmoryNLP's has Scene_ID, MELD's Dialogue_ID)."""
    suffix = path.suffix
    if suffix == ".jsonl":
        return "jsonl"
    if suffix == ".json":
        return "molweni"
    header = _peek(path).decode("utf-8-sig", errors="replace").splitlines()[:1]
    columns = next(csv.reader(header), [])
    return "emorynlp" if "Scene_ID" in columns else "meld"


def _memory_format(path: Path) -> str:
    """How ``eval memory`` reads the file at ``path``: LoCoMo's samples are a JSON list,
    botkit's dataset an object."""
    if path.suffix != ".json":
        raise DatasetError(f"{path}: memory reads a .json file (botkit's dataset or LoCoMo's)")
    return "locomo" if _peek(path).lstrip().startswith(b"[") else "json"


class _Deadline:
    """A progress callback that stops the run once :data:`RUN_SECONDS` have passed."""

    def __init__(self) -> None:
        self._end = time.monotonic() + RUN_SECONDS

    def __call__(self, *_progress: object) -> None:
        """Raise :class:`_TooLong` when the time is up; take any progress report."""
        if time.monotonic() > self._end:
            raise _TooLong


def _no_backend() -> ChatBackend:
    """The page runs no policy that calls a model, so none is ever asked for."""
    raise RuntimeError("the evals page runs only the policies that call no model")


def _first(count: int, limit: int) -> str:
    """A note that only the first ``limit`` of ``count`` conversations were used, if so."""
    return f" (the first {limit} of {count} conversations)" if count > limit else ""


async def _run_turns(path: Path, name: str, policies: Sequence[str]) -> dict[str, Any]:
    """``eval turns`` on the file at ``path`` for ``policies`` and the baselines."""
    read_as = _turns_format(path)
    conversations = load_corpus(path, read_as)
    schedulers = [
        # No policy run here calls a model, so the timeout applies to none of them.
        (policy, build_policy(policy, seed=SEED, backend=_no_backend, timeout=1.0))
        for policy in [*policies, *BASELINES]
    ]
    result = await evaluate_turns(
        conversations[:MAX_TURNS_CONVERSATIONS], schedulers, progress=_Deadline()
    )
    return {
        "kind": "turns",
        "summary": (
            f"{name}, read as {_FORMAT_NAMES[read_as]}: {result.conversations} conversations"
            f"{_first(len(conversations), MAX_TURNS_CONVERSATIONS)}, {result.decisions}"
            f" decision points ({result.silences} marked silences)"
        ),
        "svg": who_accuracy_chart(result),
        "columns": [
            {"key": "name", "label": "policy", "unit": "text"},
            {"key": "who_accuracy", "label": "who-accuracy", "unit": "percent"},
            {"key": "nobody_precision", "label": "NOBODY P", "unit": "percent"},
            {"key": "nobody_recall", "label": "NOBODY R", "unit": "percent"},
            {"key": "nobody_f1", "label": "NOBODY F1", "unit": "percent"},
            {"key": "p50_ms", "label": "p50 ms", "unit": "ms"},
            {"key": "p99_ms", "label": "p99 ms", "unit": "ms"},
        ],
        "table": [
            {
                "name": score.name,
                "baseline": score.name in BASELINES,
                "who_accuracy": score.who_accuracy,
                "nobody_precision": score.nobody_precision,
                "nobody_recall": score.nobody_recall,
                "nobody_f1": score.nobody_f1,
                "p50_ms": score.p50_ms,
                "p99_ms": score.p99_ms,
            }
            for score in result.scores
        ],
    }


async def _run_memory(path: Path, name: str) -> dict[str, Any]:
    """``eval memory`` on the file at ``path``, with memory's default settings."""
    read_as = _memory_format(path)
    dataset = read_locomo(path) if read_as == "locomo" else load_dataset(path)
    count = len(dataset.conversations)
    result = await evaluate_memory(
        dataclasses.replace(
            dataset, conversations=dataset.conversations[:MAX_MEMORY_CONVERSATIONS]
        ),
        ks=MEMORY_KS,
        settings=MemorySettings(),
        progress=_Deadline(),
    )
    return {
        "kind": "memory",
        "summary": (
            f"{name}, read as {_FORMAT_NAMES[read_as]}: {result.questions} questions over"
            f" {result.conversations} conversations{_first(count, MAX_MEMORY_CONVERSATIONS)},"
            f" {result.turns} turns indexed in {result.index_seconds:.1f} s"
        ),
        "svg": recall_chart(result),
        "columns": [
            {"key": "name", "label": "ranking", "unit": "text"},
            *({"key": f"recall@{k}", "label": f"recall@{k}", "unit": "ratio"} for k in MEMORY_KS),
            {"key": "p50_ms", "label": "p50 ms", "unit": "ms"},
            {"key": "p99_ms", "label": "p99 ms", "unit": "ms"},
        ],
        "table": [
            {
                "name": variant.name,
                "baseline": variant.name in MEMORY_BASELINES,
                **{f"recall@{k}": variant.recall[k] for k in MEMORY_KS},
                "p50_ms": variant.p50_ms,
                "p99_ms": variant.p99_ms,
            }
            for variant in result.variants
        ],
    }


class _EvalsPage:
    """The page and its API over one folder of evaluation files."""

    def __init__(self, folder: Path, csrf: str) -> None:
        self._folder = folder
        self._csrf = csrf
        self._running = threading.Lock()

    def _files(self) -> list[dict[str, Any]]:
        """The files the page offers, by name: those directly in the folder."""
        if not self._folder.is_dir():
            return []
        inside = self._folder.resolve()
        found = []
        for path in sorted(self._folder.iterdir()):
            resolved = path.resolve()
            if _offered(path.name) and resolved.parent == inside and resolved.is_file():
                found.append(
                    {
                        "name": path.name,
                        "size": _size(resolved.stat().st_size),
                        "kinds": list(_SUFFIXES[path.suffix]),
                    }
                )
        return found

    def _path(self, name: str) -> Path:
        """The file of the folder called ``name``; refused when the name is anything else
        (a path, a hidden or unknown kind of file) or leads out of the folder."""
        if not _offered(name):
            raise _refusal(
                web.HTTPBadRequest,
                f"{_shown(name)}: not the name of a .jsonl, .json or .csv file of the evals folder",
            )
        inside = self._folder.resolve()
        path = (inside / name).resolve()
        if path.parent != inside:
            raise _refusal(web.HTTPBadRequest, f"{_shown(name)}: leads out of the evals folder")
        if not path.is_file():
            raise _refusal(web.HTTPNotFound, f"{_shown(name)}: no such file in the evals folder")
        return path

    def _alone(self, work: Callable[[], Coroutine[Any, Any, dict[str, Any]]]) -> dict[str, Any]:
        """Run ``work`` in an event loop of this thread's own, unless another run is going."""
        if not self._running.acquire(blocking=False):
            raise _Busy
        try:
            return asyncio.run(work())
        finally:
            self._running.release()

    async def page(self, request: web.Request) -> web.StreamResponse:
        """``GET /evals``: the files, the choice of evaluation and the Run button."""
        return web.Response(text=_render(self._csrf, self._files()), content_type="text/html")

    async def script(self, request: web.Request) -> web.StreamResponse:
        """``GET /evals/evals.js``: the page's script."""
        source = resources.files("botkit.adapters.web").joinpath("static", "evals.js")
        return web.Response(text=source.read_text(), content_type="application/javascript")

    async def run(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/evals/run`` ``{file, kind, policies?}``: the chart and the table."""
        try:
            body = await request.json()
        except ValueError:
            raise _refusal(web.HTTPBadRequest, 'expected JSON: {"file", "kind"}') from None
        if not isinstance(body, dict):
            raise _refusal(web.HTTPBadRequest, 'expected JSON: {"file", "kind"}')
        name = body.get("file")
        if not isinstance(name, str) or not name:
            raise _refusal(web.HTTPBadRequest, "file: expected the name of a file to evaluate")
        path = self._path(name)
        work: Callable[[], Coroutine[Any, Any, dict[str, Any]]]
        if body.get("kind") == "turns":
            policies = _policies(body.get("policies", list(DEFAULT_POLICIES)))
            work = functools.partial(_run_turns, path, name, policies)
        elif body.get("kind") == "memory":
            work = functools.partial(_run_memory, path, name)
        else:
            raise _refusal(web.HTTPBadRequest, "kind: expected turns or memory")
        try:
            return web.json_response(await asyncio.to_thread(self._alone, work))
        except _Busy:
            raise _refusal(
                web.HTTPConflict, "another evaluation is running; try again once it ends"
            ) from None
        except _TooLong:
            raise _refusal(
                web.HTTPBadRequest,
                f"{name}: stopped after {RUN_SECONDS:.0f} s; try a smaller file",
            ) from None
        except DatasetError as error:
            problem = one_line(error).replace(str(path), name)
            line = problem if problem.startswith(name) else f"{name}: {problem}"
            raise _refusal(web.HTTPBadRequest, line) from None

    async def upload(self, request: web.Request) -> web.StreamResponse:
        """``POST /api/evals/upload`` (form field ``file``): the file saved in the folder
        under a plain name; answers that name and the files now offered."""
        field = await upload_field(request, "file")
        if field is None:
            raise _refusal(web.HTTPBadRequest, "expected a form with a file")
        given = field.filename or ""
        name = _upload_name(given)
        if name is None:
            raise _refusal(
                web.HTTPBadRequest, f"{_shown(given)}: expected a .jsonl, .json or .csv file"
            )
        try:
            data = await read_bounded(field, MAX_UPLOAD)
        except TooLarge as error:
            raise web.HTTPRequestEntityTooLarge(
                MAX_UPLOAD,
                error.size,
                text=_error(f"{name}: larger than {MAX_UPLOAD >> 20} MiB"),
                content_type="application/json",
            ) from None
        await asyncio.to_thread(write_atomically, self._folder / name, data)
        return web.json_response({"name": name, "files": self._files()})


def _policies(given: object) -> list[str]:
    """The policies a request names, once each; refused unless among :data:`POLICIES`."""
    allowed = ", ".join(POLICIES)
    if not isinstance(given, list) or not given or not all(isinstance(n, str) for n in given):
        raise _refusal(web.HTTPBadRequest, f"policies: expected a list of some of {allowed}")
    other = next((n for n in given if n not in POLICIES), None)
    if other is not None:
        raise _refusal(
            web.HTTPBadRequest,
            f"policies: {_shown(other)} is not one the page runs (it runs {allowed})",
        )
    return list(dict.fromkeys(given))


def _render(csrf: str, files: Sequence[dict[str, Any]]) -> str:
    """The page's HTML: its files, kinds and policies to choose, and room for the result."""
    items = "".join(_file_item(file) for file in files)
    policies = "".join(
        f'<label title="{escape(POLICY_SUMMARIES[name])}"><input type="checkbox" name="policy"'
        f' value="{escape(name)}"{" checked" if name in DEFAULT_POLICIES else ""}>'
        f" {escape(name)}</label>"
        for name in POLICIES
    )
    body = f"""<main class="evals">
  <header><h2>Evals as pictures</h2><span id="status" class="status" role="status"></span></header>
  <form id="run-form">
    <fieldset id="file-choice">
      <legend>File</legend>
      <ul id="files">{items}</ul>
      <p id="no-files" class="hint"{" hidden" if files else ""}>No files yet: put .jsonl, .json
        or .csv files in evals/ of the data folder, or upload one.</p>
      <label class="hint">Upload a file (.jsonl, .json or .csv, at most
        {MAX_UPLOAD >> 20} MiB): <input id="upload" type="file" accept=".jsonl,.json,.csv"></label>
    </fieldset>
    <fieldset>
      <legend>Evaluation</legend>
      <label><input type="radio" name="kind" value="turns" checked> turns: who speaks next
        (who-accuracy, NOBODY precision/recall/F1, latency)</label>
      <fieldset id="policies" class="choices">{policies}</fieldset>
      <p class="hint">The baselines {", ".join(BASELINES)} always run beside the policies;
        at most the first {MAX_TURNS_CONVERSATIONS} conversations of a file are measured.</p>
      <label><input type="radio" name="kind" value="memory"> memory: recall@k of
        long-term memory ({", ".join(f"@{k}" for k in MEMORY_KS)}), with its default
        settings, over at most the first {MAX_MEMORY_CONVERSATIONS} conversations</label>
    </fieldset>
    <button id="run" type="submit">Run</button>
  </form>
  <p id="error" class="error" role="alert" hidden></p>
  <section id="result" aria-live="polite" hidden>
    <p id="summary"></p>
    <figure id="chart"></figure>
    <table id="table"><thead></thead><tbody></tbody></table>
  </section>
</main>
<script src="/evals/evals.js"></script>"""
    return frame(
        title="evals",
        csrf=csrf,
        nav=f'<ul><li><a href="/">Rooms</a></li>{tool_links("/evals")}</ul>',
        body=body,
        body_class="evals",
        head=f"<style>{_CSS}</style>",
    )


def _file_item(file: dict[str, Any]) -> str:
    """One file of the list: a choice by its name, with its size."""
    name = escape(file["name"])
    return (
        f'<li><label><input type="radio" name="file" value="{name}"'
        f' data-kinds="{escape(" ".join(file["kinds"]))}"> {name}</label>'
        f' <span class="size">{escape(file["size"])}</span></li>'
    )


def eval_routes(data_dir: Path, guard_csrf: str) -> list[web.RouteDef]:
    """The evals page and its API over ``data_dir / "evals"``; ``guard_csrf`` is the CSRF
    token the page embeds and sends back with every change.

    ``GET /evals`` (the page), ``GET /evals/evals.js`` (its script), ``POST
    /api/evals/run`` and ``POST /api/evals/upload``.
    """
    evals = _EvalsPage(data_dir / "evals", guard_csrf)
    return [
        web.get("/evals", evals.page),
        web.get("/evals/evals.js", evals.script),
        web.post("/api/evals/run", evals.run),
        web.post("/api/evals/upload", evals.upload),
    ]

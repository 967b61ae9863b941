"""The playground's evals page on an aiohttp app of its own: it lists the files of the
evals folder, runs ``eval turns`` and ``eval memory`` on them with the figures the
evaluations themselves give, refuses every name that leads elsewhere without opening it,
takes bounded uploads, names a broken file, and shows the chart and table in Chromium."""

from __future__ import annotations

import asyncio
import functools
import os
import re
import shutil
import sys
import threading
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from botkit.adapters.web import evals
from botkit.adapters.web.adapter import MAX_BODY
from botkit.adapters.web.evals import MAX_UPLOAD, MEMORY_KS, eval_routes
from botkit.adapters.web.security import Guard
from playwright.async_api import Page, expect

from botkit.backends.base import ChatBackend
from botkit.evaluation.locomo import read_locomo
from botkit.evaluation.memory_eval import evaluate_memory
from botkit.evaluation.turns_data import load_turns
from botkit.evaluation.turns_eval import evaluate_turns
from botkit.evaluation.turns_policies import BASELINES, build_policy
from botkit.memory.settings import MemorySettings
from tests.support.browser import screenshot

ROOT = Path(__file__).resolve().parents[3]
TURNS_DEV = ROOT / "bench" / "data" / "turns-dev.jsonl"
LOCOMO_SMALL = ROOT / "tests" / "evaluation" / "data" / "locomo_small.json"
MEMORY_DEV = ROOT / "bench" / "data" / "memory-dev.json"
SVG = "{http://www.w3.org/2000/svg}"
POLICIES = ["scoring", "round-robin"]


@dataclass(frozen=True, slots=True)
class Served:
    """The evals routes served on 127.0.0.1: where, the folder they read, an HTTP session
    and the page's CSRF token."""

    url: str
    folder: Path
    session: aiohttp.ClientSession
    csrf: str

    async def run(self, **body: Any) -> tuple[int, dict[str, Any]]:
        """POST /api/evals/run; the status and the JSON answer."""
        headers = {"X-CSRF-Token": self.csrf}
        async with self.session.post(f"{self.url}/api/evals/run", json=body, headers=headers) as r:
            return r.status, await r.json()

    async def upload(
        self, data: bytes, filename: str, *, csrf: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """POST /api/evals/upload with ``data`` as the form's file; status and JSON answer."""
        form = aiohttp.FormData()
        form.add_field("file", data, filename=filename)
        headers = {"X-CSRF-Token": self.csrf if csrf is None else csrf}
        async with self.session.post(
            f"{self.url}/api/evals/upload", data=form, headers=headers
        ) as answer:
            json_body = answer.content_type == "application/json"
            return answer.status, await answer.json() if json_body else {}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The dev turn-taking set and the small LoCoMo file in ``evals/``; the routes served
    behind the playground's guard, with the playground's request size limit."""
    folder = tmp_path / "evals"
    folder.mkdir()
    shutil.copy(TURNS_DEV, folder)
    shutil.copy(LOCOMO_SMALL, folder)
    guard = Guard(None)
    app = web.Application(middlewares=[guard.middleware], client_max_size=MAX_BODY)
    app.add_routes(eval_routes(tmp_path, guard.csrf))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{url}/evals") as page:
                found = re.search(r'<meta name="csrf" content="([^"]+)">', await page.text())
            assert found is not None and found.group(1) == guard.csrf
            yield Served(url, folder, session, guard.csrf)
    finally:
        await runner.cleanup()


_recording: list[tuple[str, list[str]]] = []
"""While a test records: the folder it watches, and the files opened under it."""


def _record_open(event: str, args: tuple[Any, ...]) -> None:
    """An audit hook: note each file opened under the watched folder, by its real path."""
    if event == "open" and _recording and isinstance(args[0], str | bytes | os.PathLike):
        folder, found = _recording[-1]
        path = os.path.realpath(os.fsdecode(args[0]))
        if path.startswith(folder):
            found.append(path)


@functools.cache
def _watch_opens() -> None:
    """Install :func:`_record_open` once (audit hooks cannot be removed)."""
    sys.addaudithook(_record_open)


@pytest.fixture
def opened(tmp_path: Path) -> Iterator[list[str]]:
    """Every file under ``tmp_path`` the process opens during the test, by its real path."""
    _watch_opens()
    _recording.append((os.path.realpath(tmp_path) + os.sep, []))
    try:
        yield _recording[-1][1]
    finally:
        _recording.pop()


def no_backend() -> ChatBackend:
    """No policy measured here calls a model."""
    raise AssertionError("no backend in these tests")


async def test_the_page_lists_the_files_of_the_evals_folder(served: Served, tmp_path: Path) -> None:
    (served.folder / "notes.txt").write_text("not offered")
    (served.folder / ".hidden.jsonl").write_text("not offered")
    (tmp_path / "outside.jsonl").write_text("not offered")
    (served.folder / "away.jsonl").symlink_to(tmp_path / "outside.jsonl")
    async with served.session.get(f"{served.url}/evals") as page:
        assert page.status == 200
        html = await page.text()
    names = re.findall(r'name="file" value="([^"]+)"', html)
    assert names == ["locomo_small.json", "turns-dev.jsonl"]
    assert 'data-kinds="turns memory"' in html and 'data-kinds="turns"' in html
    assert re.findall(r'name="policy" value="([^"]+)"', html) == [
        "scoring",
        "round-robin",
        "manual",
    ]
    async with served.session.get(f"{served.url}/evals/evals.js") as script:
        assert script.status == 200
        assert "X-CSRF-Token" in await script.text()


async def test_turns_gives_a_bar_per_policy_and_baseline_and_the_evals_own_figures(
    served: Served,
) -> None:
    status, answer = await served.run(file="turns-dev.jsonl", kind="turns", policies=POLICIES)
    assert status == 200, answer
    root = ET.fromstring(answer["svg"])
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    [who] = [g for g in root.iter(f"{SVG}g") if "who" in g.get("class", "").split()]
    bars = [r for r in who.iter(f"{SVG}rect") if "bar" in r.get("class", "").split()]
    assert len(bars) == len(POLICIES) + len(BASELINES)
    assert sum("baseline" in r.get("class", "").split() for r in bars) == len(BASELINES)

    policies = [
        (name, build_policy(name, seed=0, backend=no_backend, timeout=1.0))
        for name in [*POLICIES, *BASELINES]
    ]
    expected = await evaluate_turns(load_turns(TURNS_DEV), policies)
    table = answer["table"]
    assert [row["name"] for row in table] == [s.name for s in expected.scores]
    assert [row["baseline"] for row in table] == [False] * 2 + [True] * 3
    for row, score in zip(table, expected.scores, strict=True):
        assert row["who_accuracy"] == score.who_accuracy
        assert row["nobody_precision"] == score.nobody_precision
        assert row["nobody_recall"] == score.nobody_recall
        assert row["nobody_f1"] == score.nobody_f1
        assert row["p50_ms"] >= 0 and row["p99_ms"] >= row["p50_ms"]
    assert [c["key"] for c in answer["columns"]] == [
        "name",
        "who_accuracy",
        "nobody_precision",
        "nobody_recall",
        "nobody_f1",
        "p50_ms",
        "p99_ms",
    ]
    assert answer["summary"].startswith("turns-dev.jsonl, read as botkit's JSON Lines: 24 ")


async def test_memory_gives_a_line_per_ranking_and_the_evals_own_recall(served: Served) -> None:
    status, answer = await served.run(file="locomo_small.json", kind="memory")
    assert status == 200, answer
    root = ET.fromstring(answer["svg"])
    assert root.get("role") == "img"
    expected = await evaluate_memory(
        read_locomo(LOCOMO_SMALL), ks=MEMORY_KS, settings=MemorySettings()
    )
    assert len(list(root.iter(f"{SVG}polyline"))) == len(expected.variants)
    table = answer["table"]
    assert [row["name"] for row in table] == [v.name for v in expected.variants]
    for row, variant in zip(table, expected.variants, strict=True):
        assert {k: row[f"recall@{k}"] for k in MEMORY_KS} == variant.recall
    assert table[-1]["baseline"] is True
    assert "read as LoCoMo" in answer["summary"]


@pytest.mark.parametrize(
    "name",
    [
        "../secret.jsonl",
        "../evals/../secret.jsonl",
        "/etc/passwd",
        "..\\secret.jsonl",
        "sub/turns-dev.jsonl",
        "..",
        ".secret.jsonl",
        "link.jsonl",
        "secret.txt",
        "missing.jsonl",
    ],
)
async def test_a_name_that_leads_elsewhere_is_refused_and_never_opened(
    served: Served, tmp_path: Path, opened: list[str], name: str
) -> None:
    secret = tmp_path / "secret.jsonl"
    shutil.copy(TURNS_DEV, secret)
    (served.folder / "link.jsonl").symlink_to(secret)
    (served.folder / ".secret.jsonl").symlink_to(secret)
    (served.folder / "sub").mkdir()
    shutil.copy(TURNS_DEV, served.folder / "sub")
    (served.folder / "secret.txt").write_text("not offered")
    opened.clear()
    status, answer = await served.run(file=name, kind="turns")
    assert status in (400, 404)
    assert "\n" not in answer["error"] and str(tmp_path) not in answer["error"]
    assert opened == []
    status, _ = await served.run(file="turns-dev.jsonl", kind="turns")
    assert status == 200
    assert [Path(path).name for path in opened] == ["turns-dev.jsonl"]


async def test_an_upload_lands_in_the_folder_under_a_plain_name(served: Served) -> None:
    data = MEMORY_DEV.read_bytes()
    assert len(data) > MAX_BODY
    status, answer = await served.upload(data, "../../elsewhere/memory dev.json", csrf="forged")
    assert status == 403
    status, answer = await served.upload(data, "../../elsewhere/memory dev.json")
    assert status == 200, answer
    assert answer["name"] == "memory-dev.json"
    assert (served.folder / "memory-dev.json").read_bytes() == data
    assert [f["name"] for f in answer["files"]] == [
        "locomo_small.json",
        "memory-dev.json",
        "turns-dev.jsonl",
    ]
    assert not (served.folder.parent / "elsewhere").exists()

    status, answer = await served.upload(b"x", "notes.txt")
    assert status == 400 and answer["error"].startswith("notes.txt: ")
    status, answer = await served.upload(b"x" * (MAX_UPLOAD + 1), "huge.jsonl")
    assert status == 413 and answer["error"].startswith("huge.jsonl: ")
    assert sorted(p.name for p in served.folder.iterdir()) == [
        "locomo_small.json",
        "memory-dev.json",
        "turns-dev.jsonl",
    ]
    status, answer = await served.run(file="memory-dev.json", kind="turns")
    assert status == 400 and answer["error"].startswith("memory-dev.json: ")


async def test_a_broken_file_or_request_gives_a_400_naming_it(
    served: Served, tmp_path: Path
) -> None:
    (served.folder / "broken.jsonl").write_text('{"id": "x", "characters": []}\nnot json\n')
    (served.folder / "broken.json").write_bytes(b"\xff\xfe not text")
    (served.folder / "empty.csv").write_text("Utterance,Speaker\n")
    cases = [
        ({"file": "broken.jsonl", "kind": "turns"}, "broken.jsonl:1: characters: "),
        ({"file": "broken.json", "kind": "memory"}, "broken.json: not UTF-8"),
        ({"file": "broken.json", "kind": "turns"}, "broken.json: not UTF-8"),
        ({"file": "empty.csv", "kind": "turns"}, "empty.csv: Dialogue_ID: missing column"),
        ({"file": "turns-dev.jsonl", "kind": "memory"}, "turns-dev.jsonl: memory reads "),
        ({"file": "turns-dev.jsonl", "kind": "turns", "policies": ["model"]}, "policies: "),
        ({"file": "turns-dev.jsonl", "kind": "turns", "policies": []}, "policies: "),
        ({"file": "turns-dev.jsonl", "kind": "speed"}, "kind: "),
        ({"kind": "turns"}, "file: "),
    ]
    for body, start in cases:
        status, answer = await served.run(**body)
        assert status == 400, body
        assert answer["error"].startswith(start), answer
        assert "\n" not in answer["error"] and str(tmp_path) not in answer["error"]
    headers = {"X-CSRF-Token": served.csrf}
    url = f"{served.url}/api/evals/run"
    async with served.session.post(url, data="not json", headers=headers) as answer:
        assert answer.status == 400
    async with served.session.post(url, json={"file": "turns-dev.jsonl"}) as answer:
        assert answer.status == 403


async def test_one_run_at_a_time_and_none_past_its_time(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    started, release = threading.Event(), threading.Event()
    measure = evals.evaluate_turns

    async def held(*args: Any, **kwargs: Any) -> Any:
        started.set()
        await asyncio.to_thread(release.wait, 30)
        return await measure(*args, **kwargs)

    monkeypatch.setattr(evals, "evaluate_turns", held)
    first = asyncio.create_task(served.run(file="turns-dev.jsonl", kind="turns"))
    assert await asyncio.to_thread(started.wait, 30)
    status, answer = await served.run(file="turns-dev.jsonl", kind="turns")
    assert status == 409 and "another evaluation is running" in answer["error"]
    release.set()
    status, _ = await first
    assert status == 200

    monkeypatch.setattr(evals, "RUN_SECONDS", 0.0)
    status, answer = await served.run(file="turns-dev.jsonl", kind="turns")
    assert status == 400
    assert answer["error"] == "turns-dev.jsonl: stopped after 0 s; try a smaller file"


async def test_the_page_runs_an_eval_and_shows_its_chart_and_table_in_a_browser(
    browser_page: Page, served: Served, tmp_path: Path
) -> None:
    policies = [
        (name, build_policy(name, seed=0, backend=no_backend, timeout=1.0))
        for name in [*POLICIES, *BASELINES]
    ]
    expected = await evaluate_turns(load_turns(TURNS_DEV), policies)
    scoring = expected.scores[0]
    assert scoring.name == "scoring" and scoring.who_accuracy is not None
    bars = sum((s.who_accuracy is not None) + (s.nobody_f1 is not None) for s in expected.scores)
    page = browser_page
    await page.goto(f"{served.url}/evals")
    await expect(page.locator("#files li")).to_have_count(2)
    await page.get_by_label("turns-dev.jsonl").check()
    await expect(page.locator("input[name=kind][value=memory]")).to_be_disabled()
    await page.click("#run")
    chart = page.locator("#chart svg[role=img]")
    await expect(chart).to_be_visible(timeout=30_000)
    await expect(chart.locator("rect.bar")).to_have_count(bars)
    rows = page.locator("#table tbody tr")
    await expect(rows).to_have_count(len(POLICIES) + len(BASELINES))
    await expect(page.locator("#table thead th")).to_have_text(
        ["policy", "who-accuracy", "NOBODY P", "NOBODY R", "NOBODY F1", "p50 ms", "p99 ms"]
    )
    await expect(page.locator("#table tr[data-name=random] td").first).to_have_text(
        "random (baseline)"
    )
    await expect(page.locator("#table tr[data-name=scoring] td").nth(1)).to_have_text(
        f"{scoring.who_accuracy * 100:.1f}%"
    )
    await expect(page.locator("#error")).to_be_hidden()
    await screenshot(page, tmp_path / "evals.png")

    broken = tmp_path / "broken turns.jsonl"
    broken.write_text("not json\n")
    await page.set_input_files("#upload", str(broken))
    await expect(page.locator("#files li")).to_have_count(3)
    await expect(page.get_by_label("broken-turns.jsonl")).to_be_checked()
    await page.click("#run")
    await expect(page.locator("#error")).to_have_text(
        re.compile(r"^broken-turns\.jsonl:1: not valid JSON")
    )

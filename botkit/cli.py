"""The ``botkit`` command: chat in the terminal, run adapters, check characters, evaluate."""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from botkit import __version__
from botkit.cards.formats import FORMATS
from botkit.evaluation.corpus_formats import CORPUS_FORMATS
from botkit.log_format import configure_logging
from botkit.policy_catalog import POLICY_SUMMARIES

if TYPE_CHECKING:
    from botkit.backends.base import ChatBackend
    from botkit.config import Config
    from botkit.evaluation.memory_data import EvalDataset
    from botkit.evaluation.memory_eval import MemoryEvalResult
    from botkit.evaluation.turns_data import TurnsConversation
    from botkit.evaluation.turns_eval import TurnsEvalResult
    from botkit.pack_install import PackInstaller

__all__ = ["main"]

log = logging.getLogger("botkit")

_OPERATOR_ERRORS = (
    ("botkit.app", "ConfigurationError"),
    ("botkit.backends.model_files", "ModelNotFound"),
    ("botkit.cards.convert", "CardConversionError"),
    ("botkit.characters.errors", "CharacterValidationError"),
    ("botkit.config", "ConfigError"),
    ("botkit.evaluation.memory_data", "DatasetError"),
    ("botkit.memory.embeddings", "EmbeddingError"),
    ("botkit.memory.vectors", "VectorIndexError"),
    ("botkit.pack_install.errors", "PackError"),
    ("botkit.plugin_loader", "PluginError"),
    ("botkit.store.store", "StoreError"),
)
"""The errors shown to the operator as one ``botkit: error:`` line each, by module and name.

The commands import what they use when they run, so these are looked up only among the
modules already loaded: an error class whose module was never imported was never raised."""

_MEMORY_FORMATS = ("json", "locomo")
"""How ``eval memory`` can read its file, by ``--format``."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the process exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    configure_logging(args.verbose, json_lines=args.log_json)
    try:
        code: int = args.func(args)
        return code
    except _operator_errors() as error:
        for line in str(error).splitlines() or [""]:
            print(f"botkit: error: {line}", file=sys.stderr)
        log.debug("details", exc_info=True)
        return 1
    except KeyboardInterrupt:
        return 130


def _operator_errors() -> tuple[type[Exception], ...]:
    """The error classes of :data:`_OPERATOR_ERRORS` whose modules are loaded, and OSError."""
    found: list[type[Exception]] = [OSError]
    for module_name, class_name in _OPERATOR_ERRORS:
        module = sys.modules.get(module_name)
        error = getattr(module, class_name, None)
        if isinstance(error, type) and issubclass(error, Exception):
            found.append(error)
    return tuple(found)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="botkit", description="Role-play characters as chat bots, in a group."
    )
    parser.add_argument("--version", action="version", version=f"botkit {__version__}")
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="more log output (-vv: debug, -vvv: libraries' debug too)",
    )
    parser.add_argument("--log-json", action="store_true", help="log one JSON object per line")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    chat = commands.add_parser("chat", help="group chat with the characters in this terminal")
    chat.add_argument("--config", type=Path, help="config file (backends, packs, limits)")
    chat.add_argument("--pack", type=Path, action="append", help="character pack folder")
    chat.add_argument("--cast", help="comma-separated character ids to start with")
    chat.add_argument("--data-dir", type=Path, help="where the chat history is kept")
    chat.add_argument("--name", help="your name in the chat")
    chat.add_argument("--seed", type=int, help="seed for reproducible replies")
    chat.set_defaults(func=_chat)

    web = commands.add_parser("web", help="the cast in a browser, with why each one spoke")
    web.add_argument("--config", type=Path, help="config file (backends, packs, limits)")
    web.add_argument("--pack", type=Path, action="append", help="character pack folder")
    web.add_argument("--data-dir", type=Path, help="where the chat history is kept")
    web.add_argument("--host", help="address to serve on (default 127.0.0.1)")
    web.add_argument("--port", type=int, help="port to serve on (default 8765)")
    web.set_defaults(func=_web)

    run = commands.add_parser("run", help="start the adapters a config file names")
    run.add_argument("--config", type=Path, required=True, help="config file")
    run.set_defaults(func=_run)

    characters = commands.add_parser("characters", help="work with character files")
    character_commands = characters.add_subparsers(required=True, metavar="ACTION")
    check = character_commands.add_parser("check", help="validate character files or packs")
    check.add_argument("paths", type=Path, nargs="+", metavar="PATH")
    check.set_defaults(func=_check)
    preview = character_commands.add_parser(
        "preview", help="print the prompt a character gets in a sample scene, with token counts"
    )
    preview.add_argument("name", metavar="NAME", help="character id, name or nickname")
    preview.add_argument("--pack", type=Path, help="pack folder (default: the shipped pack)")
    preview.add_argument("--scene", default="", help="scene text, as /scene sets it")
    preview.add_argument(
        "--backend",
        choices=("tiktoken", "embedded"),
        default="tiktoken",
        help="count tokens with tiktoken (default, fast) or the embedded model's tokenizer",
    )
    preview.set_defaults(func=_preview)
    card_in = character_commands.add_parser(
        "import", help="turn a Character Card (V1/V2/V3 JSON, PNG or CHARX) into character YAML"
    )
    card_in.add_argument("file", type=Path, metavar="FILE")
    card_in.add_argument("--out", type=Path, default=Path("."), help="folder (default: here)")
    card_in.add_argument("--id", help="character id (default: made from the name)")
    card_in.add_argument("--force", action="store_true", help="replace an existing file")
    card_in.set_defaults(func=_import_card)
    card_out = character_commands.add_parser(
        "export", help="write a character YAML file back as a Character Card"
    )
    card_out.add_argument("file", type=Path, metavar="FILE.yaml")
    card_out.add_argument("--format", choices=FORMATS, default="json", help="default: json")
    card_out.add_argument(
        "--spec", choices=("v1", "v2", "v3"), help="default: the one it was imported from"
    )
    card_out.add_argument("--out", type=Path, required=True, help="card file to write")
    card_out.set_defaults(func=_export_card)

    _pack_parser(commands.add_parser("pack", help="install character packs from git or folders"))
    plugins = commands.add_parser("plugins", help="the plugins botkit loads")
    plugin_actions = plugins.add_subparsers(required=True, metavar="ACTION")
    plugin_list = plugin_actions.add_parser(
        "list", help="each plugin, where it comes from and what it registers"
    )
    plugin_list.add_argument("--config", type=Path, help="config file (plugins.folders)")
    plugin_list.set_defaults(func=_list_plugins)

    evaluate = commands.add_parser("eval", help="measure botkit's parts on a dataset")
    evaluations = evaluate.add_subparsers(required=True, metavar="PART")
    memory = evaluations.add_parser("memory", help="recall@k and latency of long-term memory")
    memory.add_argument("file", type=Path, nargs="?", metavar="FILE", help="dataset file")
    memory.add_argument("--data", type=Path, help="dataset file (instead of FILE)")
    memory.add_argument(
        "--format",
        choices=_MEMORY_FORMATS,
        default="json",
        help="how to read the file: botkit's JSON (default) or LoCoMo's locomo10.json as released",
    )
    memory.add_argument("--k", default="1,5,10", help="comma-separated cut-offs (default 1,5,10)")
    memory.add_argument(
        "--split",
        type=int,
        metavar="N",
        help="also score conversations [0, N) (fit) and [N, end) (report) apart",
    )
    memory.add_argument("--json", action="store_true", help="print one JSON object")
    memory.add_argument(
        "--config", type=Path, help="config file whose memory settings (and backends) to use"
    )
    memory.add_argument(
        "--observe",
        action="store_true",
        help="then have the default backend write observations on each session and score "
        "the ranking with them too",
    )
    memory.set_defaults(func=_eval_memory)
    turns = evaluations.add_parser(
        "turns", help="who-accuracy, NOBODY precision/recall/F1, decision accuracy, latency"
    )
    turns.add_argument("--data", type=Path, required=True, help="conversations file")
    turns.add_argument(
        "--format",
        choices=CORPUS_FORMATS,
        default="jsonl",
        help="how to read --data: botkit's JSON Lines (default) or a public corpus as released",
    )
    turns.add_argument(
        "--policy",
        action="append",
        required=True,
        help=f"policy to measure: {', '.join(POLICY_SUMMARIES)} (repeat, or comma-separate)",
    )
    turns.add_argument(
        "--limit", type=int, help="measure only the first N conversations of the file"
    )
    turns.add_argument("--json", action="store_true", help="print one JSON object")
    turns.add_argument(
        "--config",
        type=Path,
        help="config file whose backends the likelihood and model policies use",
    )
    turns.add_argument("--seed", type=int, default=0, help="seed for the random baseline")
    turns.set_defaults(func=_eval_turns)
    return parser


def _pack_parser(pack: argparse.ArgumentParser) -> None:
    actions = pack.add_subparsers(required=True, metavar="ACTION")
    where = argparse.ArgumentParser(add_help=False)
    where.add_argument("--config", type=Path, help="config file whose data_dir to use")
    where.add_argument("--data-dir", type=Path, help="where packs and packs.lock are kept")
    install = actions.add_parser(
        "install", parents=[where], help="install a pack from a git URL or a folder"
    )
    install.add_argument("source", metavar="SOURCE[@REF]", help="git URL or folder, @tag/branch")
    install.set_defaults(func=_pack_install)
    listing = actions.add_parser("list", parents=[where], help="the installed packs")
    listing.set_defaults(func=_pack_list)
    update = actions.add_parser(
        "update", parents=[where], help="update packs to their ref's newest commit"
    )
    update.add_argument(
        "name", nargs="?", metavar="NAME[@REF]", help="one pack (default: all); @REF moves it"
    )
    update.set_defaults(func=_pack_update)
    remove = actions.add_parser("remove", parents=[where], help="uninstall a pack")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(func=_pack_remove)


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _chat(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.config import load_config, parse_config

    config = load_config(args.config) if args.config else parse_config({})
    console = dict(config.adapters.get("console", {}))
    if args.name:
        console["user_name"] = args.name
    conversation = config.conversation
    if args.cast:
        ids = tuple(part.strip() for part in args.cast.split(",") if part.strip())
        conversation = dataclasses.replace(conversation, default_cast=ids)
    backends = dict(config.backends)
    if args.seed is not None:
        backends = {
            name: dataclasses.replace(b, options={"seed": args.seed, **b.options})
            if b.type == "llamacpp"
            else b
            for name, b in backends.items()
        }
    config = dataclasses.replace(
        config,
        adapters={"console": console},
        packs=tuple(args.pack) if args.pack else config.packs,
        data_dir=args.data_dir or config.data_dir,
        conversation=conversation,
        backends=backends,
    )
    return asyncio.run(_serve(config))


def _web(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.config import load_config, parse_config

    config = load_config(args.config) if args.config else parse_config({})
    web = dict(config.adapters.get("web", {}))
    if args.host:
        web["host"] = args.host
    if args.port is not None:
        web["port"] = args.port
    config = dataclasses.replace(
        config,
        adapters={"web": web},
        packs=tuple(args.pack) if args.pack else config.packs,
        data_dir=args.data_dir or config.data_dir,
    )
    _progress(f"Open http://{web.get('host', '127.0.0.1')}:{web.get('port', 8765)}/ in a browser.")
    return asyncio.run(_serve(config))


def _run(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.config import load_config

    return asyncio.run(_serve(load_config(args.config)))


async def _serve(config: Config) -> int:
    from botkit.app import App
    from botkit.redaction import install_redaction, secrets_in

    install_redaction(secrets_in(config))
    async with App(config, progress=_progress) as app:
        await app.run()
    return 0


def _list_plugins(args: argparse.Namespace) -> int:
    from botkit.command_registry import CommandRegistry
    from botkit.config import Config, default_data_dir, load_config
    from botkit.plugin_loader import PluginError, load_plugins

    config = load_config(args.config) if args.config else Config(data_dir=default_data_dir())
    loaded = load_plugins(config.plugin_folders, config.disabled_plugins)
    for entry in loaded:
        plugin = entry.plugin
        print(f"{plugin.name} ({entry.source})" + (f": {plugin.summary}" if plugin.summary else ""))
        for registered in plugin.registrations():
            print(f"  {registered}")
    if config.disabled_plugins:
        print("disabled: " + ", ".join(sorted(config.disabled_plugins)))
    try:
        CommandRegistry.of(entry.plugin for entry in loaded)
    except ValueError as error:
        raise PluginError(f"plugins: {error}") from error
    return 0


def _check(args: argparse.Namespace) -> int:
    from botkit.characters import check_paths

    problems = check_paths(args.paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s) found", file=sys.stderr)
        return 1
    print("all characters are valid", file=sys.stderr)
    return 0


def _preview(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.preview import preview

    try:
        text = asyncio.run(
            preview(args.name, pack=args.pack, scene=args.scene, counter=args.backend)
        )
    except LookupError as error:
        print(f"botkit: error: {error.args[0]}", file=sys.stderr)
        return 1
    print(text)
    return 0


def _import_card(args: argparse.Namespace) -> int:
    from botkit.cards.convert import import_card

    done = import_card(args.file, args.out, character_id=args.id, overwrite=args.force)
    for path in (done.path, *done.files):
        _progress(f"wrote {path}")
    _progress(
        f"imported {done.character_id}; `botkit chat --pack {args.out} --cast "
        f"{done.character_id}` talks with it"
    )
    return 0


def _export_card(args: argparse.Namespace) -> int:
    from botkit.cards.convert import export_card

    done = export_card(args.file, args.out, fmt=args.format, spec=args.spec)
    _progress(f"wrote {done.path} ({done.spec} card, {args.format})")
    return 0


def _installer(args: argparse.Namespace) -> PackInstaller:
    from botkit.config import load_config, parse_config
    from botkit.pack_install import PackInstaller

    data_dir = (
        args.data_dir or (load_config(args.config) if args.config else parse_config({})).data_dir
    )
    return PackInstaller(data_dir, progress=_progress)


def _pack_install(args: argparse.Namespace) -> int:
    import asyncio

    result = asyncio.run(_installer(args).install(args.source))
    _progress(result.describe())
    return 0


def _pack_update(args: argparse.Namespace) -> int:
    import asyncio

    for result in asyncio.run(_installer(args).update(args.name)):
        _progress(result.describe())
    return 0


def _pack_remove(args: argparse.Namespace) -> int:
    import asyncio

    entry = asyncio.run(_installer(args).remove(args.name))
    _progress(f"removed {entry.name} {entry.version}")
    return 0


def _pack_list(args: argparse.Namespace) -> int:
    installed = _installer(args).installed()
    if not installed:
        _progress("no packs are installed")
        return 0
    rows = [("NAME", "VERSION", "SOURCE", "REF", "COMMIT")] + [
        (e.name, e.version, e.source, e.ref or "-", e.short_commit) for e in installed
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[4]]))
    return 0


def _eval_turns(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.config import ConfigError, load_config, parse_config
    from botkit.evaluation.corpora import load_corpus
    from botkit.evaluation.turns_eval import format_turns_result, turns_result_json

    names = [n.strip() for value in args.policy for n in value.split(",") if n.strip()]
    unknown = [n for n in names if n not in POLICY_SUMMARIES]
    if unknown or not names:
        known, given = ", ".join(POLICY_SUMMARIES), ", ".join(unknown) or "none"
        raise ConfigError([f"--policy: expected {known}, got {given}"], "eval turns")
    if args.limit is not None and args.limit < 1:
        raise ConfigError([f"--limit: expected a positive number, got {args.limit}"], "eval turns")
    conversations = load_corpus(args.data, args.format)[: args.limit]
    config = load_config(args.config) if args.config else parse_config({})
    result = asyncio.run(
        _run_turns_eval(config, list(dict.fromkeys(names)), conversations, args.seed)
    )
    print(json.dumps(turns_result_json(result)) if args.json else format_turns_result(result))
    return 0


async def _run_turns_eval(
    config: Config, names: list[str], conversations: list[TurnsConversation], seed: int
) -> TurnsEvalResult:
    from botkit.backends.factory import build_backends
    from botkit.backends.llamacpp import LlamaCppBackend
    from botkit.evaluation.turns_eval import evaluate_turns
    from botkit.evaluation.turns_policies import BACKEND_POLICIES, BASELINES, build_policy

    backends: dict[str, ChatBackend] = {}
    uses_backend = bool(BACKEND_POLICIES & set(names))
    if uses_backend:
        backends = build_backends(config.backends)
    try:
        backend_name = config.scheduler.backend or config.default_backend
        if uses_backend:
            backend = backends[backend_name]
            if isinstance(backend, LlamaCppBackend):
                _progress(f"Loading model {backend.model_label} …")
                await backend.load()
        policies = [
            (
                name,
                build_policy(
                    name,
                    seed=seed,
                    backend=lambda: backends[backend_name],
                    timeout=config.scheduler.model_timeout,
                    likelihood_weight=config.scheduler.likelihood_weight,
                ),
            )
            for name in [*names, *BASELINES]
        ]
        return await evaluate_turns(conversations, policies, progress=_progress)
    finally:
        for backend in backends.values():
            await backend.aclose()


def _eval_memory(args: argparse.Namespace) -> int:
    import asyncio

    from botkit.config import ConfigError, load_config, parse_config
    from botkit.evaluation.locomo import read_locomo
    from botkit.evaluation.memory_data import load_dataset
    from botkit.evaluation.memory_eval import format_result, result_json

    problems = []
    if (args.file is None) == (args.data is None):
        problems.append("FILE: give the dataset file once, as FILE or as --data FILE")
    try:
        ks = sorted({int(part) for part in args.k.split(",") if part.strip()})
    except ValueError:
        ks = []
    if not ks or ks[0] < 1:
        problems.append("--k: expected whole numbers above 0, such as 1,5,10")
    if problems:
        raise ConfigError(problems, "eval memory")
    config = load_config(args.config) if args.config else parse_config({})
    read = read_locomo if args.format == "locomo" else load_dataset
    dataset = read(args.file or args.data)
    last = len(dataset.conversations) - 1
    if args.split is not None and not 0 < args.split <= last:
        raise ConfigError(
            [f"--split: expected 1 to {last} for {last + 1} conversations, got {args.split}"],
            "eval memory",
        )
    result = asyncio.run(_run_memory_eval(config, dataset, ks, args.split, observe=args.observe))
    print(json.dumps(result_json(result)) if args.json else format_result(result))
    return 0


async def _run_memory_eval(
    config: Config, dataset: EvalDataset, ks: list[int], split: int | None, *, observe: bool
) -> MemoryEvalResult:
    from botkit.backends.factory import build_backends
    from botkit.backends.llamacpp import LlamaCppBackend
    from botkit.evaluation.memory_eval import ProgressBar, evaluate_memory

    backends = build_backends(config.backends) if observe else {}
    try:
        observer = backends.get(config.default_backend)
        if isinstance(observer, LlamaCppBackend):
            _progress(f"Loading model {observer.model_label} …")
            await observer.load()
        return await evaluate_memory(
            dataset,
            ks=ks,
            settings=config.memory,
            split=split,
            observer=observer,
            progress=ProgressBar(sys.stderr),
        )
    finally:
        for backend in backends.values():
            await backend.aclose()

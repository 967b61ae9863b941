"""Fuzzed character YAML, lorebooks and cards: a valid result or one-line errors, never a
traceback, always within bounded memory.

Runs derandomized with modest example counts, so it is deterministic and quick in CI.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botkit.cards.convert import CardConversionError, export_card, import_card
from botkit.cards.files import write_charx, write_png
from botkit.characters import check_paths, load_character
from botkit.characters.lorebooks import ENTRY_FIELDS
from tests.cards.test_files import tiny_png

T = TypeVar("T")
FUZZ = settings(
    max_examples=40,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
MEMORY_BOUND = 64 << 20
CHARACTER_FIELDS = (
    "persona",
    "description",
    "greeting",
    "examples",
    "knowledge",
    "lorebook",
    "talkativeness",
    "nicknames",
    "backend",
    "extensions",
    "card",
    "tags",
    "colour",
)
SNIPPETS = (
    "&a ",
    "*a",
    "[",
    "]",
    "{",
    "}",
    ": ",
    "- ",
    "? ",
    "\t",
    "'",
    '"',
    '"\\ud800"',
    "9" * 150,
    "!!python/object/apply:os.system ['true']",
    "<<: *a",
    "---\n",
    "\n  ",
    "&b [*a, *a, *a, *a, *a, *a, *a, *a]",
)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["", " ", "(a+)+$", "[", "before_char", "after_char", "9" * 5000]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@contextmanager
def bounded_memory() -> Iterator[None]:
    """Fail if the block allocates more than ``MEMORY_BOUND`` at its peak."""
    tracemalloc.start()
    try:
        yield
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < MEMORY_BOUND, f"peak {peak:,} bytes"


@contextmanager
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


def mutated(data: st.DataObject, text: str) -> str:
    """``text`` with a few hostile snippets put in at drawn places."""
    for _ in range(data.draw(st.integers(0, 3))):
        at = data.draw(st.integers(0, len(text)))
        text = text[:at] + data.draw(st.sampled_from(SNIPPETS)) + text[at:]
    return text


def document(fields: dict[str, Any]) -> str:
    return yaml.safe_dump(fields, allow_unicode=True, sort_keys=False)


def hostile_document(data: st.DataObject) -> str:
    """One of the shapes that used to crash or run away, with drawn sizes."""
    head = "id: mira\nname: Mira\npersona: [x]\n"
    kind = data.draw(st.sampled_from(["deep", "laughs", "surrogate", "number", "keys"]))
    if kind == "deep":
        depth = data.draw(st.integers(1, 3000))
        return head + "extensions: {a: " + "[" * depth + "]" * depth + "}\n"
    if kind == "laughs":
        levels, width = data.draw(st.integers(1, 10)), data.draw(st.integers(2, 8))
        lines = [head, "extensions:\n", "  l0: &l0 [lol, lol, lol, lol]\n"]
        lines += [
            f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * width)}]\n" for n in range(1, levels + 1)
        ]
        return "".join(lines)
    if kind == "surrogate":
        field = data.draw(st.sampled_from(["name", "greeting", "nicknames"]))
        escape = data.draw(st.sampled_from(["\\ud800", "\\udfff", "\\udcff"]))
        return head.replace("name: Mira\n", "") + f'{field}: ["{escape}"]\n'
    if kind == "number":
        digits = data.draw(st.integers(1, 6000))
        return head + "backend: {max_tokens: " + "9" * digits + "}\n"
    return head + "? " + data.draw(st.sampled_from(["[a]", "{a: b}", "*x", "&x k"])) + "\n: v\n"


def assert_valid_or_one_line(path: Path) -> None:
    """``check`` on ``path`` gives one-line problems, or a character that is valid text."""
    problems = check_paths([path])
    assert all("\n" not in str(problem) for problem in problems), problems
    if problems or not path.is_file():
        return
    character = load_character(path)
    json.dumps(dataclasses.asdict(character), default=str, ensure_ascii=False).encode("utf-8")


def run_bounded(work: Callable[[], T]) -> T:
    with bounded_memory():
        return work()


@FUZZ
@given(
    st.fixed_dictionaries(
        {"id": st.sampled_from(["mira", "Mira!", ""]), "name": values},
        optional={field: values for field in CHARACTER_FIELDS},
    ),
    st.data(),
)
def test_character_yaml(fields: dict[str, Any], data: st.DataObject) -> None:
    with folder() as tmp:
        path = tmp / "fuzzed.yaml"
        path.write_text(mutated(data, document(fields)), encoding="utf-8")
        run_bounded(lambda: assert_valid_or_one_line(path))


@settings(FUZZ, max_examples=20)
@given(st.data())
def test_hostile_character_yaml(data: st.DataObject) -> None:
    with folder() as tmp:
        path = tmp / "hostile.yaml"
        path.write_text(hostile_document(data), encoding="utf-8")
        run_bounded(lambda: assert_valid_or_one_line(path))
        out = tmp / "out.json"
        try:
            run_bounded(lambda: export_card(path, out))
        except CardConversionError as error:
            assert all(line.startswith(str(path)) for line in str(error).splitlines())
            assert not out.exists()


@FUZZ
@given(
    st.lists(
        st.fixed_dictionaries(
            {"content": values},
            optional={field: values for field in ENTRY_FIELDS if field != "content"},
        ),
        max_size=4,
    ),
    st.dictionaries(
        st.sampled_from(["name", "scan_depth", "token_budget", "recursive_scanning", "x"]), values
    ),
    st.data(),
)
def test_lorebooks(
    entries: list[dict[str, Any]], book: dict[str, Any], data: st.DataObject
) -> None:
    with folder() as tmp:
        (tmp / "pack.yaml").write_text(
            document(
                {"name": "p", "version": "1", "lorebooks": ["lore.yaml"], "characters": ["m.yaml"]}
            )
        )
        (tmp / "m.yaml").write_text("id: m\nname: M\npersona: [x]\n")
        text = mutated(data, document({**book, "entries": entries}))
        (tmp / "lore.yaml").write_text(text, encoding="utf-8")
        run_bounded(lambda: assert_valid_or_one_line(tmp))


card_data = st.fixed_dictionaries(
    {"name": st.one_of(st.text(max_size=12), values)},
    optional={
        key: values
        for key in (
            "description",
            "personality",
            "first_mes",
            "tags",
            "alternate_greetings",
            "extensions",
            "character_book",
            "nickname",
            "assets",
            "creator_notes",
        )
    },
)


def container(data: st.DataObject, card: dict[str, Any]) -> bytes:
    """``card`` in a drawn container (JSON, PNG or CHARX), perhaps with bytes damaged."""
    kind = data.draw(st.sampled_from(["json", "png", "charx"]))
    if kind == "json":
        raw = json.dumps(card, ensure_ascii=data.draw(st.booleans())).encode()
    elif kind == "png":
        raw = write_png(tiny_png(), {data.draw(st.sampled_from(["chara", "ccv3"])): card})
    else:
        names = data.draw(
            st.lists(st.sampled_from(["a.png", "a/b.png", "x/y", "card.json.bak", "."]), max_size=3)
        )
        raw = write_charx(card, {name: b"asset" for name in names if name != "."})
        if data.draw(st.booleans()):
            raw = raw.replace(b"\x08\x00", data.draw(st.sampled_from([b"\x63\x00", b"\x01\x00"])))
    damaged = bytearray(raw)
    for _ in range(data.draw(st.integers(0, 2))):
        at = data.draw(st.integers(0, max(0, len(damaged) - 1)))
        damaged[at : at + 1] = bytes([data.draw(st.integers(0, 255))])
    if data.draw(st.booleans()):
        damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    return bytes(damaged)


def assert_imports_cleanly(source: Path, out: Path, character_id: str | None) -> None:
    """An import either writes YAML that ``check`` accepts and that exports, or gives
    errors naming the card file and writes nothing."""
    try:
        done = import_card(source, out, character_id=character_id)
    except CardConversionError as error:
        lines = str(error).splitlines()
        assert lines and all(line.startswith(f"{source}: ") for line in lines), lines
        assert not out.exists() or list(out.iterdir()) == []
        return
    assert check_paths([done.path]) == []
    export_card(done.path, out / "again.json")


@FUZZ
@given(
    st.sampled_from(["chara_card_v2", "chara_card_v3", None, 3]),
    card_data,
    st.sampled_from([None, "mira", "Bad Id", "../x"]),
    st.data(),
)
def test_cards(
    spec: str | int | None, fields: dict[str, Any], character_id: str | None, data: st.DataObject
) -> None:
    card: dict[str, Any] = fields if spec is None else {"spec": spec, "data": fields}
    with folder() as tmp:
        source = tmp / "card.bin"
        source.write_bytes(container(data, card))
        run_bounded(lambda: assert_imports_cleanly(source, tmp / "out", character_id))


@FUZZ
@given(st.data())
def test_hostile_card_json(data: st.DataObject) -> None:
    depth = data.draw(st.integers(1, 20_000))
    digits = data.draw(st.integers(1, 6000))
    base = {"spec": "chara_card_v2", "data": {"name": "M", "description": "d"}}
    text = json.dumps(base)[:-2] + data.draw(
        st.sampled_from(
            [
                ', "extensions": {"x": ' + "[" * depth + "]" * depth + "}}}",
                ', "extensions": {"talkativeness": ' + "9" * digits + "}}}",
                ', "creator": "\\ud83d"}}',
                ', "tags": ["' + "\\u00e9" * 3 + '", ""]}}',
            ]
        )
    )
    with folder() as tmp:
        source = tmp / "hostile.json"
        source.write_text(text)
        if data.draw(st.booleans()):
            with zipfile.ZipFile(tmp / "hostile.charx", "w") as archive:
                archive.writestr("card.json", text)
            source = tmp / "hostile.charx"
        run_bounded(lambda: assert_imports_cleanly(source, tmp / "out", None))

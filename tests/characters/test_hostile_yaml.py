"""Hostile character YAML ends in one clear line per problem, with bounded work and memory."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from botkit.cards.convert import CardConversionError, export_card
from botkit.characters import check_paths, yaml_limits
from botkit.characters.yaml_limits import (
    MAX_DEPTH,
    MAX_NUMBER_DIGITS,
    MAX_YAML_BYTES,
)

HEAD = "id: mira\nname: Mira\npersona: [Mira runs the inn.]\n"
MEMORY_BOUND = 64 << 20
"""What any refused file may cost to read (the laughs below would take gigabytes)."""


def peak_bytes(work: Callable[[], Any]) -> int:
    """The most memory Python allocated while ``work`` ran."""
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def only_problem(path: Path) -> str:
    problems = [str(problem) for problem in check_paths([path])]
    assert len(problems) == 1, problems
    assert "\n" not in problems[0]
    return problems[0]


def laughs(levels: int, width: int = 10) -> str:
    """A "billion laughs" document: each level is ``width`` aliases of the one before."""
    lines = [HEAD, "extensions:\n", '  l0: &l0 ["lol", "lol", "lol", "lol", "lol"]\n']
    for level in range(1, levels + 1):
        aliases = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"  l{level}: &l{level} [{aliases}]\n")
    return "".join(lines)


def test_deep_nesting_is_one_line_not_a_recursion_traceback(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(HEAD + "extensions: {a: " + "[" * 700 + "]" * 700 + "}\n")
    assert only_problem(path) == f"{path}:4: values nest more than {MAX_DEPTH} levels deep"


def test_nesting_within_the_bound_still_loads(tmp_path: Path) -> None:
    path = tmp_path / "nested.yaml"
    depth = MAX_DEPTH - 3
    path.write_text(HEAD + "extensions: {a: " + "[" * depth + "]" * depth + "}\n")
    assert check_paths([path]) == []


def test_billion_laughs_is_refused_by_check_and_export_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(laughs(9))
    assert len(path.read_bytes()) < 1000
    problem: list[str] = []
    assert peak_bytes(lambda: problem.append(only_problem(path))) < MEMORY_BOUND
    assert "aliases copy more than" in problem[0]

    def export() -> None:
        with pytest.raises(CardConversionError, match="aliases copy more than"):
            export_card(path, tmp_path / "out.json")

    assert peak_bytes(export) < MEMORY_BOUND
    assert not (tmp_path / "out.json").exists()


def test_a_few_aliases_still_load(tmp_path: Path) -> None:
    path = tmp_path / "aliases.yaml"
    path.write_text(laughs(2))
    assert check_paths([path]) == []


def test_an_alias_inside_the_value_it_names_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(HEAD + "extensions: &loop {self: *loop}\n")
    assert only_problem(path).endswith("alias *loop is used inside the value it names")


def test_an_alias_cannot_nest_past_the_depth_bound(tmp_path: Path) -> None:
    half = MAX_DEPTH // 2 + 2
    path = tmp_path / "deep-alias.yaml"
    deep = "[" * half + "]" * half
    path.write_text(HEAD + f"extensions:\n  a: &a {deep}\n  b: {'[' * half}*a{']' * half}\n")
    assert "makes values nest more than" in only_problem(path)


@pytest.mark.parametrize("field", ["name", "persona", "greeting"])
def test_a_lone_surrogate_is_refused_where_it_is(tmp_path: Path, field: str) -> None:
    path = tmp_path / "surrogate.yaml"
    values = {"name": "Mira", "persona": "[Mira runs the inn.]", "greeting": "Hi"}
    values[field] = '"Mi\\ud800ra"' if field != "persona" else '["Mi\\ud800ra"]'
    path.write_text("id: mira\n" + "".join(f"{key}: {value}\n" for key, value in values.items()))
    line = 1 + list(values).index(field) + 1
    assert only_problem(path) == (
        f"{path}:{line}: text holds a lone surrogate ('\\ud800'), which is not valid Unicode text"
    )


def test_a_file_over_the_size_bound_is_refused_without_parsing_it(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_text(HEAD + "greeting: " + "x" * (3 * MAX_YAML_BYTES) + "\n")
    problem: list[str] = []
    assert peak_bytes(lambda: problem.append(only_problem(path))) < 2 * MAX_YAML_BYTES + (1 << 20)
    assert problem[0] == (
        f"{path}:1: cannot read the file: larger than {MAX_YAML_BYTES:,} bytes, "
        "the most botkit reads from one YAML file"
    )


def test_too_many_values_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(yaml_limits, "MAX_NODES", 1000)
    path = tmp_path / "many.yaml"
    path.write_text(HEAD + "tags:\n" + "- a\n" * 1000)
    assert only_problem(path).endswith(": more than 1,000 values in one file")


def test_an_overlong_number_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "number.yaml"
    path.write_text(HEAD + "backend: {max_tokens: " + "9" * 5000 + "}\n")
    assert only_problem(path) == f"{path}:4: a number longer than {MAX_NUMBER_DIGITS} digits"


def test_a_lorebook_id_with_an_overlong_number_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "book.yaml"
    path.write_text(HEAD + "lorebook:\n  entries:\n    - {content: x, id: " + "9" * 5000 + "}\n")
    assert only_problem(path).endswith(f"a number longer than {MAX_NUMBER_DIGITS} digits")


def test_a_mapping_as_a_field_name_is_a_problem(tmp_path: Path) -> None:
    path = tmp_path / "key.yaml"
    path.write_text(HEAD + "? [a, b]\n: c\n")
    assert only_problem(path).endswith("expected a field name, found a list")

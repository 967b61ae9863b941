"""Character and pack loading: every kind of error names file, line, field and expectation."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from botkit.characters import (
    CharacterRegistry,
    CharacterValidationError,
    check_paths,
    default_pack_path,
    load_character,
    load_pack,
)

VALID = """\
id: mira
name: Mira
summary: the innkeeper
persona:
  - Mira runs the inn.
  - She loves gossip.
style: Warm.
greeting: Come in!
avatar: https://example.invalid/mira.png
color: "#ffcc00"
examples:
  - user: Any news?
    reply: Plenty, love.
knowledge:
  - text: The inn has six rooms.
  - keys: [lighthouse]
    text: The keeper vanished.
as_of: the spring of year 12
talkativeness: 0.8
nicknames: [innkeeper]
backend: {use: local, model: small, temperature: 0.9, top_p: 0.95, max_tokens: 80}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def problems_of(path: Path) -> list[str]:
    with pytest.raises(CharacterValidationError) as caught:
        load_character(path)
    return [str(problem) for problem in caught.value.problems]


def test_every_field_loads(tmp_path: Path) -> None:
    character = load_character(write(tmp_path, "mira.yaml", VALID), setting="A foggy town.")
    assert character.id == "mira"
    assert character.persona == ("Mira runs the inn.", "She loves gossip.")
    assert character.examples[0].reply == "Plenty, love."
    assert [k.keys for k in character.knowledge] == [(), ("lighthouse",)]
    assert character.talkativeness == 0.8
    assert character.nicknames == ("innkeeper",)
    assert character.backend.use == "local"
    assert character.backend.max_tokens == 80
    assert character.color == "#ffcc00"
    assert character.as_of == "the spring of year 12"
    assert character.setting == "A foggy town."
    assert character.names == ("Mira", "mira", "innkeeper")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "id: mira\nname: [unclosed\n",
            "bad.yaml:3: invalid YAML: expected ',' or ']', but got '<stream end>' "
            "(while parsing a flow sequence on line 2)",
        ),
        ("- just\n- a list\n", "bad.yaml:1: expected a mapping, found a list"),
        (
            "id: mira\nname: Mira\n",
            "bad.yaml:1: persona: required field is missing (or give a description)",
        ),
        (
            "id: mira\nname: Mira\npersona: [a]\npersonalty: b\n",
            "bad.yaml:4: personalty: unknown field; did you mean 'personality'?",
        ),
        ("id: mira\nname: 42\npersona: [a]\n", "bad.yaml:2: name: expected text, found a number"),
        (
            "id: mira\nname: Mira\npersona: Mira runs the inn.\n",
            "bad.yaml:3: persona: expected a list, found text",
        ),
        (
            "id: mira\nname: Mira\npersona: [a]\ntalkativeness: 3\n",
            "bad.yaml:4: talkativeness: expected a number 0..1, found 3",
        ),
        ("id: mira\nname: '  '\npersona: [a]\n", "bad.yaml:2: name: expected non-empty text"),
        ("id: Mira Quell\nname: Mira\npersona: [a]\n", "bad.yaml:1: id: expected a lowercase slug"),
        (
            "id: mira\nname: Mira\nname: Mara\npersona: [a]\n",
            "bad.yaml:3: name: duplicate key; each field may appear once",
        ),
        ("", "bad.yaml:1: the file is empty; expected a mapping"),
        (
            "id: mira\nname: Mira\npersona: [a]\nexamples:\n  - user: hi\n",
            "bad.yaml:5: examples[0].reply: required field is missing",
        ),
        (
            "id: mira\nname: Mira\npersona: [a]\nbackend: {max_tokens: 0.5}\n",
            "bad.yaml:4: backend.max_tokens: expected a whole number 1..32768, found a number",
        ),
        (
            "id: mira\nname: Mira\npersona: [a]\ncolor: chartreuse\n",
            "bad.yaml:4: color: expected a colour name or #rrggbb, found 'chartreuse'",
        ),
        ("id: mira\nname: Mira\npersona: []\n", "bad.yaml:3: persona: expected a non-empty list"),
    ],
    ids=[
        "yaml-syntax",
        "not-a-mapping",
        "missing-field",
        "unknown-field",
        "wrong-type",
        "list-expected",
        "out-of-range",
        "empty-text",
        "invalid-id",
        "duplicate-key",
        "empty-file",
        "nested-missing",
        "whole-number",
        "bad-colour",
        "empty-list",
    ],
)
def test_each_kind_of_error_names_file_line_and_field(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = write(tmp_path, "bad.yaml", text)
    found = problems_of(path)
    assert any(line.startswith(str(tmp_path / expected)) for line in found), found


def test_all_problems_of_a_file_are_reported_at_once(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "bad.yaml",
        "id: Bad Id\nname: ''\npersona: one\ntalkativeness: high\nmood: grumpy\n",
    )
    found = problems_of(path)
    fields = [line.split(": ")[1] for line in found]
    assert fields == ["mood", "id", "name", "persona", "talkativeness"]


def pack(folder: Path, characters: str, **files: str) -> Path:
    folder.mkdir()
    write(folder, "pack.yaml", f"name: test\nversion: 1.0.0\ncharacters: {characters}\n")
    for name, text in files.items():
        write(folder, name, text)
    return folder


def test_duplicate_ids_in_a_pack_are_refused(tmp_path: Path) -> None:
    folder = pack(
        tmp_path / "p",
        "[a.yaml, b.yaml]",
        **{
            "a.yaml": "id: mira\nname: A\npersona: [x]\n",
            "b.yaml": "\nid: mira\nname: B\npersona: [y]\n",
        },
    )
    with pytest.raises(
        CharacterValidationError,
        match=r"b.yaml:2: id: duplicate character id 'mira' \(also in a.yaml\)",
    ):
        load_pack(folder)


def test_a_missing_or_escaping_file_in_pack_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "outside.yaml").write_text("id: x\nname: X\npersona: [x]\n")
    folder = pack(tmp_path / "p", "\n  - gone.yaml\n  - ../outside.yaml")
    found = [str(p) for p in check_paths([folder])]
    manifest = folder / "pack.yaml"
    assert found == [
        f"{manifest}:4: characters[0]: file 'gone.yaml' does not exist in the pack",
        f"{manifest}:5: characters[1]: '../outside.yaml' points outside the pack folder",
    ]


def test_check_paths_accepts_files_folders_and_packs(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", VALID)
    assert check_paths([good, default_pack_path()]) == []
    loose = tmp_path / "loose"
    loose.mkdir()
    write(loose, "a.yaml", "id: a\nname: A\npersona: [x]\n")
    write(loose, "b.yaml", "id: b\nname: B\n")
    assert [str(p) for p in check_paths([loose])] == [
        f"{loose / 'b.yaml'}:1: persona: required field is missing (or give a description)"
    ]
    assert "no such file or folder" in str(check_paths([tmp_path / "nowhere"])[0])


def test_the_default_pack_is_valid_and_varied() -> None:
    loaded = load_pack(default_pack_path())
    characters = loaded.characters
    assert len(characters) >= 4
    assert len({c.color for c in characters}) == len(characters)
    assert len({c.name for c in characters}) == len(characters)
    assert all(c.setting == loaded.setting and c.greeting and c.examples for c in characters)
    assert min(c.talkativeness for c in characters) < 0.5 < max(c.talkativeness for c in characters)


def test_the_registry_finds_characters_by_any_name() -> None:
    registry = CharacterRegistry()
    registry.add_pack(load_pack(default_pack_path()))
    mira = registry.get("mira")
    assert mira is not None
    assert registry.find("MIRA") is mira
    assert registry.find("@innkeeper") is mira
    assert registry.find("Mira Quell") is mira
    assert registry.find("nobody") is None
    with pytest.raises(ValueError, match="already used by pack 'gullhaven'"):
        registry.add_pack(load_pack(default_pack_path()))


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_any_text_either_loads_or_is_a_validation_error(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_character(path)
    except CharacterValidationError as error:
        assert error.problems
        assert all(str(problem).startswith(str(path)) for problem in error.problems)

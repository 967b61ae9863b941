"""Lorebooks in character YAML and pack files: defaults, every problem with file:line,
invalid regular expressions, shared pack books, and extensions kept verbatim."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from botkit.characters import CharacterValidationError, check_paths, load_character, load_pack
from botkit.lore import Lorebook, LoreEntry, Position, SelectiveLogic

CHARACTER = """\
id: mira
name: Mira
persona: [Mira runs the inn.]
lorebook:
  name: rumours
  scan_depth: 4
  token_budget: 300
  recursive_scanning: true
  extensions: {world: gullhaven, depth_prompt: {prompt: hi, depth: 4, role: system}}
  entries:
    - keys: [bell]
      content: The bell rings under the sea.
      secondary_keys: [sea, chapel]
      selective: true
      selective_logic: not_all
      case_sensitive: true
      insertion_order: 5
      priority: 0
      position: after_char
      name: bell
      comment: the drowned bell
      id: 7
      retrievable: true
      extensions: {probability: 100, group: "", weird: [1, {a: null}], position: 4}
    - content: Always true.
      constant: true
      enabled: false
      keys: null
      priority: null
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text)
    return path


def test_every_field_loads_and_missing_ones_take_the_card_defaults(tmp_path: Path) -> None:
    book = load_character(write(tmp_path, "mira.yaml", CHARACTER)).lorebook
    assert book is not None
    assert (book.name, book.scan_depth, book.token_budget, book.recursive_scanning) == (
        "rumours",
        4,
        300,
        True,
    )
    bell, always = book.entries
    assert bell == LoreEntry(
        content="The bell rings under the sea.",
        keys=("bell",),
        secondary_keys=("sea", "chapel"),
        selective=True,
        selective_logic=SelectiveLogic.NOT_ALL,
        case_sensitive=True,
        insertion_order=5,
        priority=0,
        position=Position.AFTER_CHAR,
        name="bell",
        comment="the drowned bell",
        id=7,
        retrievable=True,
        extensions=bell.extensions,
    )
    assert always == LoreEntry(content="Always true.", constant=True, enabled=False)
    assert (always.insertion_order, always.priority, always.position) == (
        100,
        10,
        Position.BEFORE_CHAR,
    )
    defaults = Lorebook()
    assert (defaults.scan_depth, defaults.token_budget, defaults.recursive_scanning) == (
        2,
        None,
        False,
    )


def test_extensions_are_kept_verbatim_and_dump_back_to_the_same_yaml(tmp_path: Path) -> None:
    book = load_character(write(tmp_path, "mira.yaml", CHARACTER)).lorebook
    assert book is not None
    source = yaml.safe_load(CHARACTER)["lorebook"]
    assert book.extensions == source["extensions"]
    assert book.entries[0].extensions == source["entries"][0]["extensions"]
    dumped = yaml.safe_dump(dict(book.entries[0].extensions), sort_keys=False)
    assert yaml.safe_load(dumped) == {
        "probability": 100,
        "group": "",
        "weird": [1, {"a": None}],
        "position": 4,
    }
    assert list(book.entries[0].extensions) == ["probability", "group", "weird", "position"]


BAD = """\
id: mira
name: Mira
persona: [Mira runs the inn.]
lorebook:
  scan_depth: -1
  recursive: true
  entries:
    - keys: ["bell("]
      use_regex: true
      content: x
    - keys: [bell]
      content: y
      position: middle
      selective_logic: maybe
      constant: yes please
    - keys: [bell]
      priority: high
      extensions: [not, a, mapping]
"""


def test_every_lorebook_problem_is_reported_at_once_with_file_line_and_field(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "mira.yaml", BAD)
    problems = [str(p) for p in check_paths([path])]
    assert sorted(problems) == sorted(
        [
            f"{path}:6: lorebook.recursive: unknown field; did you mean 'recursive_scanning'?",
            f"{path}:8: lorebook.entries[0].keys[0]: invalid regular expression 'bell(': "
            "missing ): bell( (RE2 syntax: no look-arounds or backreferences)",
            f"{path}:15: lorebook.entries[1].constant: expected true or false",
            f"{path}:14: lorebook.entries[1].selective_logic: expected one of and_any, and_all, "
            "not_any, not_all, found 'maybe'",
            f"{path}:13: lorebook.entries[1].position: expected one of before_char, after_char, "
            "found 'middle'",
            f"{path}:16: lorebook.entries[2].content: required field is missing",
            f"{path}:17: lorebook.entries[2].priority: expected a whole number -1e+06..1e+06, "
            "found text",
            f"{path}:18: lorebook.entries[2].extensions: expected a mapping",
            f"{path}:5: lorebook.scan_depth: expected a whole number 0..1000, found -1",
        ]
    )
    with pytest.raises(CharacterValidationError):
        load_character(path)


PACK = """\
name: harbour
version: 1.0.0
lorebooks: [world.yaml, missing.yaml]
characters: [mira.yaml]
"""


def test_a_pack_shares_its_lorebooks_with_every_character(tmp_path: Path) -> None:
    write(tmp_path, "pack.yaml", PACK.replace(", missing.yaml", ""))
    write(tmp_path, "world.yaml", "name: world\nentries:\n  - {keys: [fog], content: Fog.}\n")
    write(tmp_path, "mira.yaml", CHARACTER)
    pack = load_pack(tmp_path)
    mira = pack.characters[0]
    assert [b.name for b in pack.lorebooks] == ["world"]
    assert [b.name for b in mira.lorebooks] == ["rumours", "world"]


def test_pack_lorebook_problems_name_their_own_file(tmp_path: Path) -> None:
    write(tmp_path, "pack.yaml", PACK)
    world = write(tmp_path, "world.yaml", "entries:\n  - {keys: [fog]}\n")
    write(tmp_path, "mira.yaml", CHARACTER)
    assert [str(p) for p in check_paths([tmp_path])] == [
        f"{tmp_path / 'pack.yaml'}:3: lorebooks[1]: file 'missing.yaml' does not exist in the pack",
        f"{world}:2: entries[0].content: required field is missing",
    ]


WORLD_INFO = {
    "entries": {
        "0": {
            "uid": 0,
            "key": ["fog"],
            "keysecondary": ["harbour"],
            "comment": "the fog",
            "content": "Fog rolls in at dusk.",
            "constant": False,
            "selective": True,
            "selectiveLogic": 2,
            "order": 50,
            "position": 1,
            "disable": False,
            "probability": 100,
            "depth": 4,
        },
        "1": {
            "uid": 1,
            "key": [],
            "keysecondary": [],
            "comment": "",
            "content": "The tide is ruled by the moon.",
            "constant": True,
            "selective": False,
            "selectiveLogic": 0,
            "order": 100,
            "position": 4,
            "disable": True,
            "caseSensitive": None,
        },
    }
}


def test_a_sillytavern_world_info_file_loads_as_a_pack_lorebook(tmp_path: Path) -> None:
    write(tmp_path, "pack.yaml", PACK.replace("world.yaml, missing.yaml", "world.json"))
    write(tmp_path, "world.json", json.dumps(WORLD_INFO, indent=2))
    write(tmp_path, "mira.yaml", "id: mira\nname: Mira\npersona: [Mira runs the inn.]\n")
    [book] = load_pack(tmp_path).lorebooks
    fog, tide = book.entries
    assert (fog.keys, fog.secondary_keys, fog.content, fog.comment, fog.id) == (
        ("fog",),
        ("harbour",),
        "Fog rolls in at dusk.",
        "the fog",
        0,
    )
    assert (fog.selective, fog.selective_logic, fog.insertion_order, fog.position) == (
        True,
        SelectiveLogic.NOT_ANY,
        50,
        Position.AFTER_CHAR,
    )
    assert fog.enabled and fog.extensions == {"probability": 100, "depth": 4}
    assert (tide.constant, tide.enabled, tide.position) == (True, False, Position.BEFORE_CHAR)
    assert tide.extensions == {"position": 4}


REGEX_KEYS = """\
id: mira
name: Mira
persona: [Mira runs the inn.]
lorebook:
  entries:
    - keys: ["(a+)+$", 'light\\w*']
      use_regex: true
      content: x
    - keys: ["(?<=old )bell", '(ring)\\1']
      use_regex: true
      content: y
"""


def test_check_refuses_regex_keys_re2_cannot_run_and_accepts_backtracking_bombs(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, "mira.yaml", REGEX_KEYS)
    problems = [str(p) for p in check_paths([path])]
    assert problems == [
        f"{path}:9: lorebook.entries[1].keys[0]: invalid regular expression '(?<=old )bell': "
        "invalid perl operator: (?<= (RE2 syntax: no look-arounds or backreferences)",
        f"{path}:9: lorebook.entries[1].keys[1]: invalid regular expression '(ring)\\\\1': "
        "invalid escape sequence: \\1 (RE2 syntax: no look-arounds or backreferences)",
    ]

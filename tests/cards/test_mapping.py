"""Card fields to botkit YAML and back: every field kept, extensions verbatim."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from botkit.cards.mapping import CardMappingError, card_to_yaml, slug, yaml_to_card

BOOK = {
    "name": "Harbour lore",
    "scan_depth": 3,
    "token_budget": 300,
    "recursive_scanning": True,
    "extensions": {"world_tool": {"v": 2}},
    "entries": [
        {
            "keys": ["lighthouse"],
            "content": "The lighthouse went dark a month ago.",
            "extensions": {"depth": 4},
            "enabled": True,
            "insertion_order": 10,
            "case_sensitive": False,
            "priority": 5,
            "id": 1,
            "comment": "main",
            "selective": True,
            "secondary_keys": ["keeper"],
            "constant": False,
            "position": "before_char",
        }
    ],
}
V2: dict[str, Any] = {
    "spec": "chara_card_v2",
    "spec_version": "2.0",
    "data": {
        "name": "Mira",
        "description": "{{char}} runs the Salt Lantern inn.",
        "personality": "warm, nosy",
        "scenario": "A foggy night at the inn; {{user}} walks in.",
        "first_mes": "Come in out of the fog, {{user}}!",
        "mes_example": "<START>\n{{user}}: Any news?\n{{char}}: Oh, have I got news.",
        "creator_notes": "Best with a second character.",
        "system_prompt": "{{original}} Keep it cosy.",
        "post_history_instructions": "Stay in the inn.",
        "alternate_greetings": ["Evening, love!", "Soup's on."],
        "character_book": BOOK,
        "tags": ["fantasy", "inn"],
        "creator": "someone",
        "character_version": "1.2",
        "extensions": {"talkativeness": "0.8", "fav": True, "depth_prompt": {"depth": 4}},
    },
}
V3: dict[str, Any] = {
    "spec": "chara_card_v3",
    "spec_version": "3.0",
    "data": {
        **copy.deepcopy(V2["data"]),
        "nickname": "Mira Quell",
        "creator_notes_multilingual": {"de": "Am besten zu zweit."},
        "source": ["https://example.invalid/mira"],
        "group_only_greetings": ["Hello, all of you!"],
        "creation_date": 1700000000,
        "modification_date": 1700000100,
        "assets": [{"type": "icon", "uri": "ccdefault:", "name": "main", "ext": "png"}],
        "x_unknown_field": {"kept": [1, 2, 3]},
    },
}
V1 = {
    "name": "Bram",
    "description": "An old fisherman.",
    "personality": "gruff",
    "scenario": "The docks.",
    "first_mes": "Hmph.",
    "mes_example": "",
}


@pytest.mark.parametrize("card", [V1, V2, V3], ids=["v1", "v2", "v3"])
def test_a_card_comes_back_equal_field_by_field(card: dict[str, Any]) -> None:
    original = copy.deepcopy(card)
    character = card_to_yaml(card)
    assert yaml_to_card(character) == original
    assert card == original


def test_every_field_lands_where_botkit_uses_it() -> None:
    character = card_to_yaml(V3)
    assert character["id"] == "mira"
    assert character["nicknames"] == ["Mira Quell"]
    assert character["greeting"] == "Come in out of the fog, {{user}}!"
    assert character["alternate_greetings"] == ["Evening, love!", "Soup's on."]
    assert character["group_greetings"] == ["Hello, all of you!"]
    assert character["example_dialogue"].startswith("<START>")
    assert character["system_prompt"] == "{{original}} Keep it cosy."
    assert character["lorebook"] == BOOK
    assert character["talkativeness"] == 0.8
    assert character["extensions"] == V2["data"]["extensions"]
    assert character["card"]["extra"]["x_unknown_field"] == {"kept": [1, 2, 3]}
    assert character["card"]["extra"]["creation_date"] == 1700000000


def test_a_v3_card_exports_as_v2_with_the_v2_fields() -> None:
    as_v2 = yaml_to_card(card_to_yaml(V3), spec="v2")
    assert as_v2["spec"] == "chara_card_v2" and as_v2["spec_version"] == "2.0"
    assert as_v2["data"] == {**V2["data"]}


def test_a_character_written_for_botkit_exports_as_v3() -> None:
    card = yaml_to_card({"id": "wren", "name": "Wren", "description": "Maps caves."})
    assert card["spec"] == "chara_card_v3"
    assert card["data"]["description"] == "Maps caves."
    assert card["data"]["group_only_greetings"] == []
    assert card["data"]["extensions"] == {}


@pytest.mark.parametrize(
    ("card", "message"),
    [
        ({"spec": "chara_card_v2", "data": {"name": ""}}, "data.name: a card needs a name"),
        ({"spec": "chara_card_v2", "data": {"name": "A", "tags": "x"}}, "data.tags"),
        ({"spec": "chara_card_v2", "data": {"name": "A", "first_mes": 3}}, "data.first_mes"),
        ({"spec": "chara_card_v2", "data": "nope"}, "data: expected an object"),
        (
            {"spec": "chara_card_v2", "data": {"name": "A", "extensions": {"talkativeness": "x"}}},
            "talkativeness",
        ),
    ],
)
def test_a_malformed_card_names_the_field(card: dict[str, Any], message: str) -> None:
    with pytest.raises(CardMappingError, match=message):
        card_to_yaml(card)


def test_slugs_are_valid_ids() -> None:
    assert slug("Sir Aldric of the North") == "sir-aldric-of-the-north"
    assert slug("!!!") == "character"
    assert len(slug("x" * 80)) == 40


def test_an_edited_talkativeness_reaches_the_exported_card() -> None:
    character = card_to_yaml(V2)
    assert yaml_to_card(character)["data"]["extensions"]["talkativeness"] == "0.8"
    character["talkativeness"] = 0.3
    assert yaml_to_card(character)["data"]["extensions"]["talkativeness"] == "0.3"
    written = yaml_to_card({"id": "wren", "name": "Wren", "talkativeness": 0.6})
    assert written["data"]["extensions"] == {"talkativeness": "0.6"}

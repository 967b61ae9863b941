"""Imported cards are valid characters, and their fields reach the prompt as cards intend."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from botkit.cards.convert import import_card
from botkit.characters import check_paths, load_character
from botkit.prompt import PromptBuilder
from botkit.tokens import default_token_counter
from botkit.transcript import Turn
from tests.cards.test_mapping import V2, V3

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def imported(tmp_path: Path, card: dict[str, object]) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    source = tmp_path / "card.json"
    source.write_text(json.dumps(card))
    return import_card(source, tmp_path / "pack").path


def test_an_imported_card_passes_the_character_check(tmp_path: Path) -> None:
    for card in (V2, V3):
        path = imported(tmp_path / card["spec"], card)
        assert check_paths([path]) == []
        character = load_character(path)
        assert character.description == "{{char}} runs the Salt Lantern inn."
        assert character.alternate_greetings == ("Evening, love!", "Soup's on.")
        assert character.talkativeness == 0.8
        assert character.lorebook is not None
        assert character.lorebook.entries[0].keys == ("lighthouse",)


def test_card_fields_reach_the_prompt_with_macros_resolved(tmp_path: Path) -> None:
    character = load_character(imported(tmp_path, V3))
    builder = PromptBuilder(counter=default_token_counter(), context_window=4096, reply_tokens=96)
    transcript = [Turn("u-ann", "Ann", "Any news about the lighthouse keeper?", False, NOW)]
    prompt = builder.build(speaker=character, others=[character], transcript=transcript)
    system = prompt.messages[0].content
    assert "Mira runs the Salt Lantern inn." in system
    assert "Mira's personality: warm, nosy" in system
    assert "Scenario: A foggy night at the inn; Ann walks in." in system
    assert "Ann: Any news?\nMira: Oh, have I got news." in system
    assert "<START>" not in system and "{{" not in system
    assert "Stay in character. Write only Mira's next line" in system
    assert system.index("Stay in character") < system.index("Keep it cosy.")
    assert "The lighthouse went dark a month ago." in system
    assert "Best with a second character." not in system
    assert prompt.messages[-1].role == "system"
    assert prompt.messages[-1].content == "Stay in the inn."
    assert prompt.closing_tokens > 0
    assert prompt.total_tokens <= prompt.budget


def test_a_card_without_a_persona_needs_a_description(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("id: x\nname: X\n")
    [problem] = check_paths([path])
    assert (problem.line, problem.field) == (1, "persona")
    path.write_text("id: x\nname: X\ndescription: A quiet one.\nextensions: [1]\n")
    [problem] = check_paths([path])
    assert (problem.line, problem.field) == (4, "extensions")
    assert "expected a mapping, found a list" in problem.message

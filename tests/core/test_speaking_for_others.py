"""Cutting a reply where the model starts another speaker's line, on real model output."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from botkit.backends.base import ChatRequest, Sampling
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.characters import default_pack_path, load_pack
from botkit.prompt import PromptBuilder
from botkit.reply_filter import ReplyFilter
from botkit.transcript import Turn

RECORDED = json.loads(
    (Path(__file__).parent / "data" / "model_replies.json").read_text(encoding="utf-8")
)["replies"]


async def chunks(text: str, size: int) -> AsyncIterator[str]:
    for start in range(0, len(text), size):
        yield text[start : start + size]


def foreign_tags(text: str, names: list[str]) -> list[str]:
    """Speaker tags of ``names`` at a line start or right after a sentence."""
    alternatives = "|".join(re.escape(name) for name in names)
    pattern = rf"(?:^|\n|[.!?]\s+)[\s\"'*(\[•-]*(?:{alternatives})[*)\]]*\s*:"
    return re.findall(pattern, text)


@pytest.mark.parametrize("size", [1, 7, 64])
@pytest.mark.parametrize("recorded", RECORDED, ids=lambda r: f"{r['speaker']}:{r['raw'][:24]}")
async def test_recorded_model_replies_are_cut_at_the_first_foreign_line(
    recorded: dict[str, Any], size: int
) -> None:
    reply = ReplyFilter(speaker=recorded["speaker"], others=recorded["others"])
    out = "".join([part async for part in reply.filter(chunks(recorded["raw"], size))])
    assert out == recorded["reply"]
    assert reply.interrupted_by == recorded["cut_for"]
    assert recorded["raw"].startswith(out)
    assert foreign_tags(out, [*recorded["others"], recorded["speaker"]]) == []


def test_the_recordings_cover_the_patterns_the_model_writes() -> None:
    cut_for = [r["cut_for"] for r in RECORDED]
    assert {"Nell", "Bram", "Wren"} <= set(cut_for)
    assert {"Ann", "Tom"} <= set(cut_for)
    assert None in cut_for
    raws = [r["raw"] for r in RECORDED]
    assert any("\n- Ann:" in raw for raw in raws)
    assert any(". Wren:" in raw for raw in raws)
    assert any("\nBran:" in raw for raw in raws)


@pytest.mark.model
async def test_the_live_model_never_gets_another_speakers_line_through() -> None:
    pack = load_pack(default_pack_path())
    cast = list(pack.characters)
    backend = LlamaCppBackend(context_window=2048, threads=2, seed=11)
    await backend.load()
    try:
        builder = PromptBuilder(
            counter=backend.token_counter, context_window=2048, reply_tokens=120
        )
        now = datetime(2026, 1, 1, tzinfo=UTC)
        scene = [
            Turn("u-tom", "Tom", "Let's all talk about the bell.", False, now),
            Turn("u-ann", "Ann", "Mira, you start, then Bram and Nell answer you.", False, now),
        ]
        names = [c.name for c in cast] + ["Ann", "Tom"]
        cut = 0
        for character in cast:
            prompt = builder.build(speaker=character, others=cast, transcript=scene)
            others = [n for n in names if n != character.name]
            for _ in range(3):
                request = ChatRequest(
                    prompt.messages,
                    Sampling(temperature=0.9, max_tokens=120),
                    prefix=f"{character.name}:",
                )
                raw = "".join([f async for f in backend.stream(request)])
                reply = ReplyFilter(speaker=character.name, others=others)
                out = "".join([part async for part in reply.filter(chunks(raw, 5))])
                assert foreign_tags(out, names) == [], raw
                assert raw.lstrip().startswith(out.strip()[:20])
                cut += reply.interrupted_by is not None
        assert cut > 0
    finally:
        await backend.aclose()

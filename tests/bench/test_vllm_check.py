"""bench/vllm_check.py against a loopback server that speaks vLLM's API and counters (the
figures of a real GPU server come from running it against one)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from tests.support.openai_server import OpenAIServer, ReceivedRequest, Reply, json_reply, sse_reply

SCRIPT = Path(__file__).parents[2] / "bench" / "vllm_check.py"
BLOCK = 16
"""Tokens per KV-cache block: vLLM caches whole blocks."""


class FakeVllm:
    """Answers chat requests and keeps vLLM's prefix-cache and token counters: a prompt's
    hits are the whole blocks it shares with an earlier prompt (4 characters a token)."""

    def __init__(self) -> None:
        self.prompts: list[str] = []
        self.models: list[str] = []
        self.queries = self.hits = self.generated = 0

    def __call__(self, request: ReceivedRequest) -> Reply:
        if request.path.endswith("/metrics"):
            text = "".join(
                f'vllm:{name}_total{{model_name="base"}} {value}\n'
                for name, value in (
                    ("prefix_cache_queries", self.queries),
                    ("prefix_cache_hits", self.hits),
                    ("generation_tokens", self.generated),
                    ("prompt_tokens", self.queries),
                )
            )
            return Reply(headers={"Content-Type": "text/plain"}, body=[text], chunked=False)
        if request.path.endswith("/v1/models"):
            return json_reply(200, {"data": [{"id": "base"}, {"id": "mira-lora"}]})
        if request.path.endswith("/version"):
            return json_reply(200, {"version": "0.33.0"})
        body = request.json()
        self.models.append(body["model"])
        prompt = json.dumps(body["messages"])
        tokens = len(prompt) // 4
        shared = max((_shared_chars(prompt, earlier) for earlier in self.prompts), default=0) // 4
        self.prompts.append(prompt)
        self.queries += tokens
        self.hits += shared // BLOCK * BLOCK
        if "structured_outputs" in body:
            answer = body["structured_outputs"]["choice"][0]
        else:
            answer = "Aye, the tide is turning."
        self.generated += len(answer.split())
        return sse_reply(answer)


def _shared_chars(a: str, b: str) -> int:
    """How many characters ``a`` and ``b`` share from their start."""
    return next(
        (i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b))
    )


async def test_the_check_reports_caching_choice_lora_and_speed(tmp_path: Path) -> None:
    fake = FakeVllm()
    out = tmp_path / "vllm.md"
    async with OpenAIServer(fake) as server:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SCRIPT),
            "--url",
            server.base_url,
            "--model",
            "base",
            "--turns",
            "8",
            "--lora",
            "mira=mira-lora",
            "--lora",
            "bram=bram-lora",
            "--out",
            str(out),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, "NO_COLOR": "1"},
        )
        _, err = await asyncio.wait_for(process.communicate(), 300)
    assert process.returncode == 0, err.decode()
    report = out.read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line for line in report.splitlines() if "|" in line}
    shared, busted = (
        rows["one channel"].split(" | "),
        rows["baseline: one channel, a random first line in every prompt"].split(" | "),
    )
    assert float(shared[2].rstrip("%")) > float(busted[2].rstrip("%"))
    assert "| structured_outputs (choice) |" in report
    assert rows["structured_outputs (choice)"].split(" | ")[2] == "100.0%"
    assert "| mira | mira-lora | yes |" in report
    assert "| bram | bram-lora | no |" in report
    assert {"mira-lora", "bram-lora", "base"} <= set(fake.models)
    assert "vLLM 0.33.0" in report

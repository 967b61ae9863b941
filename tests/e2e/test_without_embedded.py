"""botkit without the embedded model's runtime (no ``local`` extra): an OpenAI-compatible
server serves the chat, and a config that needs the embedded model says what to install."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from tests.support.openai_server import OpenAIServer, ReceivedRequest, Reply, sse_reply

WITHOUT_LLAMA = """
import sys


class NoLlama:
    def find_spec(self, name, path=None, target=None):
        if name == "llama_cpp" or name.startswith("llama_cpp."):
            raise ModuleNotFoundError("No module named 'llama_cpp'", name="llama_cpp")
        return None


sys.meta_path.insert(0, NoLlama())
from botkit.cli import main

sys.exit(main(sys.argv[1:]))
"""


async def chat(tmp_path: Path, config: str, stdin: str) -> tuple[int, str, str]:
    """``botkit chat --config`` in a process where llama_cpp cannot be imported."""
    path = tmp_path / "botkit.yaml"
    path.write_text(config)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        WITHOUT_LLAMA,
        "chat",
        "--config",
        str(path),
        "--data-dir",
        str(tmp_path / "data"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin.encode()), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_an_openai_compatible_server_serves_the_chat_without_llama_cpp(
    tmp_path: Path,
) -> None:
    def answer(request: ReceivedRequest) -> Reply:
        return sse_reply("Welcome to the Salt Lantern, traveller.")

    async with OpenAIServer(answer) as server:
        config = (
            "backends:\n"
            "  remote:\n"
            "    type: openai\n"
            f"    base_url: {server.base_url}\n"
            "    model: any-model\n"
            "memory:\n"
            "  enabled: false\n"
        )
        code, out, err = await chat(tmp_path, config, "Mira, is there a room free tonight?\n")
    assert code == 0, err
    assert "Mira: Welcome to the Salt Lantern, traveller." in out
    assert server.requests


async def test_a_config_that_needs_the_embedded_model_says_what_to_install(
    tmp_path: Path,
) -> None:
    code, _, err = await chat(tmp_path, "memory:\n  enabled: false\n", "")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line == (
        f"botkit: error: {tmp_path / 'botkit.yaml'}: backends: none configured, and the embedded"
        " model needs llama-cpp-python: pip install 'botkit[local]' (it compiles llama.cpp), or"
        " name an OpenAI-compatible server (vLLM, a hosted API) under backends:"
    )

"""One botkit process of a cluster on the fake Slack: ``python slack_worker.py SETUP.json``.

It runs the real App with the Slack adapter in Socket Mode (against the fake's Web API),
the store the setup names and a scripted backend whose every reply names this process
and the question it answers, until SIGTERM (a clean stop) or SIGKILL.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
import sys
from pathlib import Path

from botkit.app import App
from botkit.backends.base import ChatRequest
from botkit.config import parse_config
from botkit.testing import InstantBackend
from tests.support.slack_server import SIGNING_SECRET

QUESTION = re.compile(r"question (\d+)")


def answer(name: str, request: ChatRequest) -> str:
    """``[name] answers N``, N being the last question in the prompt."""
    asked = QUESTION.findall(" ".join(message.content for message in request.messages))
    return f"[{name}] answers {asked[-1] if asked else '?'}"


async def serve(setup: dict[str, object]) -> None:
    """Run the App until SIGTERM."""
    name = str(setup["name"])
    config = parse_config(
        {
            "data_dir": str(setup["data"]),
            "conversation": {"cast": ["mira"], "max_hops": 0},
            "memory": {"enabled": False},
            "store": {"url": setup["store"], "lease_seconds": setup["lease_seconds"]},
            "adapters": {
                "slack": {
                    "bot_token": "xoxb-test",
                    "signing_secret": SIGNING_SECRET,
                    "app_token": "xapp-test",
                    "base_url": setup["api_url"],
                }
            },
        }
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    backend = InstantBackend(lambda request: answer(name, request), name="scripted")
    async with App(config, backends={"scripted": backend}):
        sys.stdout.write("ready\n")
        sys.stdout.flush()
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(serve(json.loads(Path(sys.argv[1]).read_text())))

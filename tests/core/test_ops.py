"""``/healthz`` and ``/metrics`` over HTTP, and the log line formats."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from botkit.app import App, ConfigurationError
from botkit.backends.base import BackendError, ChatRequest
from botkit.config import parse_config
from botkit.log_format import JsonLines
from botkit.testing import InstantBackend, RecordingAdapter
from tests.core.test_conversation import command, push, said


class BrokenBackend(InstantBackend):
    """A backend whose every reply fails."""

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        raise BackendError("the model server went away")
        yield ""


def ops_config(tmp_path: Path, pack_dir: Path, port: int = 0) -> Any:
    return parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
            "ops": {"port": port},
        }
    )


def metric(text: str, name: str) -> float:
    """The value of one sample line of the exposition."""
    [line] = [line for line in text.splitlines() if line.startswith(name + " ")]
    return float(line.split()[-1])


async def test_health_and_metrics_are_served_over_http(tmp_path: Path, pack_dir: Path) -> None:
    adapter = RecordingAdapter("test")
    backend = InstantBackend("Evening.")
    app = App(ops_config(tmp_path, pack_dir), backends={"b": backend}, adapters={"test": adapter})
    async with app, httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}") as http:
        port = app.ops_port
        health = await http.get("/healthz")
        assert (health.status_code, health.text) == (200, "ready\n")
        await push(app, adapter, said("Mira, a room?"))
        await push(app, adapter, command("cast"))
        answer = await http.get("/metrics")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = answer.text
        assert metric(text, 'botkit_messages_total{platform="test"}') == 1
        assert metric(text, 'botkit_commands_total{platform="test"}') == 1
        assert metric(text, 'botkit_replies_total{platform="test"}') == 1
        assert metric(text, "botkit_decision_seconds_count") >= 1
        assert metric(text, 'botkit_backend_seconds_count{backend="instant"}') == 1
        assert metric(text, "botkit_queue_depth") == 0
        assert metric(text, "botkit_memory_write_lag") == 0
        assert (await http.get("/nowhere")).status_code == 404
        assert (await http.post("/healthz")).status_code == 405

        async def failing(*_: object) -> None:
            raise OSError("disk gone")

        app.store.fetch_one = failing  # type: ignore[method-assign]
        unwell = await http.get("/healthz")
        assert (unwell.status_code, unwell.text) == (503, "not ready: OSError: disk gone\n")
    with pytest.raises(httpx.ConnectError):
        async with httpx.AsyncClient() as http:
            await http.get(f"http://127.0.0.1:{port}/healthz")
    assert app.ops_port is None


async def test_backend_errors_are_counted(tmp_path: Path, pack_dir: Path) -> None:
    adapter = RecordingAdapter("test")
    backend = BrokenBackend(name="remote")
    app = App(ops_config(tmp_path, pack_dir), backends={"b": backend}, adapters={"test": adapter})
    async with app, httpx.AsyncClient(base_url=f"http://127.0.0.1:{app.ops_port}") as http:
        await push(app, adapter, said("Mira, a room?"))
        text = (await http.get("/metrics")).text
        assert metric(text, 'botkit_backend_errors_total{backend="remote"}') == 1
        assert 'botkit_replies_total{platform="test"}' not in text


async def test_a_taken_port_is_one_clear_error(tmp_path: Path, pack_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = App(
            ops_config(tmp_path, pack_dir, port),
            backends={"b": InstantBackend()},
            adapters={"test": RecordingAdapter("test")},
        )
        with pytest.raises(ConfigurationError, match=f"ops: cannot listen on 127.0.0.1:{port}"):
            async with app:
                pass


def test_json_lines_carry_time_level_logger_message_and_traceback() -> None:
    try:
        raise ValueError("bad value")
    except ValueError:
        record = logging.LogRecord(
            "botkit.x", logging.ERROR, __file__, 1, "failed %s", ("here",), sys.exc_info()
        )
    entry = json.loads(JsonLines().format(record))
    assert entry["level"] == "ERROR"
    assert entry["logger"] == "botkit.x"
    assert entry["message"] == "failed here"
    assert entry["time"].endswith("+00:00")
    assert "ValueError: bad value" in entry["traceback"]


@pytest.mark.parametrize("json_lines", [False, True])
def test_log_lines_are_timestamped_and_library_noise_stays_out_of_debug(json_lines: bool) -> None:
    code = (
        "import logging\n"
        "from botkit.log_format import configure_logging\n"
        f"configure_logging(2, json_lines={json_lines})\n"
        "logging.getLogger('botkit.app').debug('own debug line')\n"
        "logging.getLogger('httpx').debug('library debug line')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    if json_lines:
        entry = json.loads(lines[0])
        assert (entry["level"], entry["message"]) == ("DEBUG", "own debug line")
    else:
        assert " botkit: DEBUG: botkit.app: own debug line" in lines[0]
        assert lines[0][:4].isdigit()

"""The files under docker/: what can be checked without a container runtime."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import yaml

from botkit.app import App
from botkit.config import load_config, parse_config
from botkit.testing import InstantBackend, RecordingAdapter

DOCKER = Path(__file__).parents[1] / "docker"
ENV = {
    "DISCORD_TOKEN": "token-for-the-test",
    "BOTKIT_OWNER_ID": "1234",
    "VLLM_MODEL": "some/model",
    "VLLM_API_KEY": "key",
}


def stages() -> dict[str, str]:
    """Each stage of the Dockerfile by name, with its text."""
    text = (DOCKER / "Dockerfile").read_text()
    parts = re.split(r"^FROM ", text, flags=re.MULTILINE)[1:]
    return {part.split("\n", 1)[0].split(" AS ")[1].strip(): part for part in parts}


def healthcheck(stage: str) -> list[str]:
    """The exec form of a stage's HEALTHCHECK command."""
    found = re.search(r"HEALTHCHECK .*?CMD (\[.*?\])\n", stages()[stage], re.DOTALL)
    assert found is not None
    return list(yaml.safe_load(found.group(1)))


def test_the_compose_config_names_only_settings_that_exist() -> None:
    config = load_config(DOCKER / "botkit.yaml", environ=ENV)
    assert config.backends["vllm"].options["base_url"] == "http://vllm:8000/v1"
    assert (config.ops_host, config.ops_port) == ("0.0.0.0", 9108)
    assert config.memory.chroma == {"host": "chroma", "port": 8000}
    assert config.owners == frozenset({"discord:1234"})


def test_every_variable_the_config_and_compose_use_is_in_the_env_example() -> None:
    example = {
        line.split("=", 1)[0]
        for line in (DOCKER / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    used = set()
    for name in ("botkit.yaml", "compose.yaml"):
        used |= set(re.findall(r"\$\{([A-Z_]+)", (DOCKER / name).read_text()))
    assert used <= example


def test_compose_builds_the_stages_of_the_dockerfile_and_checks_health() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    for name in ("botkit", "chroma"):
        build = services[name]["build"]
        assert build["target"] in stages()
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
            DOCKER / "Dockerfile"
        ).resolve()
    assert services["botkit"]["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert "--enable-prefix-caching" in services["vllm"]["command"]
    assert services["vllm"]["healthcheck"]["test"][0] == "CMD"
    mounted = services["botkit"]["volumes"][0].split(":")
    assert (DOCKER / mounted[0]).resolve() == (DOCKER / "botkit.yaml").resolve()
    assert mounted[1] == "/etc/botkit/botkit.yaml"


def test_the_images_run_as_a_user_and_the_server_image_has_no_compiler() -> None:
    found = stages()
    for name in ("server", "local", "chroma"):
        users = re.findall(r"^USER (\S+)", found[name], flags=re.MULTILINE)
        assert users and users[-1] != "root", name
    assert "build-essential" not in found["server"] + found["local"] + found["chroma"]
    assert "build-essential" in found["local-build"]
    assert re.search(r"^FROM server AS local", (DOCKER / "Dockerfile").read_text(), re.MULTILINE)


async def test_the_server_image_s_health_check_passes_only_when_botkit_is_ready(
    tmp_path: Path, pack_dir: Path
) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "memory": {"enabled": False},
            "ops": {"port": 0},
        }
    )
    command = healthcheck("server")
    assert command[:2] == ["python", "-c"]
    app = App(config, backends={"b": InstantBackend()}, adapters={"t": RecordingAdapter("t")})
    async with app:
        code = command[2].replace("9108", str(app.ops_port))
        assert await _exit_status(code) == 0
        port = app.ops_port
    assert await _exit_status(command[2].replace("9108", str(port))) != 0


async def _exit_status(code: str) -> int:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stderr=subprocess.DEVNULL
    )
    return await asyncio.wait_for(process.wait(), 30)

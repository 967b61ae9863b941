"""The files under docker/: what can be checked without a container runtime."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from botkit.app import App
from botkit.config import load_config, parse_config
from botkit.testing import InstantBackend, RecordingAdapter

DOCKER = Path(__file__).parents[1] / "docker"
FILLED_IN = {"DISCORD_TOKEN": "token-for-the-test", "BOTKIT_OWNER_ID": "1234"}
"""What a user writes into the blanks of .env.example."""

# Compose reads $NAME, ${NAME}, ${NAME:-default}, ${NAME:?error} …; $$ is a literal $.
_COMPOSE_VARIABLE = re.compile(r"\$(?:\{([A-Za-z_]\w*)([^}]*)\}|([A-Za-z_]\w*))")
# botkit's config reads ${NAME} and ${NAME:-default}.
_BOTKIT_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)")


def env_example() -> dict[str, str]:
    """The variables .env.example sets, with their placeholder values."""
    found = {}
    for line in (DOCKER / ".env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, value = line.split("=", 1)
            found[name.strip()] = value.strip()
    return found


def example_environ() -> dict[str, str]:
    """.env.example as a user fills it in: its blanks completed from FILLED_IN."""
    return {name: value or FILLED_IN.get(name, "") for name, value in env_example().items()}


def compose_variables(text: str) -> set[str]:
    """The names of the variables compose interpolates in a compose file's text."""
    text = text.replace("$$", "")
    return {braced or bare for braced, _, bare in _COMPOSE_VARIABLE.findall(text)}


def interpolate(value: str, environ: dict[str, str]) -> str:
    """A compose value with its variables replaced from ``environ``; unset ones fail."""

    def lookup(match: re.Match[str]) -> str:
        name, modifier = match.group(1) or match.group(3), match.group(2)
        if environ.get(name):
            return environ[name]
        if modifier.startswith((":-", "-")):
            return modifier.split("-", 1)[1]
        raise AssertionError(f"{value!r}: {name} is blank or missing")

    return _COMPOSE_VARIABLE.sub(lookup, value.replace("$$", "\0")).replace("\0", "$")


def compose() -> dict[str, Any]:
    """compose.yaml, parsed."""
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


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
    config = load_config(DOCKER / "botkit.yaml", environ=example_environ())
    assert config.backends["vllm"].options["base_url"] == "http://vllm:8000/v1"
    assert (config.ops_host, config.ops_port) == ("0.0.0.0", 9108)
    assert config.memory.chroma == {"host": "chroma", "port": 8000}
    assert config.owners == frozenset({"discord:1234"})


def test_the_compose_config_stores_in_the_compose_postgres() -> None:
    config = load_config(DOCKER / "botkit.yaml", environ=example_environ())
    assert config.store_url is not None
    assert config.store_url.startswith("postgresql://")
    url = urlsplit(config.store_url)
    services = compose()["services"]
    assert url.hostname in services
    assert services[url.hostname]["image"].startswith("postgres:")
    assert url.port == 5432
    # The same role, password and database the postgres service is created with.
    created = {
        name: interpolate(value, example_environ())
        for name, value in services[url.hostname]["environment"].items()
    }
    assert url.username == created["POSTGRES_USER"]
    assert url.password == created["POSTGRES_PASSWORD"]
    assert url.path == "/" + created["POSTGRES_DB"]
    # botkit's container has those variables: botkit.yaml's ${…} are read there.
    assert services["botkit"]["env_file"] == ".env"


def test_every_variable_the_config_and_compose_use_is_in_the_env_example() -> None:
    assert compose_variables("a: $A ${B} ${C:-x} ${D:?set D} $$E x$") == {"A", "B", "C", "D"}
    used = compose_variables((DOCKER / "compose.yaml").read_text())
    used |= set(_BOTKIT_VARIABLE.findall((DOCKER / "botkit.yaml").read_text()))
    assert {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"} <= used
    assert used - set(env_example()) == set()


def test_the_env_example_s_store_password_fits_in_a_url_as_it_is() -> None:
    password = env_example()["POSTGRES_PASSWORD"]
    assert re.fullmatch(r"[A-Za-z0-9_-]+", password)


def test_compose_builds_the_stages_of_the_dockerfile_and_checks_health() -> None:
    services = compose()["services"]
    for name in ("botkit", "chroma"):
        build = services[name]["build"]
        assert build["target"] in stages()
        assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
            DOCKER / "Dockerfile"
        ).resolve()
    assert services["botkit"]["depends_on"]["chroma"]["condition"] == "service_healthy"
    assert services["botkit"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "--enable-prefix-caching" in services["vllm"]["command"]
    assert services["vllm"]["healthcheck"]["test"][0] == "CMD"
    mounted = services["botkit"]["volumes"][0].split(":")
    assert (DOCKER / mounted[0]).resolve() == (DOCKER / "botkit.yaml").resolve()
    assert mounted[1] == "/etc/botkit/botkit.yaml"


def test_compose_runs_postgres_on_a_named_volume_with_a_health_check() -> None:
    parsed = compose()
    postgres = parsed["services"]["postgres"]
    # The official image (no registry, no namespace), on a fixed major version.
    tag = re.fullmatch(r"postgres:(\d+)(\.\d+)?(-alpine|-bookworm|-trixie)?", postgres["image"])
    assert tag is not None, postgres["image"]
    assert "profiles" not in postgres
    assert "ports" not in postgres  # reached as postgres:5432 from the compose network only
    environ = example_environ()
    created = {name: interpolate(value, environ) for name, value in postgres["environment"].items()}
    assert set(created) == {"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB"}
    for name, value in created.items():
        assert value == environ[name], name
    # The image keeps its cluster in /var/lib/postgresql/data up to 17, in
    # /var/lib/postgresql/MAJOR/docker from 18 (mount /var/lib/postgresql there).
    data = "/var/lib/postgresql/data" if int(tag.group(1)) < 18 else "/var/lib/postgresql"
    volume, target = postgres["volumes"][0].split(":")[:2]
    assert target == data
    assert volume in parsed["volumes"]
    check = postgres["healthcheck"]
    command = [interpolate(part, environ) for part in check["test"]]
    assert command[0] == "CMD"
    assert command[1] == "pg_isready"
    options = dict(zip(command[2::2], command[3::2], strict=True))
    assert options["--host"] == "127.0.0.1"  # not the socket the first start's server uses
    assert options["--username"] == environ["POSTGRES_USER"]
    assert options["--dbname"] == environ["POSTGRES_DB"]
    assert check["retries"] >= 1
    assert {"interval", "timeout", "start_period"} <= set(check)


def test_the_images_run_as_a_user_and_the_server_image_has_no_compiler() -> None:
    found = stages()
    for name in ("server", "local", "chroma"):
        users = re.findall(r"^USER (\S+)", found[name], flags=re.MULTILINE)
        assert users and users[-1] != "root", name
    assert "build-essential" not in found["server"] + found["local"] + found["chroma"]
    assert "build-essential" in found["local-build"]
    assert re.search(r"^FROM server AS local", (DOCKER / "Dockerfile").read_text(), re.MULTILINE)


def test_the_botkit_images_have_the_postgres_driver() -> None:
    pyproject = tomllib.loads((DOCKER.parent / "pyproject.toml").read_text())
    driver = pyproject["project"]["optional-dependencies"]["postgres"]
    assert any(requirement.startswith("psycopg[binary]") for requirement in driver)
    found = stages()
    built = re.search(r'pip wheel [^\n]*"\.\[([\w,]+)\]"', found["wheels"])
    installed = re.search(r'pip install [^\n]*"botkit\[([\w,]+)\]"', found["server"])
    assert built is not None and installed is not None
    assert "postgres" in built.group(1).split(",")
    assert "postgres" in installed.group(1).split(",")
    assert "import psycopg" in found["server"]  # the build fails if libpq did not come along
    assert found["local"].startswith("server AS local")  # so local has the driver too


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

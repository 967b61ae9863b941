"""The config file: ${ENV} secrets, every problem reported at once, masked secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from botkit.config import ConfigError, Secret, load_config, parse_config


def test_defaults_run_the_embedded_backend() -> None:
    config = parse_config({})
    assert config.default_backend == "local"
    assert config.backends["local"].type == "llamacpp"
    assert config.conversation.max_hops == 3


def test_environment_references_are_substituted_and_masked(tmp_path: Path) -> None:
    path = tmp_path / "botkit.yaml"
    path.write_text(
        "backends:\n"
        "  remote:\n"
        "    type: openai\n"
        "    base_url: http://127.0.0.1:9/v1\n"
        "    model: ${MODEL:-small}\n"
        "    api_key: ${API_KEY}\n"
        "adapters:\n  console: {}\n"
    )
    config = load_config(path, environ={"API_KEY": "sk-very-secret"})
    options = config.backends["remote"].options
    assert options["api_key"] == "sk-very-secret"
    assert isinstance(options["api_key"], Secret)
    assert options["model"] == "small"
    assert "sk-very-secret" not in repr(config)


def test_every_problem_is_reported_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(
            {
                "backends": {
                    "remote": {"type": "openai", "api_key": "${MISSING_KEY}"},
                    "odd": {"type": "quantum"},
                },
                "default_backend": "nowhere",
                "conversation": {"max_hops": -1, "colour": "red"},
                "scheduler": {"policy": "random"},
                "ops": {"port": 70000, "hots": "0.0.0.0"},
                "plugins": {"folders": "plugins", "enabled": ["dice"]},
                "surprise": 1,
            },
            environ={},
        )
    problems = caught.value.problems
    expected = [
        "backends.remote.api_key: environment variable MISSING_KEY is not set",
        "backends.remote.base_url: required for an openai backend",
        "default_backend: 'nowhere' is not in backends",
        "conversation.max_hops: expected a whole number 0..50",
        "conversation.colour: unknown setting",
        "scheduler.policy: expected one of scoring, likelihood, model, round-robin, manual",
        "ops.port: expected a whole number 0..65535",
        "ops.hots: unknown setting",
        "plugins.folders: expected a list of names",
        "plugins.enabled: unknown setting",
        "surprise: unknown setting",
    ]
    for line in expected:
        assert line in problems


def test_broken_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("adapters:\n  console: {\n")
    expected = (
        r"bad.yaml: line 3: not valid YAML \(expected the node content, but found '<stream end>'\)"
    )
    with pytest.raises(ConfigError, match=expected):
        load_config(path)


def test_ops_is_off_unless_a_port_is_given() -> None:
    assert parse_config({}).ops_port is None
    config = parse_config({"ops": {"port": 9108, "host": "0.0.0.0"}})
    assert (config.ops_host, config.ops_port) == ("0.0.0.0", 9108)


def test_fallback_must_name_a_backend() -> None:
    with pytest.raises(ConfigError, match=re.escape("backends.remote.fallback: 'elsewhere'")):
        parse_config(
            {
                "backends": {
                    "remote": {
                        "type": "openai",
                        "base_url": "http://127.0.0.1:1",
                        "model": "m",
                        "fallback": "elsewhere",
                    }
                }
            }
        )


def test_the_likelihood_weight_is_optional_and_never_negative() -> None:
    assert parse_config({}).scheduler.likelihood_weight is None
    assert (
        parse_config({"scheduler": {"likelihood_weight": 0.8}}).scheduler.likelihood_weight == 0.8
    )
    for bad in (-1, "heavy", True):
        with pytest.raises(ConfigError) as raised:
            parse_config({"scheduler": {"likelihood_weight": bad}})
        assert "scheduler.likelihood_weight: expected a number of 0 or more" in str(raised.value)


def test_adapter_and_backend_options_are_checked_with_everything_else(tmp_path: Path) -> None:
    path = tmp_path / "botkit.yaml"
    path.write_text(
        "backends:\n"
        "  remote:\n"
        "    type: openai\n"
        "    base_url: 127.0.0.1:8000/v1\n"
        "    model: small\n"
        "    read_timout: 30\n"
        "    max_retries: many\n"
        "conversation: {max_hops: 99}\n"
        "scheduler: {policy: loud}\n"
        "adapters:\n"
        "  discord:\n"
        "    token: abc\n"
        "    stream_interval: fast\n"
        "  telegram:\n"
        "    poll_timeout: 5\n"
        "  matrix: {}\n"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ={})
    assert caught.value.problems == [
        "backends.remote.base_url: expected an http:// or https:// URL, found '127.0.0.1:8000/v1'",
        "backends.remote.read_timout: unknown option for an openai backend; "
        "did you mean 'read_timeout'?",
        "backends.remote.max_retries: expected a whole number 0..100, found 'many'",
        "scheduler.policy: expected one of scoring, likelihood, model, round-robin, manual",
        "adapters.discord.stream_interval: expected a number above 0, found 'fast'",
        "adapters.telegram.token: required for telegram",
        "adapters.matrix: no adapter called 'matrix' (installed: console, discord, slack, "
        "telegram, web)",
        "conversation.max_hops: expected a whole number 0..50",
    ]
    assert str(caught.value).splitlines()[0] == f"{path}: {caught.value.problems[0]}"


def test_a_config_nested_too_deep_or_too_large_is_one_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / "deep.yaml"
    deep.write_text("adapters: " + "[" * 1000 + "]" * 1000 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as nested:
        load_config(deep)
    assert "nest more than 64 levels" in str(nested.value)
    large = tmp_path / "large.yaml"
    large.write_text("# " + "x" * (2 << 20) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as sized:
        load_config(large)
    assert "larger than" in str(sized.value)


def test_the_store_defaults_to_the_data_folder_with_fifteen_second_leases() -> None:
    config = parse_config({})
    assert (config.store_url, config.lease_seconds) == (None, 15)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://botkit:secret@127.0.0.1:5432/botkit",
        "postgres://botkit@db.internal/botkit",
        "sqlite:///var/lib/botkit/botkit.sqlite3",
        "sqlite:////var/lib/botkit/botkit.sqlite3",
    ],
)
def test_the_store_url_may_name_postgres_or_an_sqlite_file(url: str) -> None:
    config = parse_config({"store": {"url": url, "lease_seconds": 30}})
    assert (config.store_url, config.lease_seconds) == (url, 30)


@pytest.mark.parametrize(
    "url",
    [
        "mysql://db/botkit",
        "/var/lib/botkit.sqlite3",
        "sqlite://relative.db",
        "sqlite:///",
        "",
        5432,
        ["x"],
    ],
)
def test_a_bad_store_url_is_a_clear_error(url: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"store": {"url": url}})
    assert raised.value.problems == ["store.url: expected postgresql://… or sqlite:///path"]


@pytest.mark.parametrize("seconds", [2, 3600])
def test_lease_seconds_may_be_anything_from_two_to_an_hour(seconds: int) -> None:
    assert parse_config({"store": {"lease_seconds": seconds}}).lease_seconds == seconds


@pytest.mark.parametrize("seconds", [1, 0, -5, 3601, 2.5, "15", True])
def test_bad_lease_seconds_are_a_clear_error(seconds: object) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_config({"store": {"lease_seconds": seconds}})
    assert raised.value.problems == ["store.lease_seconds: expected a whole number 2..3600"]


def test_the_store_section_names_its_unknown_settings_and_bad_shape() -> None:
    with pytest.raises(ConfigError) as unknown:
        parse_config({"store": {"url": "sqlite:///x.db", "lease": 10}})
    assert unknown.value.problems == ["store.lease: unknown setting"]
    with pytest.raises(ConfigError) as shaped:
        parse_config({"store": "postgresql://db/botkit"})
    assert shaped.value.problems == ["store: expected a mapping, found str"]

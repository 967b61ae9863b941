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
                "surprise": 1,
            },
            environ={},
        )
    problems = caught.value.problems
    expected = [
        "backends.remote.api_key: environment variable MISSING_KEY is not set",
        "backends.remote.base_url: required for an openai backend",
        "backends.odd.type: expected one of llamacpp, openai",
        "default_backend: 'nowhere' is not in backends",
        "conversation.max_hops: expected a whole number 0..50",
        "conversation.colour: unknown setting",
        "scheduler.policy: expected one of scoring, likelihood, model, round-robin, manual",
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

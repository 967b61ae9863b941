"""Secrets from the config never reach the log output."""

from __future__ import annotations

import io
import logging

from botkit.config import parse_config
from botkit.redaction import install_redaction, secrets_in

TOKEN = "7001234567:AAH-very-secret-telegram-token"


def test_configured_secrets_are_masked_in_messages_arguments_and_tracebacks() -> None:
    config = parse_config(
        {
            "backends": {
                "remote": {
                    "type": "openai",
                    "base_url": "http://127.0.0.1:1/v1",
                    "model": "m",
                    "api_key": "${API_KEY}",
                }
            },
            "adapters": {"telegram": {"token": TOKEN, "bots": {"mira": "${MIRA_TOKEN}"}}},
        },
        environ={"API_KEY": "sk-another-secret", "MIRA_TOKEN": "8001:mira-bot-secret"},
    )
    assert secrets_in(config) == {TOKEN, "sk-another-secret", "8001:mira-bot-secret"}

    stream = io.StringIO()
    logger = logging.getLogger("botkit-redaction-test")
    logger.propagate = False
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    install_redaction(secrets_in(config), logger)
    child = logging.getLogger("botkit-redaction-test.httpx")
    child.warning("HTTP Request: POST https://api.example/bot%s/getUpdates", TOKEN)
    logger.warning("Authorization: Bearer sk-another-secret")
    try:
        raise RuntimeError("failed for 8001:mira-bot-secret")
    except RuntimeError:
        logger.exception("boom")
    output = stream.getvalue()
    assert "***" in output
    for secret in (TOKEN, "sk-another-secret", "8001:mira-bot-secret"):
        assert secret not in output
    assert "HTTP Request: POST https://api.example/bot***/getUpdates" in output
    logger.removeHandler(handler)

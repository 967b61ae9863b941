"""Keeping secrets out of logs: every configured secret is masked in every log line."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from botkit.config import Config, Secret

__all__ = ["RedactingFilter", "install_redaction", "secrets_in"]

MASK = "***"
_SECRET_KEY = re.compile(r"token|secret|password|api_key|key$", re.IGNORECASE)
_MIN_LENGTH = 6


def secrets_in(config: Config) -> set[str]:
    """Every secret the config holds: values from ``${ENV}`` and values under secret-like
    keys (``token``, ``api_key``, ``signing_secret``, ...), at any depth."""
    found: set[str] = set()

    def walk(value: Any, key: str = "") -> None:
        if isinstance(value, Mapping):
            for name, item in value.items():
                walk(item, str(name))
        elif isinstance(value, list | tuple):
            for item in value:
                walk(item, key)
        elif isinstance(value, str) and (isinstance(value, Secret) or _SECRET_KEY.search(key)):
            found.add(str(value))

    for backend in config.backends.values():
        walk(backend.options)
    walk(config.adapters)
    return {secret for secret in found if len(secret) >= _MIN_LENGTH}


class RedactingFilter(logging.Filter):
    """Replaces each secret in a log record (message, arguments and traceback) by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self._secrets = sorted(set(secrets), key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every secret masked."""
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Mask secrets in the record; never drops it."""
        if not self._secrets:
            return True
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_redaction(secrets: Iterable[str], logger: logging.Logger | None = None) -> None:
    """Mask ``secrets`` in everything the handlers of ``logger`` (default: root) write."""
    target = logger or logging.getLogger()
    redactor = RedactingFilter(secrets)
    for handler in target.handlers:
        handler.addFilter(redactor)

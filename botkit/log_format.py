"""How botkit's log lines look: timestamped text, or one JSON object per line."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

__all__ = ["TEXT_FORMAT", "JsonLines", "configure_logging"]

TEXT_FORMAT = "%(asctime)s botkit: %(levelname)s: %(name)s: %(message)s"
_NOISY = ("httpx", "httpcore", "chromadb", "urllib3", "asyncio")
"""Libraries whose debug lines drown botkit's own; they show from ``-vvv`` on."""


class JsonLines(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    traceback when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["traceback"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(verbosity: int, *, json_lines: bool = False) -> None:
    """Log warnings (``-v``: info, ``-vv``: botkit's debug, ``-vvv``: every library's
    debug too) to standard error, timestamped, or as JSON lines."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines() if json_lines else logging.Formatter(TEXT_FORMAT))
    logging.basicConfig(level=logging.WARNING - 10 * min(verbosity, 2), handlers=[handler])
    if verbosity < 3:
        for name in _NOISY:
            logging.getLogger(name).setLevel(logging.INFO if verbosity >= 2 else logging.WARNING)

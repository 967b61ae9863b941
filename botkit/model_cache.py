"""Where botkit keeps what it derives from packaged models once (converted weights, graphs)."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["cache_folder"]


def cache_folder() -> Path:
    """Where derived model files are kept: ``$XDG_CACHE_HOME/botkit/models`` (by default
    ``~/.cache/botkit/models``)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "botkit" / "models"

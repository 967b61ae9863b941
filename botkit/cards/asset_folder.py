"""Putting a card's asset files in place as one folder that appears whole or not at all."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from botkit.atomic_files import write_atomically

__all__ = ["place_folder"]


def place_folder(folder: Path, files: Mapping[str, bytes]) -> list[Path]:
    """Make ``folder`` hold exactly ``files`` (relative POSIX path → content).

    The files are written into a hidden folder beside it, which then replaces ``folder``
    by a rename; if anything fails, the hidden folder is removed and ``folder`` is left
    as it was. Returns the paths written.

    Raises:
        OSError: a file could not be written (nothing is left behind).
    """
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.tmp")
    staging.mkdir()
    try:
        for name, data in files.items():
            write_atomically(staging.joinpath(*PurePosixPath(name).parts), data)
        _swap_in(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return [folder.joinpath(*PurePosixPath(name).parts) for name in files]


def _swap_in(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``, removing an older ``folder`` once it is replaced."""
    if not folder.exists():
        os.replace(staging, folder)
        return
    old = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.old")
    os.replace(folder, old)
    try:
        os.replace(staging, folder)
    except BaseException:
        os.replace(old, folder)
        raise
    shutil.rmtree(old, ignore_errors=True)

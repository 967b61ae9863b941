"""Copying a plain folder into staging: regular files only, links and devices refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from botkit.pack_install.errors import PackError
from botkit.pack_install.limits import MAX_FILES, MAX_PACK_BYTES
from botkit.pack_install.validate import file_problem, link_problem

__all__ = ["copy_folder"]


def copy_folder(source: Path, dest: Path, *, skip: Path | None = None) -> list[str]:
    """Copy the allowed files of ``source`` into the new folder ``dest``; the problems found.

    Links, devices and files of a kind or size a pack may not hold are not copied but
    reported, so nothing is read through a link and no oversized file is copied. Copying
    stops once past the file or size limit, or after as many problems as a pack may hold
    files (validation then reports it); ``skip`` (the data
    folder, when it lies inside ``source``) is left out.

    Raises:
        PackError: ``source`` is not a folder (any more).
    """
    if not source.is_dir():
        raise PackError(f"{source}: no such folder")
    problems: list[str] = []
    copied = total = 0
    pending = [source]
    dest.mkdir(parents=True)
    while pending:
        folder = pending.pop()
        with os.scandir(folder) as entries:
            for entry in sorted(entries, key=lambda e: e.name):
                if copied > MAX_FILES or total > MAX_PACK_BYTES or len(problems) > MAX_FILES:
                    return problems
                path = Path(entry.path)
                relative = path.relative_to(source).as_posix()
                target = dest / relative
                if skip is not None and path == skip:
                    continue
                if entry.is_symlink():
                    problems.append(link_problem(relative, path, source))
                elif entry.is_dir(follow_symlinks=False):
                    target.mkdir()
                    pending.append(path)
                elif entry.is_file(follow_symlinks=False):
                    size = entry.stat(follow_symlinks=False).st_size
                    if problem := file_problem(relative, size):
                        problems.append(problem)
                        continue
                    shutil.copyfile(path, target, follow_symlinks=False)
                    copied, total = copied + 1, total + size
                else:
                    problems.append(f"{relative}: not a regular file; packs hold files and folders")
    return problems

"""Keeping git's processes tied to botkit: they end when botkit ends, however it ends."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import sys
from collections.abc import Callable

__all__ = ["folder_bytes", "kill_group", "tie_to_parent"]

_PR_SET_PDEATHSIG = 1


def _death_signal() -> Callable[[], None] | None:
    """The function a child runs before ``exec`` so the kernel kills it when its parent
    dies (Linux); None where the system has no such thing."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    prctl = libc.prctl

    def arm() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)

    return arm


tie_to_parent = _death_signal()
"""Pass as ``preexec_fn``: the child is killed when botkit dies, even by SIGKILL."""


def kill_group(pid: int) -> None:
    """Kill the process group ``pid`` leads (git and the helpers it started), if still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)


def folder_bytes(folder: str) -> int:
    """How many bytes the files under ``folder`` hold now (links not followed)."""
    total = 0
    for top, _, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(top, name)).st_size
            except FileNotFoundError:
                continue
    return total

"""How many CPU threads the embedded model should use at this moment.

llama.cpp's threads wait for each other at every step, so a thread that has to share its
core with another program makes all of them wait: on a 2-core machine with one other busy
process, two threads generated 64 tokens in 4.7 s and one thread in 2.0 s, while on the
same machine left idle two threads took 1.4 s and one 2.3 s. So the model takes every
core while nothing else wants one, and gives one up as soon as something does.

Linux says how many threads are running or ready to run at this instant (the fourth field
of ``/proc/loadavg``). The thread asking is one of them, and so is each of the model's
other threads, which keep spinning for a moment between two steps; every thread beyond
those wants a core of its own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["CoreShare", "runnable_threads"]

LOADAVG = Path("/proc/loadavg")
CALM_READINGS = 3
"""Readings in a row with cores to spare before the model takes more threads: something
that ran for an instant (the event loop passing a token on) should not make it flap."""
START_READINGS = 3
"""Readings before a prompt, the fewest running counting: the event loop that has just
handed the prompt over may not have gone back to sleep yet."""
START_GAP = 0.0003
"""Seconds between two readings before a prompt."""


def runnable_threads() -> int | None:
    """Threads on this machine running or ready to run right now (None where the system
    does not say)."""
    try:
        field = LOADAVG.read_text().split()[3]
        return int(field.split("/", 1)[0])
    except (OSError, IndexError, ValueError):
        return None


class CoreShare:
    """Chooses the model's thread count from what else is running, reading after reading.

    ``most`` is the most threads it will choose (the cores this process may use), ``least``
    the fewest. Where the system cannot say what is running, it always chooses ``least``.
    """

    def __init__(
        self,
        most: int,
        least: int,
        *,
        runnable: Callable[[], int | None] = runnable_threads,
    ) -> None:
        self.most = max(1, most)
        self.least = max(1, min(least, self.most))
        self._runnable = runnable
        self._calm = 0

    def threads(self, in_use: int, *, starting: bool = False) -> int:
        """The threads to use for the next step, the model having used ``in_use`` for the
        last one (the asking thread among them).

        ``starting``: before a prompt, when the model's other threads are asleep; the
        choice is then made at once.
        """
        running = self._fewest_running() if starting else self._runnable()
        if running is None:
            return self.least
        others = max(0, running - (1 if starting else in_use))
        wanted = max(self.least, self.most - others)
        if starting or wanted <= in_use:
            self._calm = 0
            return wanted
        self._calm += 1
        if self._calm < CALM_READINGS:
            return in_use
        self._calm = 0
        return wanted

    def _fewest_running(self) -> int | None:
        """The fewest threads running over :data:`START_READINGS` readings."""
        readings = []
        for reading in range(START_READINGS):
            if reading:
                time.sleep(START_GAP)
            running = self._runnable()
            if running is None:
                return None
            readings.append(running)
        return min(readings)

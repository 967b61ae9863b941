"""The embedded model's thread count follows what else runs on the machine."""

from __future__ import annotations

import sys

import pytest

from botkit.backends.core_share import CALM_READINGS, CoreShare, runnable_threads
from botkit.backends.llamacpp import LlamaCppBackend


def readings(*values: int | None) -> tuple[CoreShare, list[int | None]]:
    """A share of 2 cores (1 at least) that reads ``values`` in turn, and what is left."""
    left = list(values)

    def runnable() -> int | None:
        return left.pop(0)

    return CoreShare(2, 1, runnable=runnable), left


def test_a_prompt_takes_every_core_when_nothing_else_runs() -> None:
    share, _ = readings(1, 1, 1)
    assert share.threads(1, starting=True) == 2


def test_a_prompt_leaves_a_core_to_a_program_that_keeps_running() -> None:
    share, _ = readings(2, 2, 2)
    assert share.threads(2, starting=True) == 1


def test_a_passing_blip_before_a_prompt_does_not_count() -> None:
    """The event loop handing the prompt over is running for an instant only."""
    share, left = readings(2, 1, 2)
    assert share.threads(1, starting=True) == 2
    assert left == []


def test_the_models_own_spinning_threads_are_not_others() -> None:
    share, _ = readings(2, 2, 2, 2)
    assert [share.threads(2) for _ in range(4)] == [2, 2, 2, 2]


def test_it_gives_a_core_up_at_once_and_takes_it_back_after_calm_readings() -> None:
    share, _ = readings(3, *([1] * CALM_READINGS))
    assert share.threads(2) == 1
    chosen = [share.threads(1) for _ in range(CALM_READINGS)]
    assert chosen == [1] * (CALM_READINGS - 1) + [2]


def test_a_busy_reading_restarts_the_calm_count() -> None:
    share, _ = readings(*([1] * (CALM_READINGS - 1)), 2, *([1] * CALM_READINGS))
    chosen = [share.threads(1) for _ in range(2 * CALM_READINGS)]
    assert chosen == [1] * (2 * CALM_READINGS - 1) + [2]


def test_never_fewer_than_least_nor_more_than_most() -> None:
    share = CoreShare(4, 2, runnable=lambda: 40)
    assert share.threads(4, starting=True) == 2
    share = CoreShare(4, 2, runnable=lambda: 1)
    assert share.threads(1, starting=True) == 4
    assert CoreShare(1, 3).least == 1


def test_where_the_system_does_not_say_it_keeps_to_least() -> None:
    share = CoreShare(8, 3, runnable=lambda: None)
    assert share.threads(3, starting=True) == 3
    assert share.threads(3) == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/loadavg")
def test_linux_counts_at_least_the_thread_that_asks() -> None:
    running = runnable_threads()
    assert running is not None and running >= 1


def test_the_backend_adapts_only_when_no_thread_count_is_configured() -> None:
    assert LlamaCppBackend().adapts_threads
    fixed = LlamaCppBackend(threads=1)
    assert not fixed.adapts_threads and fixed.threads == 1

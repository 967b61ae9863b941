"""After start-up, the objects alive are left out of garbage collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from botkit.app import App
from botkit.config import parse_config
from botkit.heap import settle_heap
from botkit.testing import InstantBackend, RecordingAdapter


class Node:
    """Something that can sit in a reference cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_garbage_left_by_start_up_is_freed_not_kept(thawed: None) -> None:
    first, second = Node(), Node()
    first.other, second.other = second, first
    gone = weakref.ref(first)
    del first, second
    settle_heap()
    assert gone() is None


def test_what_lives_on_is_left_out_of_collections(thawed: None) -> None:
    kept = Node()
    settle_heap()
    assert gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())


async def test_an_app_settles_its_heap_once_started(tmp_path: Path, thawed: None) -> None:
    config = parse_config({"data_dir": str(tmp_path), "memory": {"enabled": False}})
    async with App(
        config,  # type: ignore[arg-type]
        backends={"instant": InstantBackend(lambda _request: "Aye.")},
        adapters={"test": RecordingAdapter("test")},
    ):
        assert gc.get_freeze_count() > 0

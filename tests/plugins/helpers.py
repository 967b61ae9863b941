"""Building test plugins and running commands against an App with a recording adapter."""

from __future__ import annotations

from botkit.app import App
from botkit.plugin import Plugin
from botkit.plugin_loader import LoadedPlugin, load_plugins
from botkit.testing import RecordingAdapter
from tests.core.test_conversation import command, push

__all__ = ["answer", "with_builtins"]


def with_builtins(*plugins: Plugin) -> list[LoadedPlugin]:
    """botkit's own plugins, then ``plugins`` (as if loaded from a test folder)."""
    return [*load_plugins(), *(LoadedPlugin(p, "a test") for p in plugins)]


async def answer(app: App, adapter: RecordingAdapter, *words: str, manage: bool = True) -> str:
    """The notice a command (its words) gets in the test room."""
    await push(app, adapter, command(words[0], *words[1:], manage=manage))
    return adapter.notices[-1][1]

"""Running the plugins' message, prompt and reply hooks, each isolated from the others."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from botkit.events import ChannelKey, MessageEvent
from botkit.plugin import (
    STOP,
    MessageCall,
    MessageHook,
    Plugin,
    PluginHost,
    PromptCall,
    PromptHook,
    ReplyCall,
    ReplyHookEntry,
)

if TYPE_CHECKING:
    from botkit.backends.base import ChatMessage
    from botkit.characters.model import Character

__all__ = ["PluginHooks"]

log = logging.getLogger(__name__)


class PluginHooks:
    """The hooks of the loaded plugins, in load order, run against one host.

    A hook that raises is logged in one line with its plugin's name and skipped for that
    event; the other hooks and the reply go on.
    """

    def __init__(self, plugins: Sequence[Plugin], host: PluginHost) -> None:
        self._host = host
        self._message: list[tuple[str, MessageHook]] = [
            (p.name, hook) for p in plugins for hook in p.message_hooks
        ]
        self._prompt: list[tuple[str, PromptHook]] = [
            (p.name, hook) for p in plugins for hook in p.prompt_hooks
        ]
        self._reply: list[tuple[str, ReplyHookEntry]] = [
            (p.name, entry) for p in plugins for entry in p.reply_hooks
        ]

    async def message(self, event: MessageEvent) -> bool:
        """Whether ``event`` goes on to the conversation (no hook stopped it)."""
        call = MessageCall(event, self._host)
        for plugin, hook in self._message:
            try:
                verdict = await hook(call)
            except Exception as error:
                _failed(plugin, "message hook", error)
                continue
            if verdict is STOP:
                log.info(
                    "%s: plugin %s stopped message %s", event.channel, plugin, event.message_id
                )
                return False
        return True

    async def prompt(
        self, channel: ChannelKey, character: Character, messages: Sequence[ChatMessage]
    ) -> Sequence[ChatMessage]:
        """The prompt after every prompt hook had its say."""
        for plugin, hook in self._prompt:
            try:
                changed = await hook(PromptCall(channel, character, messages, self._host))
            except Exception as error:
                _failed(plugin, "prompt hook", error)
                continue
            if changed is not None:
                messages = changed
        return messages

    async def reply_hooks(self, channel: ChannelKey) -> list[tuple[str, ReplyHookEntry]]:
        """The reply hooks with work in ``channel``; none means replies may stream."""
        wanted = []
        for plugin, entry in self._reply:
            try:
                if entry.wanted is None or await entry.wanted(channel, self._host):
                    wanted.append((plugin, entry))
            except Exception as error:
                _failed(plugin, "reply hook", error)
        return wanted

    async def reply(
        self,
        channel: ChannelKey,
        character: Character,
        text: str,
        hooks: Sequence[tuple[str, ReplyHookEntry]],
    ) -> str:
        """The reply after ``hooks`` (from :meth:`reply_hooks`); empty when one vetoed it."""
        for plugin, entry in hooks:
            try:
                changed = await entry.hook(ReplyCall(channel, character, text, self._host))
            except Exception as error:
                _failed(plugin, "reply hook", error)
                continue
            if changed is STOP:
                log.info("%s: plugin %s held back %s's reply", channel, plugin, character.name)
                return ""
            if changed is not None:
                text = changed
        return text


def _failed(plugin: str, what: str, error: Exception) -> None:
    log.warning("plugin %s: %s failed, skipped: %s: %s", plugin, what, type(error).__name__, error)
    log.debug("details", exc_info=True)

"""A word filter on the characters' replies, kept per server."""

from __future__ import annotations

import re
import weakref

from botkit.events import ChannelKey, Permission
from botkit.plugin import Argument, CommandCall, CommandError, Plugin, PluginHost, ReplyCall
from botkit.store import Store

__all__ = ["MAX_WORDS", "mask", "plugin"]

plugin = Plugin("word_filter", "hide words a server does not want in the characters' replies")

MAX_WORDS = 200
"""The most words one server's filter holds."""
_KEY = "word_filter.words"
_cache: weakref.WeakKeyDictionary[Store, dict[str, frozenset[str]]] = weakref.WeakKeyDictionary()
"""Each store's filtered words by server, read once and kept in step with changes."""


def _scope(channel: ChannelKey) -> str:
    return f"{channel.platform}:{channel.server}"


async def _words(host: PluginHost, channel: ChannelKey) -> frozenset[str]:
    """The server's filtered words."""
    known = _cache.setdefault(host.store, {})
    found = known.get(_scope(channel))
    if found is None:
        stored = await host.store.get_setting(_scope(channel), _KEY)
        found = known[_scope(channel)] = frozenset(stored or ())
    return found


async def _save(host: PluginHost, channel: ChannelKey, words: frozenset[str]) -> None:
    await host.store.set_setting(_scope(channel), _KEY, sorted(words))
    _cache.setdefault(host.store, {})[_scope(channel)] = words


def mask(text: str, words: frozenset[str]) -> str:
    """``text`` with each whole-word, case-insensitive match of ``words`` starred out."""
    if not words:
        return text
    pattern = (
        r"\b(?:" + "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True)) + r")\b"
    )
    return re.sub(pattern, lambda m: "*" * len(m.group(0)), text, flags=re.IGNORECASE)


async def _has_words(channel: ChannelKey, host: PluginHost) -> bool:
    return bool(await _words(host, channel))


@plugin.on_reply(wanted=_has_words)
async def filter_reply(call: ReplyCall) -> str:
    """Star out the server's filtered words."""
    return mask(call.text, await _words(call.host, call.channel))


@plugin.command("list", "the words hidden from replies on this server", group="filter")
async def list_words(call: CommandCall) -> str:
    """``/filter list``."""
    words = await _words(call.host, call.channel)
    if not words:
        return "No words are filtered on this server; /filter add <word> adds one."
    return "Filtered here: " + ", ".join(sorted(words))


@plugin.command(
    "add",
    "hide words from the characters' replies on this server",
    Argument("words", "the words to hide", many=True),
    needs=Permission.MANAGE,
    group="filter",
)
async def add_words(call: CommandCall) -> str:
    """``/filter add``."""
    given = {w.strip().casefold() for w in call.args["words"] if w.strip()}
    words = await _words(call.host, call.channel)
    if len(words | given) > MAX_WORDS:
        raise CommandError(f"a server's filter holds at most {MAX_WORDS} words")
    await _save(call.host, call.channel, words | given)
    return f"Hidden from replies here: {', '.join(sorted(given))}."


@plugin.command(
    "remove",
    "let words through again",
    Argument("words", "the words to let through", many=True),
    needs=Permission.MANAGE,
    group="filter",
)
async def remove_words(call: CommandCall) -> str:
    """``/filter remove``."""
    given = {w.strip().casefold() for w in call.args["words"]}
    words = await _words(call.host, call.channel)
    missing = sorted(given - words)
    if missing:
        raise CommandError(f"not filtered here: {', '.join(missing)}")
    await _save(call.host, call.channel, words - given)
    return f"Let through again: {', '.join(sorted(given))}."

"""Plugins' hooks on messages, prompts and replies, and the parts they register."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from botkit.backends.base import ChatMessage
from botkit.config import BackendConfig
from botkit.context import ContextRequest, Snippet
from botkit.plugin import (
    STOP,
    MessageCall,
    Plugin,
    PluginHost,
    PolicyTools,
    PromptCall,
    ReplyCall,
    Stop,
)
from botkit.scheduler import Decision, Ranking, TurnContext, free_cast
from botkit.testing import InstantBackend
from tests.core.test_conversation import ROOM, push, said
from tests.plugins.helpers import answer, with_builtins

AppFactory = Any
OTHER_SERVER = ROOM.__class__("test", "guild-2", "hall")


def marking_plugin(name: str, mark: str) -> Plugin:
    plugin = Plugin(name)

    @plugin.on_reply
    async def mark_reply(call: ReplyCall) -> str:
        return f"{call.text} {mark}"

    return plugin


def failing_plugin() -> Plugin:
    plugin = Plugin("broken")

    @plugin.on_message
    async def on_message(call: MessageCall) -> Stop | None:
        raise RuntimeError("message hook broke")

    @plugin.on_prompt
    async def on_prompt(call: PromptCall) -> Sequence[ChatMessage] | None:
        raise RuntimeError("prompt hook broke")

    @plugin.on_reply
    async def on_reply(call: ReplyCall) -> str:
        raise RuntimeError("reply hook broke")

    return plugin


async def test_reply_hooks_change_the_reply_that_is_posted_and_kept(make_app: AppFactory) -> None:
    plugins = with_builtins(marking_plugin("first", "[1]"), marking_plugin("second", "[2]"))
    async with make_app(InstantBackend("Welcome in."), plugins=plugins) as (app, adapter):
        await push(app, adapter, said("Mira, a room?"))
        assert [r.text for r in adapter.replies] == ["Welcome in. [1] [2]"]
        turns = await app.store.recent_turns(ROOM, 5)
        assert turns[-1].text == "Welcome in. [1] [2]"


async def test_a_failing_plugin_is_skipped_and_the_reply_and_other_plugins_go_on(
    make_app: AppFactory, caplog: pytest.LogCaptureFixture
) -> None:
    plugins = with_builtins(failing_plugin(), marking_plugin("working", "[ok]"))
    backend = InstantBackend("Welcome in.")
    async with make_app(backend, plugins=plugins) as (app, adapter):
        with caplog.at_level(logging.WARNING):
            await push(app, adapter, said("Mira, a room?"))
        assert [r.text for r in adapter.replies] == ["Welcome in. [ok]"]
        warned = sorted(r.getMessage() for r in caplog.records if r.name == "botkit.plugin_hooks")
        assert warned == [
            "plugin broken: message hook failed, skipped: RuntimeError: message hook broke",
            "plugin broken: prompt hook failed, skipped: RuntimeError: prompt hook broke",
            "plugin broken: reply hook failed, skipped: RuntimeError: reply hook broke",
        ]
        assert await answer(app, adapter, "roll", "3") == "Ann rolls 3: 3 = 3"


async def test_a_message_hook_may_stop_a_message_before_it_is_stored(
    make_app: AppFactory,
) -> None:
    gate = Plugin("gate")

    @gate.on_message
    async def no_spam(call: MessageCall) -> Stop | None:
        return STOP if "spam" in call.event.text else None

    async with make_app(InstantBackend("Welcome in."), plugins=with_builtins(gate)) as (
        app,
        adapter,
    ):
        await push(app, adapter, said("Mira, buy my spam!"))
        assert adapter.replies == []
        assert await app.store.recent_turns(ROOM, 5) == []
        await push(app, adapter, said("Mira, a room?"))
        assert [r.identity.name for r in adapter.replies] == ["Mira"]


async def test_a_reply_hook_may_hold_a_reply_back(make_app: AppFactory) -> None:
    veto = Plugin("veto")

    @veto.on_reply
    async def hold(call: ReplyCall) -> Stop | None:
        return STOP if call.character.name == "Mira" else None

    async with make_app(InstantBackend("Welcome in."), plugins=with_builtins(veto)) as (
        app,
        adapter,
    ):
        await push(app, adapter, said("Mira, a room?"))
        assert adapter.replies == []
        assert [t.speaker_name for t in await app.store.recent_turns(ROOM, 5)] == ["Ann"]


async def test_a_prompt_hook_changes_what_the_backend_is_sent(make_app: AppFactory) -> None:
    rules = Plugin("rules")

    @rules.on_prompt
    async def add_rule(call: PromptCall) -> Sequence[ChatMessage]:
        return [*call.messages, ChatMessage("system", f"{call.character.name}: no spoilers.")]

    backend = InstantBackend("Welcome in.")
    async with make_app(backend, plugins=with_builtins(rules)) as (app, adapter):
        await push(app, adapter, said("Mira, a room?"))
        assert backend.requests[-1].messages[-1] == ChatMessage("system", "Mira: no spoilers.")


class LoudestFirst:
    """A policy for the test: the first free character always speaks."""

    name = "loudest"

    def __init__(self, tools: PolicyTools) -> None:
        self.tools = tools

    async def rank(self, context: TurnContext) -> Ranking:
        return Ranking(tuple(c.id for c in free_cast(context)))

    async def decide(self, context: TurnContext) -> Decision:
        return Decision((context.cast[0].id,), "the loudest speaks")


class Almanac:
    """A context provider for the test: one fixed snippet."""

    def __init__(self, host: PluginHost) -> None:
        self.host = host

    async def retrieve(self, request: ContextRequest) -> Sequence[Snippet]:
        return [f"Almanac for {request.speaker.name}: the tide is high."]


async def test_policies_and_context_providers_come_from_plugins(make_app: AppFactory) -> None:
    parts = Plugin("parts")
    parts.policy("loudest", LoudestFirst)
    parts.context_provider(Almanac)
    backend = InstantBackend("Evening.")
    async with make_app(backend, plugins=with_builtins(parts)) as (app, adapter):
        assert (await answer(app, adapter, "policy", "loudest")).startswith(
            "Turn-taking here is now loudest"
        )
        await push(app, adapter, said("Evening, anyone?"))
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
        prompt = " ".join(m.content for m in backend.requests[-1].messages)
        assert "Almanac for Mira: the tide is high." in prompt


def test_a_backend_type_comes_from_a_plugin() -> None:
    from botkit.backends.factory import build_backends
    from botkit.config import ConfigError

    def echo(config: BackendConfig) -> InstantBackend:
        return InstantBackend(lambda request: request.messages[-1].content, name=config.name)

    built = build_backends({"echo": BackendConfig("echo", "echo", {})}, {"echo": echo})
    assert isinstance(built["echo"], InstantBackend)
    with pytest.raises(ConfigError, match=r"backends.odd.type: no backend type 'quantum'"):
        build_backends({"odd": BackendConfig("odd", "quantum", {})}, {"echo": echo})

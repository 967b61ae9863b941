"""Turn-taking through the App: budgets, mute, force-talk, policies per channel, cues."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botkit.backends.base import ChatRequest
from botkit.events import ChannelKey
from botkit.testing import InstantBackend
from tests.core.test_conversation import command, ping_pong, push, said, speaker

AppFactory = Callable[..., Any]
OTHER_ROOM = ChannelKey("test", "guild-1", "cellar")


def names(adapter: Any) -> list[str]:
    return [reply.identity.name for reply in adapter.replies]


async def test_the_turn_budget_ends_a_chain_before_the_hop_limit(make_app: AppFactory) -> None:
    async with make_app(InstantBackend(ping_pong), max_hops=10, turn_budget=3) as (app, adapter):
        await push(app, adapter, said("Mira, what happened at the lighthouse?"))
        assert names(adapter) == ["Mira", "Bram", "Mira"]
        await push(app, adapter, said("Bram, and then?"))
        assert names(adapter)[3:] == ["Bram", "Mira", "Bram"]


async def test_the_turn_budget_also_bounds_a_group_answer(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Evening."), turn_budget=1) as (app, adapter):
        await push(app, adapter, said("Hello everyone!"))
        assert len(adapter.replies) == 1


async def test_policy_is_chosen_per_channel_and_survives_a_restart(make_app: AppFactory) -> None:
    backend = InstantBackend("Evening, love.")
    async with make_app(backend) as (app, adapter):
        await push(app, adapter, command("policy"))
        assert adapter.notices[-1][1] == (
            "Turn-taking here: scoring "
            "(choose from scoring, likelihood, model, round-robin, manual)."
        )
        await push(app, adapter, command("policy", "manual"))
        assert adapter.notices[-1][1] == (
            "Turn-taking here is now manual: characters answer only when addressed or asked "
            "with /say."
        )
        await push(app, adapter, said("Hello everyone!"))
        assert adapter.replies == []
        await push(app, adapter, said("Hello everyone!", OTHER_ROOM))
        assert adapter.replies and {r.channel for r in adapter.replies} == {OTHER_ROOM}
    async with make_app(backend) as (app, adapter):
        await push(app, adapter, said("Hello everyone!"))
        assert adapter.replies == []
        await push(app, adapter, said("Mira, a room?"))
        assert names(adapter) == ["Mira"]
        await push(app, adapter, command("status"))
        assert (
            "Turn-taking: manual (of scoring, likelihood, model, round-robin, manual)"
            in (adapter.notices[-1][1])
        )


async def test_choosing_a_policy_needs_the_manage_permission(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hm.")) as (app, adapter):
        await push(app, adapter, command("policy", manage=False))
        assert adapter.notices[-1][1].startswith("Turn-taking here: scoring")
        await push(app, adapter, command("policy", "round-robin", manage=False))
        assert adapter.notices[-1][1] == (
            "Cannot do that: /policy changes this channel and needs the manage permission"
        )
        await push(app, adapter, command("policy", "loudest"))
        assert adapter.notices[-1][1] == (
            "Cannot do that: no policy called 'loudest'; "
            "choose from scoring, likelihood, model, round-robin, manual"
        )


async def test_round_robin_takes_turns(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Aye."), max_hops=0) as (app, adapter):
        await push(app, adapter, command("policy", "round-robin"))
        for line in ("Evening.", "Cold out.", "Any news?"):
            await push(app, adapter, said(line))
        assert names(adapter) == ["Mira", "Bram", "Mira"]


async def test_the_model_policy_asks_the_backend_with_the_cast_as_choices(
    make_app: AppFactory,
) -> None:
    def script(request: ChatRequest) -> str:
        return "Bram" if request.choices else "Nets need mending."

    backend = InstantBackend(script)
    async with make_app(backend, max_hops=0) as (app, adapter):
        await push(app, adapter, command("policy", "model"))
        await push(app, adapter, said("What a night it is."))
        assert names(adapter) == ["Bram"]
        [decision] = [r for r in backend.requests if r.choices]
        assert decision.choices == ("Mira", "Bram", "NOBODY")


async def test_mute_and_force_talk(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Aye."), max_hops=0) as (app, adapter):
        await push(app, adapter, command("mute", "bram", manage=False))
        assert adapter.notices[-1][1].endswith("needs the manage permission")
        await push(app, adapter, command("mute", "bram"))
        assert adapter.notices[-1][1] == "Bram is muted here and stays silent until /unmute."
        await push(app, adapter, said("Bram, is your boat ready?"))
        assert adapter.replies == []
        await push(app, adapter, command("say", "bram"))
        assert adapter.notices[-1][1] == "Cannot do that: Bram is muted here; /unmute bram"
        await push(app, adapter, command("say", "mira"))
        assert names(adapter) == ["Mira"]
        await push(app, adapter, command("unmute", "Bram"))
        assert adapter.notices[-1][1] == "Bram may speak again."
        await push(app, adapter, command("say", "bram"))
        assert names(adapter) == ["Mira", "Bram"]
        await push(app, adapter, command("mute", "wren"))
        assert adapter.notices[-1][1] == "Cannot do that: Wren is not in this channel"
        await push(app, adapter, command("unmute", "wren"))
        assert adapter.notices[-1][1] == "Wren is not muted."


async def test_force_talk_speaks_even_when_the_policy_would_not(make_app: AppFactory) -> None:
    async with make_app(InstantBackend("Hmph."), max_hops=0) as (app, adapter):
        await push(app, adapter, command("policy", "manual"))
        await push(app, adapter, said("Nice weather."))
        assert adapter.replies == []
        await push(app, adapter, command("say", "bram"))
        assert names(adapter) == ["Bram"]


async def test_speaking_for_another_character_hands_it_the_next_turn(
    make_app: AppFactory,
) -> None:
    def script(request: ChatRequest) -> str:
        if speaker(request) == "Mira":
            return "The tunnel is old, love.\nBram: Aye, and cursed it is."
        return "Hmph. Cursed."

    async with make_app(InstantBackend(script), max_hops=3) as (app, adapter):
        await push(app, adapter, said("Mira, what about the tunnel?"))
        assert names(adapter)[:2] == ["Mira", "Bram"]
        assert adapter.replies[0].text.strip() == "The tunnel is old, love."
        assert adapter.replies[1].reply_to == adapter.replies[0].message_id


async def test_speaking_for_a_person_is_cut_and_hands_over_nothing(make_app: AppFactory) -> None:
    def script(request: ChatRequest) -> str:
        return "Room three is free, love.\nAnn: Thank you so much!"

    async with make_app(InstantBackend(script), max_hops=3) as (app, adapter):
        await push(app, adapter, said("Mira, a room for tonight?"))
        assert names(adapter) == ["Mira"]
        assert adapter.replies[0].text.strip() == "Room three is free, love."

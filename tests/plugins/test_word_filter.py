"""The per-server word filter on replies."""

from __future__ import annotations

from typing import Any

from botkit.plugins.word_filter import mask

from botkit.events import ChannelKey, CommandEvent, Permission
from botkit.testing import InstantBackend
from tests.core.test_conversation import ANN, ROOM, push, said
from tests.plugins.helpers import answer

AppFactory = Any
SAME_SERVER = ChannelKey("test", "guild-1", "cellar")
OTHER_SERVER = ChannelKey("test", "guild-2", "hall")


def test_whole_words_are_starred_out_whatever_their_case() -> None:
    words = frozenset({"darn", "blast it"})
    assert mask("Darn! Blast it, the darnedest thing.", words) == (
        "****! ********, the darnedest thing."
    )
    assert mask("Nothing to hide.", frozenset()) == "Nothing to hide."


async def test_a_server_filters_the_words_its_managers_chose(make_app: AppFactory) -> None:
    backend = InstantBackend("Darn this fog, love.")
    async with make_app(backend) as (app, adapter):
        assert await answer(app, adapter, "filter", "add", "darn", manage=False) == (
            "Cannot do that: /filter add changes this channel and needs the manage permission"
        )
        assert await answer(app, adapter, "filter", "add", "darn", "FOG") == (
            "Hidden from replies here: darn, fog."
        )
        assert await answer(app, adapter, "filter", "list", manage=False) == (
            "Filtered here: darn, fog"
        )
        await push(app, adapter, said("Mira, how is the weather?"))
        await push(app, adapter, said("Mira, and now?", SAME_SERVER))
        await push(app, adapter, said("Mira, and here?", OTHER_SERVER))
        assert [(r.channel, r.text) for r in adapter.replies] == [
            (ROOM, "**** this ***, love."),
            (SAME_SERVER, "**** this ***, love."),
            (OTHER_SERVER, "Darn this fog, love."),
        ]
        assert await answer(app, adapter, "filter", "remove", "fog") == "Let through again: fog."
        assert await answer(app, adapter, "filter", "remove", "mist") == (
            "Cannot do that: not filtered here: mist"
        )
    async with make_app(backend) as (app, adapter):
        await push(app, adapter, said("Mira, still foggy?"))
        assert adapter.replies[-1].text == "**** this fog, love."
        await push(
            app,
            adapter,
            CommandEvent("cmd-other", OTHER_SERVER, ANN, "filter", ("list",), Permission.NONE),
        )
        assert adapter.notices[-1][1] == (
            "No words are filtered on this server; /filter add <word> adds one."
        )

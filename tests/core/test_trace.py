"""The trace a conversation records where an adapter shows it: the decision with each
candidate's score and features, NOBODY's reason, each reply's prompt make-up and timing."""

from __future__ import annotations

from pathlib import Path

from botkit.adapter import Capabilities
from botkit.app import App
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, MessageEvent
from botkit.testing import InstantBackend, RecordingAdapter
from botkit.trace import TraceLog

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")


class TracedAdapter(RecordingAdapter):
    """A recording adapter of a platform that shows traces."""

    capabilities = Capabilities(personas=True, streaming=False, max_text_len=100_000, traces=True)


def say(n: int, text: str) -> MessageEvent:
    return MessageEvent(event_id=f"e{n}", channel=ROOM, author=ANN, text=text, message_id=f"m{n}")


async def test_a_reply_and_a_silence_are_traced(tmp_path: Path, pack_dir: Path) -> None:
    config = parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0},
            "memory": {"enabled": False},
        }
    )
    adapter = TracedAdapter()
    backend = InstantBackend("The lighthouse is dark tonight.")
    async with App(config, backends={"b": backend}, adapters={"test": adapter}) as app:
        assert app.traces is not None
        await adapter.push(say(1, "Mira, is the lighthouse lit?"))
        await app.wait_idle()
        [trace] = app.traces.of_channel(ROOM)
        assert (trace.trigger_id, trace.policy, trace.speakers) == ("m1", "scoring", ("mira",))
        assert trace.reason.startswith("addressed")
        assert [c.character_id for c in trace.candidates] == ["mira", "bram"]
        mira = trace.candidates[0]
        assert mira.score > trace.candidates[1].score
        assert "addressed_in_last" in dict(mira.features)
        [reply] = trace.replies
        [sent] = adapter.replies
        assert reply.message_id == sent.message_id
        assert app.traces.of_reply(ROOM, sent.message_id or "") == (trace, reply)
        parts = dict(reply.prompt_tokens)
        assert parts["character"] > 0 and parts["transcript"] > 0
        assert [r.kind for r in reply.recalled] == ["context"]
        assert "lighthouse" in reply.recalled[0].text
        assert reply.first_token_seconds is not None
        assert reply.seconds >= reply.first_token_seconds

        conversation = await app.conversation(ROOM)
        conversation.policy = "manual"
        await adapter.push(say(2, "Lovely weather."))
        await app.wait_idle()
        silence = app.traces.of_channel(ROOM)[-1]
        assert silence.trigger_id == "m2"
        assert silence.nobody
        assert silence.replies == []
        assert silence.reason


async def test_without_an_adapter_that_shows_traces_nothing_is_recorded(make_app) -> None:  # type: ignore[no-untyped-def]
    async with make_app(InstantBackend("Hello.")) as (app, _):
        assert app.traces is None


def test_a_channel_keeps_its_last_decisions_only() -> None:
    log = TraceLog(per_channel=3)
    for n in range(5):
        log.begin(
            channel=ROOM,
            trigger_id=f"m{n}",
            trigger_text="",
            policy="scoring",
            reason="",
            speakers=(),
            candidates=(),
        )
    assert [t.trigger_id for t in log.of_channel(ROOM)] == ["m2", "m3", "m4"]
    assert log.of_channel(ChannelKey("test", "g", "other")) == []

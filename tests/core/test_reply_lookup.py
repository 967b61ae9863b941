"""An adapter that finds replies after the fact (ReplyLookup) keeps a restart from answering
a message twice: the chain's progress is stored before its first reply is posted, and a
resumed chain asks the platform for the next speaker's reply before generating one."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from botkit.adapter import PostedReply, ReplyLookup
from botkit.app import App
from botkit.chain import ChainProgress
from botkit.config import parse_config
from botkit.events import Author, ChannelKey, Identity, MessageEvent
from botkit.store import Store
from botkit.testing import InstantBackend, RecordingAdapter

ROOM = ChannelKey("test", "guild-1", "tavern")
ANN = Author("u-ann", "Ann")
EVENT = MessageEvent(
    event_id="delivery-1",
    channel=ROOM,
    author=ANN,
    text="Mira, is the lighthouse lit tonight?",
    message_id="msg-1",
)
FRESH = "A freshly generated line."


class LookupAdapter(RecordingAdapter):
    """A RecordingAdapter whose platform shows the replies in ``found``, by (message
    answered, character); it notes every lookup, and the stored progress of ``watched``
    at each post."""

    def __init__(
        self,
        found: dict[tuple[str, str], PostedReply] | None = None,
        *,
        failing: bool = False,
    ) -> None:
        """``failing``: every lookup raises, as when the platform cannot be reached."""
        super().__init__("test")
        self.found = dict(found or {})
        self.failing = failing
        self.lookups: list[tuple[ChannelKey, str, str]] = []
        self.store: Store | None = None
        self.watched: str | None = None
        self.progress_at_post: list[ChainProgress | None] = []

    async def find_reply(
        self, *, channel: ChannelKey, reply_to: str, character_id: str
    ) -> PostedReply | None:
        """The reply in ``found``, if any."""
        self.lookups.append((channel, reply_to, character_id))
        if self.failing:
            raise ConnectionError("the platform is away")
        return self.found.get((reply_to, character_id))

    async def post_reply(
        self, *, channel: ChannelKey, identity: Identity, text: str, reply_to: str | None = None
    ) -> str | None:
        """Note the stored progress of the watched message, then record the reply."""
        if self.store is not None and self.watched is not None:
            self.progress_at_post.append(await self.store.progress_of(self.watched))
        return await super().post_reply(
            channel=channel, identity=identity, text=text, reply_to=reply_to
        )


def app_config(tmp_path: Path, pack_dir: Path, **conversation: Any) -> Any:
    return parse_config(
        {
            "data_dir": str(tmp_path / "data"),
            "packs": [str(pack_dir)],
            "conversation": {"cast": ["mira", "bram"], "max_hops": 0, **conversation},
            "memory": {"enabled": False},
        }
    )


@asynccontextmanager
async def running(
    tmp_path: Path, pack_dir: Path, adapter: RecordingAdapter, backend: InstantBackend
) -> AsyncIterator[App]:
    """An App on the test pack (cast Mira and Bram, no follow-ups) with ``adapter``."""
    async with App(
        app_config(tmp_path, pack_dir), backends={backend.name: backend}, adapters={"test": adapter}
    ) as app:
        yield app


async def left_by_a_dead_process(
    tmp_path: Path, progress: ChainProgress, *, recorded: Sequence[tuple[str, str, str]] = ()
) -> None:
    """Store EVENT with ``progress`` saved, as a process that died after posting the next
    reply (before recording it) leaves them; ``recorded`` are the (character id, name,
    text) replies it did record first."""
    (tmp_path / "data").mkdir(exist_ok=True)
    async with await Store.open(tmp_path / "data" / "botkit.sqlite3") as store:
        await store.record_incoming(EVENT)
        await store.save_progress(progress)
        state = progress
        for n, (character_id, name, text) in enumerate(recorded, start=1):
            await store.record_reply(
                channel=ROOM,
                character_id=character_id,
                name=name,
                text=text,
                message_id=f"earlier-{n}",
                reply_to=EVENT.message_id,
                time=datetime.now(UTC),
                progress=(state := state.after_turn(said=True, cue=None)),
            )
        assert await store.progress_of(EVENT.event_id) == state


def first_answer(*speakers: str) -> ChainProgress:
    """The progress stored before the first reply to EVENT by ``speakers`` is posted."""
    return ChainProgress(
        EVENT.event_id, tuple(speakers), reply_to=EVENT.message_id, owed=(speakers[0],)
    )


def test_the_lookup_adapter_is_a_reply_lookup() -> None:
    assert isinstance(LookupAdapter(), ReplyLookup)
    assert not isinstance(RecordingAdapter("test"), ReplyLookup)


async def test_a_resumed_message_records_the_reply_found_and_posts_nothing_new(
    tmp_path: Path, pack_dir: Path
) -> None:
    await left_by_a_dead_process(tmp_path, first_answer("mira"))
    posted = PostedReply("posted-before-the-crash", "Lit and burning, love.")
    adapter = LookupAdapter({(EVENT.message_id, "mira"): posted})
    backend = InstantBackend(FRESH)
    async with running(tmp_path, pack_dir, adapter, backend) as app:
        await app.wait_idle()
        assert adapter.replies == []
        assert backend.requests == []
        assert adapter.lookups == [(ROOM, EVENT.message_id, "mira")]
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text, t.message_id, t.is_character) for t in turns] == [
            ("Ann", EVENT.text, EVENT.message_id, False),
            ("Mira", posted.text, posted.message_id, True),
        ]
        assert turns[1].reply_to == EVENT.message_id
        assert await app.store.character_of_message(ROOM, posted.message_id) == "mira"
        assert await app.store.unfinished_messages() == []

        # A redelivery of the message is not answered again either.
        await adapter.push(EVENT)
        await app.wait_idle()
        assert adapter.replies == []
        assert await app.store.count_turns(ROOM) == 2


async def test_a_resumed_message_without_a_reply_found_is_answered_normally(
    tmp_path: Path, pack_dir: Path
) -> None:
    await left_by_a_dead_process(tmp_path, first_answer("mira"))
    adapter = LookupAdapter({("another-message", "mira"): PostedReply("p-1", "Elsewhere.")})
    backend = InstantBackend(FRESH)
    async with running(tmp_path, pack_dir, adapter, backend) as app:
        await app.wait_idle()
        assert adapter.lookups == [(ROOM, EVENT.message_id, "mira")]
        assert [(r.identity.name, r.text.strip(), r.reply_to) for r in adapter.replies] == [
            ("Mira", FRESH, EVENT.message_id)
        ]
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text) for t in turns] == [("Ann", EVENT.text), ("Mira", FRESH)]
        assert turns[1].message_id == adapter.replies[0].message_id
        assert await app.store.unfinished_messages() == []


async def test_a_failed_lookup_answers_normally(tmp_path: Path, pack_dir: Path) -> None:
    await left_by_a_dead_process(tmp_path, first_answer("mira"))
    adapter = LookupAdapter(failing=True)
    async with running(tmp_path, pack_dir, adapter, InstantBackend(FRESH)) as app:
        await app.wait_idle()
        assert len(adapter.lookups) == 1
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
        assert await app.store.unfinished_messages() == []


async def test_only_the_next_speaker_is_looked_up_and_the_rest_answer(
    tmp_path: Path, pack_dir: Path
) -> None:
    # Mira's reply was recorded; Bram's was posted and then the process died.
    await left_by_a_dead_process(
        tmp_path,
        first_answer("mira", "bram", "wren"),
        recorded=[("mira", "Mira", "Lit and burning, love.")],
    )
    bram = PostedReply("posted-bram", "Aye, I saw it.")
    adapter = LookupAdapter({(EVENT.message_id, "bram"): bram})
    backend = InstantBackend(FRESH)
    async with running(tmp_path, pack_dir, adapter, backend) as app:
        await app.wait_idle()
        assert adapter.lookups == [(ROOM, EVENT.message_id, "bram")]
        assert [(r.identity.name, r.reply_to) for r in adapter.replies] == [
            ("Wren", EVENT.message_id)
        ]
        assert [request.prefix for request in backend.requests] == ["Wren:"]
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.text, t.message_id) for t in turns] == [
            ("Ann", EVENT.text, EVENT.message_id),
            ("Mira", "Lit and burning, love.", "earlier-1"),
            ("Bram", bram.text, bram.message_id),
            ("Wren", FRESH, adapter.replies[0].message_id),
        ]
        assert await app.store.unfinished_messages() == []


async def test_the_progress_is_stored_before_the_first_reply_is_posted(
    tmp_path: Path, pack_dir: Path
) -> None:
    adapter = LookupAdapter()
    async with running(tmp_path, pack_dir, adapter, InstantBackend(FRESH)) as app:
        adapter.store = app.store
        adapter.watched = EVENT.event_id
        await adapter.push(EVENT)
        await app.wait_idle()
        assert [r.identity.name for r in adapter.replies] == ["Mira"]
        assert adapter.progress_at_post == [first_answer("mira")]
        # A message nobody was looking for finds nothing to resume.
        assert adapter.lookups == []
        assert await app.store.progress_of(EVENT.event_id) is None
        assert await app.store.unfinished_messages() == []


async def test_a_restart_after_posting_before_recording_answers_once(
    tmp_path: Path, pack_dir: Path
) -> None:
    """The whole story: the first run posts Mira's reply and stops before recording it;
    the next run finds the reply and does not repeat it."""

    class DiesAfterPosting(LookupAdapter):
        """Posts, then never returns: the process is stopped right after the post."""

        def __init__(self) -> None:
            super().__init__()
            self.posted = asyncio.Event()

        async def post_reply(self, **kwargs: Any) -> str | None:
            await super().post_reply(**kwargs)
            self.posted.set()
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    first = DiesAfterPosting()
    async with running(tmp_path, pack_dir, first, InstantBackend("Lit and burning.")):
        await first.push(EVENT)
        await first.posted.wait()
    assert [r.identity.name for r in first.replies] == ["Mira"]
    async with await Store.open(tmp_path / "data" / "botkit.sqlite3") as store:
        assert await store.progress_of(EVENT.event_id) == first_answer("mira")
        assert [t.speaker_name for t in await store.recent_turns(ROOM, 10)] == ["Ann"]

    posted = first.replies[0]
    second = LookupAdapter({(EVENT.message_id, "mira"): PostedReply(posted.message_id, "Lit.")})
    async with running(tmp_path, pack_dir, second, InstantBackend(FRESH)) as app:
        await app.wait_idle()
        assert second.replies == []
        turns = await app.store.recent_turns(ROOM, 10)
        assert [(t.speaker_name, t.message_id) for t in turns] == [
            ("Ann", EVENT.message_id),
            ("Mira", posted.message_id),
        ]
        assert await app.store.unfinished_messages() == []

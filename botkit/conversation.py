"""One channel's conversation: its cast, recent turns, and the loop from trigger to replies."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import PurePosixPath
from urllib.parse import quote

from botkit.adapter import Adapter, ReplyLookup
from botkit.backends.base import BackendError, ChatBackend, ChatRequest, PromptPreparer
from botkit.backends.registry import BackendSet
from botkit.chain import ChainProgress
from botkit.characters.model import Character
from botkit.characters.registry import CharacterRegistry
from botkit.context import ContextProvider, ContextRequest, LoreSource, Snippet
from botkit.events import Author, ChannelKey, Identity, MessageEvent
from botkit.lore.model import LoreEntry
from botkit.metrics import Metrics
from botkit.one_line import one_line
from botkit.plugin_hooks import PluginHooks
from botkit.reply_delivery import deliver_reply
from botkit.reply_filter import ReplyFilter
from botkit.scheduler.address import addressed
from botkit.scheduler.base import Decision, TurnContext
from botkit.scheduler.compose import ComposedScheduler
from botkit.store import Store
from botkit.trace import ReplyTrace, TraceLog, TurnTrace, candidates_of, prompt_parts, recalled_of
from botkit.transcript import Turn

__all__ = ["Conversation", "ConversationSettings", "avatar_url", "identity_of"]

log = logging.getLogger(__name__)

SCENE_KEY = "scene"
POLICY_KEY = "policy"
MUTED_KEY = "muted"
NO_REPLY_NOTICE = "{name} could not reply just now."
"""What a channel is told when a backend fails: no internals, which go to the log."""
BURST = 3
"""Newer human messages waiting behind one that make it part of a burst answered at once."""


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    """Limits that apply to every channel's conversation."""

    max_hops: int = 3
    """Character turns that may follow other characters' turns before a human speaks again."""
    turn_budget: int = 5
    """Character turns, all together, that one human message (or /say) may set off."""
    history_turns: int = 60
    """Recent turns kept in memory and offered to the prompt (which keeps what fits)."""
    max_message_chars: int = 4000
    """Longer incoming messages are stored whole but shortened in prompts."""
    max_reply_chars: int = 16_000
    """A character's reply is cut here (at its last full sentence), and the cut logged."""
    default_cast: tuple[str, ...] = ()
    max_cast: int = 8
    max_queued: int = 100
    """Messages of a channel waiting in memory; under a flood the rest wait in the store."""
    avatar_base_url: str | None = None
    """Where the packs' images are served: an avatar given as a file in a pack is shown
    from this URL plus its path (platforms take avatars as URLs only)."""


def identity_of(character: Character, avatar_base_url: str | None = None) -> Identity:
    """How ``character`` appears on platforms: its avatar as a URL, or none."""
    return Identity(
        character.id, character.name, avatar_url(character.avatar, avatar_base_url), character.color
    )


def avatar_url(avatar: str | None, base_url: str | None) -> str | None:
    """The URL platforms show for ``avatar``: an http(s) URL as it is, a file in a pack
    under ``base_url``, None for a file when no base is configured (or another scheme)."""
    if not avatar:
        return None
    if "://" in avatar:
        return avatar if avatar.startswith(("http://", "https://")) else None
    path = PurePosixPath(avatar)
    if not base_url or path.is_absolute() or ".." in path.parts:
        return None
    return f"{base_url.rstrip('/')}/{quote(path.as_posix())}"


class Conversation:
    """A channel's conversation. Its methods run only in the channel's worker, in order."""

    def __init__(
        self,
        *,
        channel: ChannelKey,
        store: Store,
        characters: CharacterRegistry,
        scheduler: ComposedScheduler,
        backends: BackendSet,
        adapter: Adapter,
        context_providers: Sequence[ContextProvider] = (),
        settings: ConversationSettings,
        hooks: PluginHooks | None = None,
        metrics: Metrics | None = None,
        trace: TraceLog | None = None,
    ) -> None:
        """``trace``, where given, records why each character spoke (the web playground)."""
        self.channel = channel
        self._store = store
        self._characters = characters
        self._scheduler = scheduler
        self._backends = backends
        self._adapter = adapter
        self._lookup = adapter if isinstance(adapter, ReplyLookup) else None
        """Where the platform can find a reply after the fact: the answers to a message
        are marked begun before the first is posted, and a resumed chain looks for the
        reply its dead predecessor may have posted without recording it."""
        self._providers = tuple(context_providers)
        self._settings = settings
        self._hooks = hooks
        self._metrics = metrics
        self._turns: deque[Turn] = deque(maxlen=settings.history_turns)
        self._position = 0
        """How many of the channel's turns came before the oldest in ``_turns``."""
        self._cast: list[str] = []
        self.scene: str = ""
        self.policy: str = scheduler.default
        self.muted: frozenset[str] = frozenset()
        self._owed: list[str] = []
        """Characters spoken to in messages that got no reply of their own yet."""
        self._current: str | None = None
        """The id of the message answered last (or now), kept when the turns are re-read."""
        self._trace_log = trace
        self._tracing: TurnTrace | None = None
        """The decision being acted on, while ``trace`` records."""

    async def load(self) -> None:
        """Read the cast, scene and recent turns from the store (once, before first use)."""
        stored = await self._store.get_cast(self.channel)
        wanted = stored if stored is not None else list(self._settings.default_cast)
        self._cast = [cid for cid in wanted if self._characters.get(cid) is not None]
        settings = await self._store.get_settings(str(self.channel))
        self.scene = settings.get(SCENE_KEY) or ""
        policy = settings.get(POLICY_KEY)
        if policy in self._scheduler.policies:
            self.policy = policy
        muted = settings.get(MUTED_KEY) or ""
        self.muted = frozenset(cid for cid in muted.split(",") if cid)
        await self.reload_turns()

    async def reload_turns(self) -> None:
        """Re-read the recent turns from the store (after some were forgotten)."""
        self._turns.clear()
        self._position = 0
        self._turns.extend(
            await self._store.conversation_turns(
                self.channel, self._settings.history_turns, including=self._current
            )
        )

    @property
    def cast(self) -> list[Character]:
        """The characters active in this channel, in the order they joined."""
        found = (self._characters.get(cid) for cid in self._cast)
        return [character for character in found if character is not None]

    @property
    def max_cast(self) -> int:
        """How many characters this channel may hold at once."""
        return self._settings.max_cast

    @property
    def turns(self) -> Sequence[Turn]:
        """Recent turns, oldest first."""
        return tuple(self._turns)

    async def set_cast(self, character_ids: Sequence[str]) -> None:
        """Replace the cast (committed to the store before it takes effect)."""
        await self._store.set_cast(self.channel, list(character_ids))
        self._cast = list(character_ids)

    async def set_scene(self, scene: str) -> None:
        """Set (or with an empty text, clear) the scene every character is told about."""
        if scene:
            await self._store.set_setting(str(self.channel), SCENE_KEY, scene)
        else:
            await self._store.delete_setting(str(self.channel), SCENE_KEY)
        self.scene = scene

    @property
    def policies(self) -> tuple[str, ...]:
        """The turn-taking policies this channel may choose from."""
        return self._scheduler.policies

    async def set_policy(self, name: str) -> None:
        """Choose the channel's turn-taking policy (one of :attr:`policies`)."""
        if name not in self._scheduler.policies:
            raise ValueError(f"no turn-taking policy called {name!r}")
        await self._store.set_setting(str(self.channel), POLICY_KEY, name)
        self.policy = name

    async def set_muted(self, character_ids: frozenset[str]) -> None:
        """Replace the set of characters that stay silent in this channel."""
        await self._store.set_setting(str(self.channel), MUTED_KEY, ",".join(sorted(character_ids)))
        self.muted = frozenset(character_ids)

    async def on_message(
        self, event: MessageEvent, *, waiting: Callable[[], int] = lambda: 0
    ) -> None:
        """Take a human's message (already stored) and let the cast answer it.

        ``waiting`` tells how many human messages wait behind this one. With
        :data:`BURST` or more, this one is kept in the transcript but answered together
        with the newer ones, so a flood is answered in bulk rather than message by message.
        """
        self._current = event.message_id
        self._backends.read_ahead.cancel()
        progress = await self._store.progress_of(event.event_id)
        if progress is not None:
            log.info("%s: resuming the answers to %s", self.channel, event.message_id)
            await self._play(
                Decision(progress.speakers, "resumed"),
                interrupted=lambda: waiting() > 0,
                reply_to=progress.reply_to,
                resume=progress,
            )
            self._read_ahead(waiting)
            return
        text = event.text.strip()
        if len(text) > self._settings.max_message_chars:
            text = text[: self._settings.max_message_chars] + " …"
        turn = Turn(
            speaker_id=event.author.id,
            speaker_name=event.author.name,
            text=text,
            is_character=False,
            time=event.time,
            message_id=event.message_id,
            reply_to=event.reply_to,
        )
        self._add_turn(turn)
        if not text or not self._cast:
            return
        replied = (
            await self._store.character_of_message(self.channel, event.reply_to)
            if event.reply_to
            else None
        )
        context = TurnContext(
            cast=self.cast,
            transcript=self.turns,
            trigger=turn,
            hops=0,
            mentions=event.mentions,
            reply_to_character=replied,
            policy=self.policy,
            muted=self.muted,
        )
        spoken_to = addressed(context)
        if waiting() >= BURST:
            self._owe(spoken_to)
            log.debug("%s: %s is answered with the newer messages", self.channel, event.message_id)
            return
        carried = [cid for cid in self._owed if cid not in spoken_to]
        decision = self._with_owed(await self._decide(context))
        log.debug("%s: %s (%s)", self.channel, decision.speakers or "nobody", decision.reason)
        await self._play(
            decision,
            interrupted=lambda: waiting() > 0,
            reply_to=event.message_id,
            owed=[*spoken_to, *carried],
            event_id=event.event_id,
        )
        self._read_ahead(waiting)

    def _read_ahead(self, waiting: Callable[[], int]) -> None:
        """Once nothing waits, let the backends read the cast's next prompts' openings."""
        if not waiting():
            self._backends.read_ahead.start(self._read_openings)

    async def _read_openings(self) -> None:
        """Each cast member's backend that can reads the opening of the member's prompt
        for the next message; the one who spoke last comes last, as the least likely next."""
        last = self._turns[-1].speaker_id if self._turns else None
        for character in sorted(self.cast, key=lambda c: c.id == last):
            backend = self._backends.for_character(character)
            if character.id in self.muted or not isinstance(backend, PromptPreparer):
                continue
            sampling = self._backends.sampling_for(character)
            builder = self._backends.prompt_builder(backend, sampling.max_tokens or 0)
            opening = builder.opening(
                speaker=character,
                others=self.cast,
                transcript=self.turns,
                scene=self.scene,
                position=self._position,
            )
            if opening:
                await backend.prepare(opening)

    def _owe(self, character_ids: Sequence[str]) -> None:
        """Remember characters spoken to whose answer has to wait for a newer message."""
        self._owed += [cid for cid in character_ids if cid not in self._owed]

    def _with_owed(self, decision: Decision) -> Decision:
        """``decision`` followed by the characters still owed an answer (present, not muted).

        A burst of messages is answered once, after its newest: the characters spoken to
        in the earlier ones answer then, after those the newest one chose.
        """
        owed = [
            cid
            for cid in self._owed
            if cid in self._cast and cid not in self.muted and cid not in decision.speakers
        ]
        self._owed = []
        if not owed:
            return decision
        return Decision(
            (*decision.speakers, *owed), f"{decision.reason}; spoken to before: {', '.join(owed)}"
        )

    async def speak_now(
        self, character: Character, *, interrupted: Callable[[], bool] = lambda: False
    ) -> bool:
        """Make ``character`` take the next turn (then let others follow as usual)."""
        return await self._play(
            Decision((character.id,), "asked to speak"), interrupted=interrupted, reply_to=None
        )

    async def post_greetings(self) -> None:
        """Let every cast member who has a greeting say it (recorded like any turn)."""
        for character in self.cast:
            if character.greeting:
                await self._deliver(character, _single(character.greeting), reply_to=None)

    async def _play(
        self,
        decision: Decision,
        *,
        interrupted: Callable[[], bool],
        reply_to: str | None,
        owed: Sequence[str] = (),
        event_id: str | None = None,
        resume: ChainProgress | None = None,
    ) -> bool:
        """Run ``decision`` and the bounded chain of character follow-ups it starts.

        The first speaker always answers; once a human message is waiting, nobody else
        speaks, so the channel moves on to the human, and those of ``owed`` (the
        characters the message spoke to, and those still owed an answer from earlier
        messages) who did not answer yet answer after it. The
        chain ends after ``max_hops`` follow-ups or ``turn_budget`` character turns,
        whichever comes first. When answering the delivery ``event_id``, the chain's
        progress is stored with each turn; ``resume`` continues from such progress.
        """
        settings = self._settings
        state = resume or ChainProgress(
            event_id, decision.speakers, reply_to=reply_to, owed=tuple(owed)
        )
        if resume is None and event_id is not None and self._lookup is not None:
            await self._store.save_progress(state)
        look_first = resume is not None
        while state.speakers:
            while (speaker_id := state.next_speaker) is not None:
                character = self._characters.get(speaker_id)
                if character is None or (interrupted() and state.turns > 0):
                    self._owe([cid for cid in state.speakers[state.done :] if cid in state.owed])
                    return state.spoke
                if state.turns >= settings.turn_budget:
                    log.debug("%s: turn budget of %d spent", self.channel, settings.turn_budget)
                    return state.spoke
                if look_first:
                    look_first = False
                    if (posted := await self._posted_earlier(character, state)) is not None:
                        state = posted
                        continue
                state = await self._speak(character, state)
            if (
                state.follow_ups >= settings.max_hops
                or state.turns >= settings.turn_budget
                or interrupted()
            ):
                return state.spoke
            last = self._turns[-1]
            if not last.is_character:
                return state.spoke
            follow = await self._decide(
                TurnContext(
                    cast=self.cast,
                    transcript=self.turns,
                    trigger=last,
                    hops=self._hops(),
                    cued=state.cue,
                    policy=self.policy,
                    muted=self.muted,
                )
            )
            log.debug("%s: then %s (%s)", self.channel, follow.speakers or "nobody", follow.reason)
            state = state.next_round(
                follow.speakers[: settings.max_hops - state.follow_ups], reply_to=last.message_id
            )
        return state.spoke

    async def _decide(self, context: TurnContext) -> Decision:
        """The scheduler's decision, timed for the metrics (and traced, where traced)."""
        started = time.perf_counter()
        decision = await self._scheduler.decide(context)
        if self._metrics is not None:
            self._metrics.decision_seconds.observe(time.perf_counter() - started)
        if self._trace_log is not None:
            ranking = await self._scheduler.rank(context)
            policy = self._scheduler.policy(context.policy)
            self._tracing = self._trace_log.begin(
                channel=self.channel,
                trigger_id=context.trigger.message_id,
                trigger_text=context.trigger.text,
                policy=getattr(policy, "name", context.policy),
                reason=decision.reason,
                speakers=decision.speakers,
                candidates=candidates_of(ranking, policy, context),
            )
        return decision

    def _hops(self) -> int:
        hops = 0
        for turn in reversed(self._turns):
            if not turn.is_character:
                break
            hops += 1
        return hops

    async def _speak(self, character: Character, state: ChainProgress) -> ChainProgress:
        """Let ``character`` take its turn in the chain at ``state``; the chain's progress after.

        The progress says whether it said anything, and whom it began to speak for: the
        cast member whose line the model started to write (the reply is cut there), so the
        scheduler can let that character speak next.
        """
        backend = self._backends.for_character(character)
        sampling = self._backends.sampling_for(character)
        builder = self._backends.prompt_builder(backend, sampling.max_tokens or 0)
        snippets, lore = await self._context(character)
        prompt = builder.build(
            speaker=character,
            others=self.cast,
            transcript=self.turns,
            context=snippets,
            scene=self.scene,
            lore=lore,
            position=self._position,
        )
        messages = prompt.messages
        if self._hooks is not None:
            messages = tuple(await self._hooks.prompt(self.channel, character, messages))
        participants = self._participants()
        stops = tuple(f"\n{name}:" for name in participants if name != character.name)
        request = ChatRequest(messages, replace(sampling, stop=stops), prefix=f"{character.name}:")
        reply = ReplyFilter(
            speaker=character.name,
            others=participants,
            max_chars=self._settings.max_reply_chars,
        )

        def after(said: bool) -> ChainProgress:
            cued = next((c.id for c in self.cast if c.name == reply.interrupted_by), None)
            return state.after_turn(said=said, cue=cued if cued != character.id else None)

        timing = _Timing()
        tracing = self._tracing

        def posted(message_id: str | None) -> None:
            if tracing is not None:
                tracing.replies.append(
                    ReplyTrace(
                        character.id,
                        message_id,
                        backend.name,
                        prompt_parts(prompt),
                        recalled_of(snippets, prompt),
                        timing.first_token,
                        timing.seconds,
                    )
                )

        try:
            said = await self._deliver(
                character,
                await self._hooked(character, reply.filter(self._timed(backend, request, timing))),
                reply_to=state.reply_to,
                progress=None if state.event_id is None else lambda: after(True),
                posted=posted,
            )
        except BackendError as error:
            if self._metrics is not None:
                self._metrics.backend_errors.labels(backend.name).inc()
            log.warning("%s: %s could not reply: %s", self.channel, character.name, error)
            log.debug("backend failure", exc_info=True)
            await self._adapter.send_notice(
                channel=self.channel, text=NO_REPLY_NOTICE.format(name=character.name)
            )
            said = False
            done = state.after_turn(said=False, cue=None)
        else:
            done = after(said)
        if not said and done.event_id is not None:
            await self._store.save_progress(done)
        return done

    async def _posted_earlier(
        self, character: Character, state: ChainProgress
    ) -> ChainProgress | None:
        """Where the platform shows ``character``'s reply at ``state`` (posted by a process
        that died before recording it): record it and return the progress after it."""
        if self._lookup is None or state.reply_to is None:
            return None
        try:
            found = await self._lookup.find_reply(
                channel=self.channel, reply_to=state.reply_to, character_id=character.id
            )
        except Exception as error:
            log.warning(
                "%s: could not look for %s's earlier reply: %s",
                self.channel,
                character.name,
                one_line(error),
            )
            log.debug("details", exc_info=True)
            return None
        if found is None:
            return None
        log.info(
            "%s: %s's reply to %s was posted before the restart; kept, not repeated",
            self.channel,
            character.name,
            state.reply_to,
        )
        done = state.after_turn(said=True, cue=None)
        now = datetime.now(UTC)
        await self._store.record_reply(
            channel=self.channel,
            character_id=character.id,
            name=character.name,
            text=found.text,
            message_id=found.message_id,
            reply_to=state.reply_to,
            time=now,
            progress=done,
        )
        self._add_turn(Turn(character.id, character.name, found.text, True, now, found.message_id))
        return done

    async def _timed(
        self, backend: ChatBackend, request: ChatRequest, timing: _Timing
    ) -> AsyncIterator[str]:
        """The backend's reply, its time from asking until the end counted in the metrics
        and, with the time to its first text, kept in ``timing``."""
        started = time.perf_counter()
        try:
            async for fragment in backend.stream(request):
                if timing.first_token is None and fragment.strip():
                    timing.first_token = time.perf_counter() - started
                yield fragment
        finally:
            timing.seconds = time.perf_counter() - started
            if self._metrics is not None:
                self._metrics.backend_seconds.labels(backend.name).observe(timing.seconds)

    async def _hooked(
        self, character: Character, fragments: AsyncIterator[str]
    ) -> AsyncIterator[str]:
        """The reply as the plugins' reply hooks leave it: streamed as written where no
        hook has work in this channel, else whole once they had their say."""
        if self._hooks is None:
            return fragments
        hooks = await self._hooks.reply_hooks(self.channel)
        if not hooks:
            return fragments
        text = "".join([fragment async for fragment in fragments])
        return _single(await self._hooks.reply(self.channel, character, text, hooks))

    async def record_note(self, author: Author, text: str) -> None:
        """Add a line a command wrote on ``author``'s behalf (a dice roll) to the
        transcript, so the characters see it in their next prompts; nobody answers it."""
        now = datetime.now(UTC)
        await self._store.record_note(channel=self.channel, author=author, text=text, time=now)
        self._add_turn(Turn(author.id, author.name, text, False, now, None))

    async def _deliver(
        self,
        character: Character,
        fragments: AsyncIterator[str],
        *,
        reply_to: str | None,
        progress: Callable[[], ChainProgress] | None = None,
        posted: Callable[[str | None], None] | None = None,
    ) -> bool:
        """Post a reply as ``character`` and record it; False when nothing was said.

        ``progress`` gives the chain's progress after this reply, recorded with it;
        ``posted`` hears the id of the reply's (last) message.
        """
        collected: list[str] = []

        async def tee() -> AsyncIterator[str]:
            async for fragment in fragments:
                collected.append(fragment)
                yield fragment

        message_id = await deliver_reply(
            self._adapter,
            channel=self.channel,
            identity=identity_of(character, self._settings.avatar_base_url),
            fragments=tee(),
            reply_to=reply_to,
        )
        text = "".join(collected).strip()
        if not text:
            log.info("%s: %s had nothing to say", self.channel, character.name)
            return False
        if self._metrics is not None:
            self._metrics.replies.labels(self.channel.platform).inc()
        now = datetime.now(UTC)
        await self._store.record_reply(
            channel=self.channel,
            character_id=character.id,
            name=character.name,
            text=text,
            message_id=message_id,
            reply_to=reply_to,
            time=now,
            progress=None if progress is None else progress(),
        )
        self._add_turn(Turn(character.id, character.name, text, True, now, message_id))
        if posted is not None:
            posted(message_id)
        return True

    def _add_turn(self, turn: Turn) -> None:
        if len(self._turns) == self._turns.maxlen:
            self._position += 1
        self._turns.append(turn)

    async def _context(self, character: Character) -> tuple[list[Snippet], list[LoreEntry]]:
        """The context snippets for ``character``'s prompt, and the lore found by meaning."""
        request = ContextRequest(speaker=character, channel=self.channel, transcript=self.turns)
        sources = [p for p in self._providers if isinstance(p, LoreSource)]
        retrieving = [p.retrieve(request) for p in self._providers]
        finding = [s.find_lore(request) for s in sources]
        found: Sequence[Sequence[Snippet]]
        lore_found: Sequence[Sequence[LoreEntry]] = ()
        if len(retrieving) == 1 and not finding:
            # A lone source needs no tasks to run beside others.
            found = [await retrieving[0]]
        else:
            found, lore_found = await asyncio.gather(
                asyncio.gather(*retrieving), asyncio.gather(*finding)
            )
        snippets: list[Snippet] = [f"Scene: {self.scene}"] if self.scene else []
        for batch in found:
            snippets.extend(batch)
        lore = [entry for batch in lore_found for entry in batch]
        return snippets, lore

    def _participants(self) -> list[str]:
        names = [character.name for character in self.cast]
        for turn in self._turns:
            if turn.speaker_name not in names:
                names.append(turn.speaker_name)
        return names


@dataclass(slots=True)
class _Timing:
    """How long a backend took, from asking, until a reply's first text and until its end."""

    first_token: float | None = None
    seconds: float = 0.0


async def _single(text: str) -> AsyncIterator[str]:
    yield text

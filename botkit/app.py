"""The App: owns the store, characters, backends, scheduler, router and adapters."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import signal
import tempfile
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any

from botkit.adapter import Adapter, AdapterContext
from botkit.adapter_lookup import adapter_factory
from botkit.backends.base import ChatBackend
from botkit.backends.factory import build_backends
from botkit.backends.fallback import FallbackBackend
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.backends.registry import BackendSet
from botkit.cards.convert import CardConversionError, import_card
from botkit.channel_leases import ChannelLeases
from botkit.characters import CharacterRegistry, CharacterValidationError
from botkit.characters.library import IMPORTED, CharacterLibrary, save_character_text
from botkit.characters.model import Character
from botkit.command_registry import CommandRegistry
from botkit.config import Config
from botkit.context import ContextProvider, KnowledgeProvider
from botkit.conversation import Conversation, ConversationSettings
from botkit.conversation_cache import ConversationCache
from botkit.events import ChannelKey, Event, MessageEvent
from botkit.heap import settle_heap
from botkit.lease_keeper import LeaseKeeper
from botkit.memory.embeddings import Embedder, EmbeddingError
from botkit.memory.factory import open_memory
from botkit.memory.provider import MemoryProvider
from botkit.memory.records import Memory, Scope
from botkit.memory.service import MemoryService
from botkit.memory.settings import MemorySettings
from botkit.memory.vectors import VectorIndexError
from botkit.metrics import Metrics
from botkit.one_line import one_line
from botkit.ops_server import OpsServer
from botkit.pack_install import PackInstaller
from botkit.plugin import Command, CommandError
from botkit.plugin_hooks import PluginHooks
from botkit.plugin_loader import LoadedPlugin, PluginError, load_plugins
from botkit.router import Router
from botkit.scheduler import ComposedScheduler, ManualPolicy
from botkit.scheduler.factory import build_scheduler
from botkit.store import Store
from botkit.tokens import default_token_counter
from botkit.trace import TraceLog
from botkit.transcript import Turn

__all__ = ["App", "ConfigurationError"]

log = logging.getLogger(__name__)

Progress = Callable[[str], None]

EVENT_MEMORY = timedelta(days=7)
"""How long handled event ids are kept to recognise redeliveries (platforms redeliver
within minutes; the messages themselves are kept for good)."""
FLOOD_NOTICE = (
    "Messages are arriving faster than the cast can answer. Every message is kept; "
    "the cast answers the newest ones."
)


class ConfigurationError(Exception):
    """The app cannot start with this configuration; the message says what to fix."""


class App:
    """A running botkit: ``async with App(config) as app: await app.run()``.

    ``backends``, ``adapters`` and ``plugins`` replace the ones the config describes
    (tests and embedding programs pass their own), as ``embedder`` replaces memory's
    embedding model; ``progress`` receives one-line status updates during long start-up
    steps. The App is the host its plugins see (:class:`botkit.plugin.PluginHost`).
    """

    def __init__(
        self,
        config: Config,
        *,
        backends: Mapping[str, ChatBackend] | None = None,
        adapters: Mapping[str, Adapter] | None = None,
        embedder: Embedder | None = None,
        progress: Progress | None = None,
        max_conversations: int = 10_000,
        plugins: Sequence[LoadedPlugin] | None = None,
    ) -> None:
        self.config = config
        self._given_backends = backends
        self._given_adapters = adapters
        self._given_embedder = embedder
        self.memory: MemoryService | None = None
        self._progress = progress or (lambda message: log.info("%s", message))
        self._conversations = ConversationCache(max_conversations)
        self.adapters: dict[str, Adapter] = {}
        self._store: Store | None = None
        self._router: Router | None = None
        self._leases: ChannelLeases | None = None
        self._traces: TraceLog | None = None
        """Why each character spoke, recorded where an adapter shows it."""
        self._keeper: LeaseKeeper | None = None
        """Where several processes share the store: this one's channel leases, kept."""
        self._backends: BackendSet | None = None
        self._library = CharacterLibrary(config.packs, config.data_dir)
        self.characters = CharacterRegistry()
        self.scheduler = ComposedScheduler(policies={"manual": ManualPolicy()}, default="manual")
        self.packs = PackInstaller(config.data_dir, progress=self._progress)
        self.plugins = list(plugins) if plugins is not None else self._load_plugins()
        try:
            self.commands = CommandRegistry.of(loaded.plugin for loaded in self.plugins)
        except ValueError as error:
            raise ConfigurationError(f"plugins: {error}") from error
        self._hooks = PluginHooks([loaded.plugin for loaded in self.plugins], self)
        self.metrics = Metrics()
        self.metrics.sample_with(self._sample)
        self._ops: OpsServer | None = None
        self._serving = False
        self._providers: tuple[ContextProvider, ...] = ()
        self._settings_in_use = config.conversation

    def _load_plugins(self) -> list[LoadedPlugin]:
        try:
            return load_plugins(self.config.plugin_folders, self.config.disabled_plugins)
        except PluginError as error:
            raise ConfigurationError(str(error)) from error

    def character_names(self) -> list[str]:
        """The names of every character that can join (for autocompletion)."""
        return [c.name for c in self.characters.all()]

    @property
    def pack_installers(self) -> frozenset[str]:
        """Who besides the owners may change packs through chat commands."""
        return self.config.pack_installers

    @property
    def owners(self) -> frozenset[str]:
        """The configured owners (``platform:user-id``)."""
        return self.config.owners

    @property
    def command_list(self) -> tuple[Command, ...]:
        """Every command, with its choices read as of now."""
        return self.commands.menu(self)

    @property
    def policy_names(self) -> tuple[str, ...]:
        """The turn-taking policies a channel may choose."""
        return tuple(self.scheduler.policies)

    @property
    def store(self) -> Store:
        """The open store (only inside ``async with``)."""
        if self._store is None:
            raise RuntimeError("the app is not started")
        return self._store

    @property
    def router(self) -> Router:
        """The event router (only inside ``async with``)."""
        if self._router is None:
            raise RuntimeError("the app is not started")
        return self._router

    async def __aenter__(self) -> App:
        try:
            await self._start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _start(self) -> None:
        config = self.config
        self._load_characters()
        self._settings_in_use = self._settings(config.conversation)
        config.data_dir.mkdir(parents=True, exist_ok=True)
        self._store = await Store.open(config.store_url or config.data_dir / "botkit.sqlite3")
        await self.packs.sweep()
        await self._store.prune_events(datetime.now(UTC) - EVENT_MEMORY)
        if self._given_backends is None:
            types = {k: f for p in self.plugins for k, f in p.plugin.backends.items()}
            backends: Mapping[str, ChatBackend] = build_backends(config.backends, types)
            default = config.default_backend
        else:
            backends, default = self._given_backends, next(iter(self._given_backends))
        self._backends = BackendSet(backends, default=default, reply_tokens=config.reply_tokens)
        self._leases = (
            ChannelLeases(
                self._store, seconds=config.lease_seconds, on_change=self._conversations.drop
            )
            if self._store.shared
            else None
        )
        await self._load_models()
        await self._open_memory()
        self._providers = self._context_providers()
        self.scheduler = self._scheduler()
        self._router = Router(
            store=self._store,
            handler=self._handle,
            max_queued=self._settings_in_use.max_queued,
            on_flood=self._flooded,
            admit=self._hooks.message,
            leases=self._leases,
        )
        self.adapters = dict(self._given_adapters or self._build_adapters())
        if any(adapter.capabilities.traces for adapter in self.adapters.values()):
            self._traces = TraceLog()
        for name, adapter in self.adapters.items():
            try:
                await adapter.start(self._router.ingest, self.command_list)
            except Exception as error:
                log.debug("adapter start failure", exc_info=True)
                raise ConfigurationError(
                    f"adapters.{name} could not start: {type(error).__name__}: {error}"
                ) from error
        if config.ops_port is not None:
            self._ops = OpsServer(
                config.ops_host, config.ops_port, health=self._unready, metrics=self.metrics
            )
            try:
                await self._ops.start()
            except OSError as error:
                raise ConfigurationError(
                    f"ops: cannot listen on {config.ops_host}:{config.ops_port}: {error.strerror}"
                ) from error
        self._serving = True
        settle_heap()
        await self._router.recover(platforms=set(self.adapters))
        if self._leases is not None:
            self._keeper = LeaseKeeper(
                self._leases,
                self._router,
                self._store,
                platforms=set(self.adapters),
                on_changed=self._conversations.drop,
            )
            self._keeper.start()

    def _load_characters(self) -> None:
        self.characters, skipped = self._library.load()
        for problem in skipped:
            log.warning("%s", problem)

    async def reload_characters(self) -> list[str]:
        """Load every pack again and switch to the result (after packs were installed or
        removed); returns what went wrong, one line each. Open conversations are dropped
        from the cache, so each channel picks the new characters up at its next event."""
        try:
            registry, skipped = await asyncio.to_thread(self._library.load)
        except (CharacterValidationError, ValueError, OSError) as error:
            log.warning("characters not reloaded: %s", one_line(error))
            return [f"characters not reloaded: {one_line(error)}"]
        for problem in skipped:
            log.warning("%s", problem)
        self.characters = registry
        self._conversations.clear()
        if self.memory is not None:
            self.memory.prepare_lore(registry.all())
        return skipped

    def _settings(self, settings: ConversationSettings) -> ConversationSettings:
        """The settings with the default cast resolved and checked against the packs."""
        if not settings.default_cast:
            cast = tuple(c.id for c in self.characters.all()[: min(4, settings.max_cast)])
            return dataclasses.replace(settings, default_cast=cast)
        unknown = [cid for cid in settings.default_cast if self.characters.get(cid) is None]
        if unknown:
            raise ConfigurationError(
                "conversation.cast: no character with id " + ", ".join(map(repr, unknown))
            )
        return settings

    async def _open_memory(self) -> None:
        settings = self.config.memory
        if not settings.enabled:
            return
        assert self._store is not None and self._backends is not None
        self._progress("Opening long-term memory …")
        try:
            self.memory = await open_memory(
                settings,
                data_dir=self.config.data_dir,
                store=self._store,
                cast_of=self._cast_of,
                notes_backend=self._observer(settings),
                embedder=self._given_embedder,
                owner=None if self._leases is None else self._leases.owner,
            )
        except (EmbeddingError, VectorIndexError) as error:
            raise ConfigurationError(f"memory: {error}") from error
        waiting = await self.memory.start()
        self.memory.prepare_lore(self.characters.all())
        if waiting:
            self._progress(f"Indexing {waiting} stored turn(s) into memory in the background.")

    def _observer(self, settings: MemorySettings) -> ChatBackend | None:
        """The backend that writes observations, if the memory settings want them from it."""
        assert self._backends is not None
        backend = self._backends.default
        first = backend.backends[0] if isinstance(backend, FallbackBackend) else backend
        return backend if settings.observes(embedded=isinstance(first, LlamaCppBackend)) else None

    async def _cast_of(self, channel: ChannelKey) -> list[str]:
        conversation = self._conversations.peek(channel)
        if conversation is not None:
            return [c.id for c in conversation.cast]
        stored = await self.store.get_cast(channel)
        return list(stored if stored is not None else self._settings_in_use.default_cast)

    async def forgotten(self, conversation: Conversation) -> None:
        """Reload every open conversation of the server after a forget."""
        channel = conversation.channel
        for open_conversation in self._conversations.on_server(channel.platform, channel.server):
            await open_conversation.reload_turns()

    async def _load_models(self) -> None:
        """Load embedded models and the offline token encoding before serving, off the loop."""
        assert self._backends is not None
        await asyncio.to_thread(default_token_counter)
        for backend in self._backends.all():
            if isinstance(backend, LlamaCppBackend):
                loop = asyncio.get_running_loop()
                started = loop.time()
                self._progress(f"Loading model {backend.model_label} …")
                await backend.load()
                self._progress(f"Model ready in {loop.time() - started:.1f} s.")

    def _scheduler(self) -> ComposedScheduler:
        """Every policy a channel may choose, with the configured one as the default."""
        assert self._backends is not None
        options = self.config.scheduler
        try:
            backend = (
                self._backends.named(options.backend) if options.backend else self._backends.default
            )
        except KeyError as error:
            raise ConfigurationError(f"scheduler.backend: {error.args[0]}") from None
        try:
            return build_scheduler(options, backend, [p.plugin for p in self.plugins])
        except ValueError as error:
            raise ConfigurationError(str(error)) from error

    def _context_providers(self) -> tuple[ContextProvider, ...]:
        """Knowledge, memory when it is on, and the providers plugins add."""
        found: list[ContextProvider] = [KnowledgeProvider()]
        if self.memory is not None:
            found.append(MemoryProvider(self.memory))
        found += [factory(self) for p in self.plugins for factory in p.plugin.providers]
        return tuple(found)

    def _build_adapters(self) -> dict[str, Adapter]:
        context = AdapterContext(
            data_dir=self.config.data_dir,
            wait_idle=self.wait_idle,
            character_names=self.character_names,
            host=self,
            **({} if self._leases is None else {"receiver": self._leases.take}),
        )
        adapters: dict[str, Adapter] = {}
        for name, options in self.config.adapters.items():
            try:
                factory = adapter_factory(name, options)
            except LookupError as error:
                raise ConfigurationError(f"adapters.{name}: {error}") from None
            try:
                adapter = factory.from_config(options, context)
            except (TypeError, ValueError) as error:
                raise ConfigurationError(f"adapters.{name}: {error}") from error
            adapters[adapter.name] = adapter
        if not adapters:
            raise ConfigurationError("adapters: nothing to run; name at least one adapter")
        return adapters

    async def wait_idle(self) -> None:
        """Return once every event received so far has been fully handled."""
        await self.router.wait_idle()

    async def run(self) -> None:
        """Serve until every adapter has closed, or SIGINT/SIGTERM arrives."""
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, stop.set)
        closed: asyncio.Future[Any] = asyncio.ensure_future(
            asyncio.gather(*(adapter.wait_closed() for adapter in self.adapters.values()))
        )
        stopped: asyncio.Future[Any] = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({closed, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if closed.done():
                await closed
                await self.wait_idle()
        finally:
            for task in (closed, stopped):
                task.cancel()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)

    async def aclose(self) -> None:
        """Stop adapters and workers, flush, and release backends and the store."""
        self._serving = False
        if self._ops is not None:
            await self._ops.stop()
            self._ops = None
        for adapter in self.adapters.values():
            try:
                await adapter.stop()
            except Exception:
                log.exception("adapter %s did not stop cleanly", adapter.name)
        if self._backends is not None:
            await self._backends.read_ahead.aclose()
        if self._router is not None:
            await self._router.aclose()
        if self._keeper is not None:
            await self._keeper.aclose()
            self._keeper = None
        if self.memory is not None:
            await self.memory.aclose()
            self.memory = None
        if self._backends is not None and self._given_backends is None:
            for backend in self._backends.all():
                await backend.aclose()
        if self._store is not None:
            await self._store.close()
            self._store = None

    async def conversation(self, channel: ChannelKey) -> Conversation:
        """The conversation of ``channel``, loaded from the store on first use."""
        conversation = self._conversations.use(channel)
        if conversation is not None:
            return conversation
        assert self._backends is not None
        adapter = self.adapters.get(channel.platform)
        if adapter is None:
            raise LookupError(f"no adapter for platform {channel.platform!r}")
        conversation = Conversation(
            channel=channel,
            store=self.store,
            characters=self.characters,
            scheduler=self.scheduler,
            backends=self._backends,
            adapter=adapter,
            context_providers=self._providers,
            settings=self._settings_in_use,
            hooks=self._hooks,
            metrics=self.metrics,
            trace=self._traces,
        )
        await conversation.load()
        self._conversations.add(conversation)
        return conversation

    async def _flooded(self, channel: ChannelKey) -> None:
        """Tell a flooded channel that its messages are kept but answered in bulk."""
        adapter = self.adapters.get(channel.platform)
        if adapter is None:
            return
        try:
            await adapter.send_notice(channel=channel, text=FLOOD_NOTICE)
        except Exception as error:
            log.warning("%s: the flood notice could not be posted: %s", channel, one_line(error))
            log.debug("details", exc_info=True)

    async def _handle(self, event: Event, waiting: Callable[[], int]) -> None:
        conversation = await self.conversation(event.channel)
        counted = (
            self.metrics.messages if isinstance(event, MessageEvent) else self.metrics.commands
        )
        counted.labels(event.channel.platform).inc()
        if isinstance(event, MessageEvent):
            await conversation.on_message(event, waiting=waiting)
            return
        try:
            answer = await self.commands.run(event, conversation, self, lambda: waiting() > 0)
        except CommandError as error:
            answer = f"Cannot do that: {error}"
        if self._keeper is not None:
            await self._keeper.changed(event.channel)
        await self.adapters[event.channel.platform].send_notice(
            channel=event.channel, text=answer, command=event
        )

    @property
    def traces(self) -> TraceLog | None:
        """Why each character spoke, where an adapter (the web playground) shows it."""
        return self._traces

    def all_characters(self) -> Sequence[Character]:
        """Every character the packs offer."""
        return self.characters.all()

    async def cast_ids(self, channel: ChannelKey) -> list[str]:
        """The ids of ``channel``'s cast, in order."""
        return await self._cast_of(channel)

    async def room_settings(self, channel: ChannelKey) -> tuple[str, str, frozenset[str]]:
        """``channel``'s policy, scene and muted characters."""
        conversation = await self.conversation(channel)
        return conversation.policy, conversation.scene, conversation.muted

    async def history(self, channel: ChannelKey, limit: int) -> list[Turn]:
        """``channel``'s last ``limit`` turns, oldest first."""
        return await self.store.recent_turns(channel, limit)

    def character_file(self, character_id: str) -> Path | None:
        """The YAML file a character was loaded from, if it has one."""
        character = self.characters.get(character_id)
        return None if character is None else character.source

    def may_edit(self, character_id: str) -> bool:
        """Whether ``character_id`` lives in the imported pack (its file is saved over)."""
        source = self.character_file(character_id)
        return source is not None and source.parent == self.config.data_dir / IMPORTED

    async def save_character(self, text: str) -> str:
        """Check ``text``, write it to the imported pack as ``<id>.yaml`` and load it; its id.
        Raises ValueError with the problems, one ``file:line: field: problem`` line each."""
        folder = self.config.data_dir / IMPORTED
        taken = {c.id for c in self.characters.all() if not self.may_edit(c.id)}
        character_id = await asyncio.to_thread(save_character_text, text, folder, taken)
        await self.reload_characters()
        return character_id

    async def memories(
        self, channel: ChannelKey, query: str, limit: int
    ) -> list[tuple[Memory, float | None]]:
        """What is remembered where ``channel``'s characters recall: the best matches for
        ``query`` with their scores, or the newest. Raises ValueError when memory is off."""
        memory = self._memory_on()
        scope = Scope.of(channel, character=None, whole_server=memory.settings.share == "server")
        if query.strip():
            found = await memory.recall(query, scope, now=datetime.now(UTC), limit=limit)
            return [(r.memory, r.score) for r in found]
        return [(m, None) for m in await memory.ledger.newest(scope, limit)]

    async def forget_memory(self, channel: ChannelKey, memory_id: int) -> int:
        """Forget one memory of ``channel``'s server; how many went. Raises ValueError when
        memory is off."""
        return (await self._memory_on().forget_memory(channel, memory_id)).memories

    def _memory_on(self) -> MemoryService:
        if self.memory is None:
            raise ValueError("long-term memory is off (memory.enabled in the config)")
        return self.memory

    async def import_card(self, data: bytes, filename: str) -> str:
        """Make a character of the card in ``data`` in the data folder's imported pack and
        load it; its id. Raises ValueError naming ``filename`` and what was wrong."""
        data_dir = self.config.data_dir

        def convert() -> str:
            with tempfile.TemporaryDirectory(dir=data_dir, prefix="upload-") as folder:
                upload = Path(folder) / "card"
                upload.write_bytes(data)
                try:
                    return import_card(upload, data_dir / IMPORTED).character_id
                except CardConversionError as error:
                    raise ValueError(str(error).replace(str(upload), filename)) from None

        character_id = await asyncio.to_thread(convert)
        await self.reload_characters()
        return character_id

    @property
    def ops_port(self) -> int | None:
        """The port ``/healthz`` and ``/metrics`` are served on, or None when off."""
        return None if self._ops is None else self._ops.port

    async def _unready(self) -> str | None:
        """Why the bot is not ready to serve (for ``/healthz``), or None when it is."""
        if not self._serving or self._store is None:
            return "starting or stopping"
        await self._store.fetch_one("SELECT 1")
        return None

    async def _sample(self, metrics: Metrics) -> None:
        """Set the gauges read on demand: queue depth and memory's write lag."""
        if self._router is not None:
            metrics.queue_depth.set(self._router.queued)
        if self.memory is not None:
            metrics.memory_write_lag.set(await self.memory.ledger.backlog())

    @property
    def backends(self) -> tuple[ChatBackend, ...]:
        """Every backend in use."""
        assert self._backends is not None
        return tuple(self._backends.all())

    @property
    def conversation_settings(self) -> ConversationSettings:
        """The conversation settings in use (the default cast resolved)."""
        return self._settings_in_use

    @property
    def active_channels(self) -> int:
        """How many channels have work queued or in hand."""
        return self.router.active_channels

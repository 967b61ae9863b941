"""botkit's configuration: one YAML file, ``${ENV}`` references for secrets, checked whole."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from botkit.adapter_lookup import adapter_factory, adapter_options
from botkit.backends.embedded import EMBEDDED_MISSING, embedded_available
from botkit.backends.options import BACKEND_OPTIONS
from botkit.characters.yaml_limits import YamlTooLargeError, load_yaml, read_yaml_text
from botkit.conversation import ConversationSettings
from botkit.memory.ranking import RankingWeights
from botkit.memory.settings import MemorySettings
from botkit.options import check_options
from botkit.policy_catalog import POLICY_SUMMARIES
from botkit.store.store import POSTGRES_SCHEMES, SQLITE_SCHEME

__all__ = [
    "STORE_SCHEMES",
    "BackendConfig",
    "Config",
    "ConfigError",
    "SchedulerConfig",
    "Secret",
    "default_data_dir",
    "load_config",
    "parse_config",
]

_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
BACKEND_TYPES = ("llamacpp", "openai")
_INSTALLER = re.compile(r"^[\w.-]+:\S+$")


STORE_SCHEMES = (*POSTGRES_SCHEMES, SQLITE_SCHEME)
"""How ``store.url`` may begin."""


class ConfigError(Exception):
    """The configuration has problems; each line names the setting by its dotted path."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        super().__init__("\n".join(f"{source}: {problem}" for problem in problems))


class Secret(str):
    """A string read from the environment; shown masked so it never reaches a log."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "'***'"


@dataclass(frozen=True, slots=True)
class BackendConfig:
    """One model backend: its type, its options, and the backend to fall back to."""

    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)
    fallback: str | None = None


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """Which turn-taking policy channels use until they choose one, and its settings.

    ``backend`` is the backend the model policy asks (the default backend when None);
    ``model_timeout`` is how long a model decision may take before the scoring policy
    decides instead. ``likelihood_weight`` is how much the likelihood policy weighs the
    backend's log-probabilities against the scoring ranker (None: the weight fitted for
    the embedded model).
    """

    policy: str = "scoring"
    max_group_speakers: int = 2
    backend: str | None = None
    model_timeout: float = 8.0
    likelihood_weight: float | None = None


@dataclass(frozen=True, slots=True)
class Config:
    """Everything ``botkit run`` needs to start."""

    data_dir: Path
    packs: tuple[Path, ...] = ()
    pack_installers: frozenset[str] = frozenset()
    """Who may install, update and remove packs through chat commands: ``platform:user-id``
    or ``platform:*`` (the bot's owner, such as the console's user, always may)."""
    owners: frozenset[str] = frozenset()
    """The bot's owners besides the console's user, as ``platform:user-id``: they alone may
    install packs from folders and repositories on this machine."""
    backends: Mapping[str, BackendConfig] = field(
        default_factory=lambda: {"local": BackendConfig("local", "llamacpp")}
    )
    default_backend: str = "local"
    conversation: ConversationSettings = field(default_factory=ConversationSettings)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    adapters: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    reply_tokens: int = 96
    memory: MemorySettings = field(default_factory=MemorySettings)
    plugin_folders: tuple[Path, ...] = ()
    """Folders whose modules (``name.py`` or ``name/__init__.py``) each define a plugin."""
    disabled_plugins: frozenset[str] = frozenset()
    """Plugins not to load, by name (built-in ones included)."""
    ops_host: str = "127.0.0.1"
    ops_port: int | None = None
    """Where ``/healthz`` and ``/metrics`` are served (None: nowhere; 0: a free port)."""
    store_url: str | None = None
    """The database: ``postgresql://…`` for a Postgres server several processes share,
    ``sqlite:///path`` for a file; None means ``botkit.sqlite3`` in the data folder."""
    lease_seconds: int = 15
    """How long a process owns a channel without renewing its lease (several processes)."""


def default_data_dir() -> Path:
    """Where botkit keeps its database when nothing else is configured."""
    if explicit := os.environ.get("BOTKIT_DATA"):
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "botkit"


def load_config(path: Path, environ: Mapping[str, str] | None = None) -> Config:
    """Read and check a config file.

    Raises:
        ConfigError: the file is unreadable, not YAML, or has invalid settings.
    """
    try:
        raw = load_yaml(read_yaml_text(path))
    except OSError as error:
        raise ConfigError([f"cannot read: {error.strerror}"], str(path)) from error
    except UnicodeDecodeError as error:
        raise ConfigError([f"not UTF-8 text (byte {error.start})"], str(path)) from error
    except YamlTooLargeError as error:
        raise ConfigError([str(error)], str(path)) from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(error, "problem", None)
        reason = f" ({problem})" if problem else ""
        raise ConfigError([f"{where}not valid YAML{reason}"], str(path)) from error
    return parse_config(raw or {}, base=path.parent, environ=environ, source=str(path))


def parse_config(
    raw: object,
    *,
    base: Path = Path(),
    environ: Mapping[str, str] | None = None,
    source: str = "config",
) -> Config:
    """Check a parsed config mapping and build the :class:`Config` it describes."""
    checker = _Checker(environ if environ is not None else os.environ)
    data = checker.expand(raw, "")
    config = checker.config(data, base)
    if checker.problems:
        raise ConfigError(checker.problems, source)
    return config


class _Checker:
    """Collects every problem of a config instead of stopping at the first."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ
        self.problems: list[str] = []

    def expand(self, value: object, path: str) -> Any:
        if isinstance(value, dict):
            return {k: self.expand(v, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [self.expand(v, f"{path}[{i}]") for i, v in enumerate(value)]
        if isinstance(value, str) and "${" in value:
            return self._substitute(value, path)
        return value

    def _substitute(self, value: str, path: str) -> str:
        secret = False

        def lookup(match: re.Match[str]) -> str:
            nonlocal secret
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                secret = True
                return self.environ[name]
            if default is not None:
                return default
            self.problems.append(f"{path}: environment variable {name} is not set")
            return ""

        text = _ENV.sub(lookup, value)
        return Secret(text) if secret else text

    def section(self, data: Mapping[str, Any], key: str, path: str) -> dict[str, Any]:
        value = data.get(key, {})
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.problems.append(f"{path}: expected a mapping, found {type(value).__name__}")
            return {}
        return value

    def number(
        self, data: Mapping[str, Any], key: str, path: str, default: int, low: int, high: int
    ) -> int:
        value = data.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            self.problems.append(f"{path}.{key}: expected a whole number {low}..{high}")
            return default
        return value

    def unknown(self, data: Mapping[str, Any], allowed: set[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                where = f"{path}.{key}" if path else str(key)
                self.problems.append(f"{where}: unknown setting")

    def config(self, data: object, base: Path) -> Config:
        if not isinstance(data, dict):
            self.problems.append("top level: expected a mapping of settings")
            return Config(data_dir=default_data_dir())
        self.unknown(
            data,
            {
                "data_dir",
                "owners",
                "packs",
                "backends",
                "default_backend",
                "conversation",
                "scheduler",
                "adapters",
                "reply_tokens",
                "memory",
                "plugins",
                "ops",
                "store",
            },
            "",
        )
        data_dir = data.get("data_dir")
        packs, installers = self.packs(data.get("packs", []))
        backends = self.backends(self.section(data, "backends", "backends"))
        default_backend = data.get("default_backend", next(iter(backends), "local"))
        if default_backend not in backends:
            self.problems.append(f"default_backend: {default_backend!r} is not in backends")
        scheduler = self.scheduler(self.section(data, "scheduler", "scheduler"))
        if scheduler.backend is not None and scheduler.backend not in backends:
            self.problems.append(f"scheduler.backend: {scheduler.backend!r} is not in backends")
        plugin_folders, disabled = self.plugins(self.section(data, "plugins", "plugins"))
        ops = self.section(data, "ops", "ops")
        self.unknown(ops, {"host", "port"}, "ops")
        ops_host = ops.get("host", "127.0.0.1")
        if not isinstance(ops_host, str) or not ops_host:
            self.problems.append("ops.host: expected an address to listen on")
            ops_host = "127.0.0.1"
        store = self.section(data, "store", "store")
        self.unknown(store, {"url", "lease_seconds"}, "store")
        store_url = store.get("url")
        if store_url is not None and (
            not isinstance(store_url, str)
            or not store_url.startswith(STORE_SCHEMES)
            or store_url in STORE_SCHEMES
        ):
            self.problems.append("store.url: expected postgresql://… or sqlite:///path")
            store_url = None
        adapters = self.section(data, "adapters", "adapters")
        for name, options in adapters.items():
            if options is not None and not isinstance(options, dict):
                self.problems.append(f"adapters.{name}: expected a mapping of options")
            else:
                self.adapter(str(name), options or {})
        return Config(
            data_dir=(base / str(data_dir)).expanduser() if data_dir else default_data_dir(),
            packs=tuple((base / p).expanduser() for p in packs),
            pack_installers=installers,
            owners=self.owners(data.get("owners", [])),
            backends=backends,
            default_backend=str(default_backend),
            conversation=self.conversation(self.section(data, "conversation", "conversation")),
            scheduler=scheduler,
            adapters={name: options or {} for name, options in adapters.items()},
            reply_tokens=self.number(data, "reply_tokens", "", 96, 8, 4096),
            memory=self.memory(self.section(data, "memory", "memory")),
            plugin_folders=tuple((base / p).expanduser() for p in plugin_folders),
            disabled_plugins=frozenset(disabled),
            ops_host=ops_host,
            ops_port=self.number(ops, "port", "ops", 0, 0, 65535) if "port" in ops else None,
            store_url=store_url,
            lease_seconds=self.number(store, "lease_seconds", "store", 15, 2, 3600),
        )

    def adapter(self, name: str, options: Mapping[str, Any]) -> None:
        """Check ``adapters.NAME``: an installed adapter, and the options it declares."""
        try:
            factory = adapter_factory(name, options)
        except LookupError as error:
            self.problems.append(f"adapters.{name}: {error}")
            return
        table = adapter_options(factory)
        if table is not None:
            self.problems += check_options(options, table, f"adapters.{name}", what=name)

    def packs(self, data: object) -> tuple[list[str], frozenset[str]]:
        """Pack folders and pack installers: a list of folders, or a mapping of both."""
        if isinstance(data, dict):
            self.unknown(data, {"folders", "installers"}, "packs")
            folders, installers = data.get("folders", []), data.get("installers", [])
            path = "packs.folders"
        else:
            folders, installers, path = data, [], "packs"
        if not isinstance(folders, list) or not all(isinstance(p, str) for p in folders):
            self.problems.append(f"{path}: expected a list of pack folders")
            folders = []
        if not isinstance(installers, list) or not all(
            isinstance(entry, str) and _INSTALLER.match(entry) for entry in installers
        ):
            self.problems.append(
                "packs.installers: expected a list of platform:user-id (or platform:*) entries"
            )
            installers = []
        return folders, frozenset(installers)

    def plugins(self, data: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """``plugins``: folders to load plugins from, and plugins not to load."""
        self.unknown(data, {"folders", "disabled"}, "plugins")
        found = []
        for key in ("folders", "disabled"):
            value = data.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                self.problems.append(f"plugins.{key}: expected a list of names")
                value = []
            found.append(value)
        return found[0], found[1]

    def url(self, data: Mapping[str, Any], key: str, path: str) -> str | None:
        """An optional http(s) URL setting."""
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.startswith(("http://", "https://")):
            self.problems.append(f"{path}.{key}: expected an http:// or https:// URL")
            return None
        return value

    def owners(self, data: object) -> frozenset[str]:
        """``owners``: platform:user-id entries (no wildcard: an owner is one person)."""
        if not isinstance(data, list) or not all(
            isinstance(entry, str) and _INSTALLER.match(entry) and not entry.endswith(":*")
            for entry in data
        ):
            self.problems.append("owners: expected a list of platform:user-id entries")
            return frozenset()
        return frozenset(data)

    def backends(self, data: dict[str, Any]) -> dict[str, BackendConfig]:
        if not data:
            if not embedded_available():
                self.problems.append(f"backends: none configured, and {EMBEDDED_MISSING}")
            return {"local": BackendConfig("local", "llamacpp")}
        found: dict[str, BackendConfig] = {}
        for name, options in data.items():
            path = f"backends.{name}"
            if not isinstance(options, dict):
                self.problems.append(f"{path}: expected a mapping with a type")
                continue
            options = dict(options)
            kind = options.pop("type", None)
            if not isinstance(kind, str) or not kind:
                self.problems.append(
                    f"{path}.type: expected one of {', '.join(BACKEND_TYPES)}, or a type a"
                    " plugin adds"
                )
                continue
            fallback = options.pop("fallback", None)
            if kind == "llamacpp" and not embedded_available():
                self.problems.append(f"{path}.type: {EMBEDDED_MISSING}")
            if kind in BACKEND_OPTIONS:
                self.problems += check_options(
                    options, BACKEND_OPTIONS[kind], path, what=f"an {kind} backend"
                )
            found[name] = BackendConfig(name, kind, options, fallback)
        for backend in found.values():
            if backend.fallback is not None and backend.fallback not in found:
                self.problems.append(
                    f"backends.{backend.name}.fallback: {backend.fallback!r} is not a backend"
                )
        return found

    def conversation(self, data: dict[str, Any]) -> ConversationSettings:
        self.unknown(
            data,
            {
                "max_hops",
                "turn_budget",
                "history_turns",
                "max_message_chars",
                "max_reply_chars",
                "cast",
                "max_cast",
                "max_queued",
                "avatar_base_url",
            },
            "conversation",
        )
        cast = data.get("cast", [])
        if not isinstance(cast, list) or not all(isinstance(c, str) for c in cast):
            self.problems.append("conversation.cast: expected a list of character ids")
            cast = []
        return ConversationSettings(
            max_hops=self.number(data, "max_hops", "conversation", 3, 0, 50),
            turn_budget=self.number(data, "turn_budget", "conversation", 5, 1, 100),
            history_turns=self.number(data, "history_turns", "conversation", 60, 2, 10_000),
            max_message_chars=self.number(
                data, "max_message_chars", "conversation", 4000, 100, 100_000
            ),
            max_reply_chars=self.number(
                data, "max_reply_chars", "conversation", 16_000, 100, 1_000_000
            ),
            default_cast=tuple(cast),
            max_cast=self.number(data, "max_cast", "conversation", 8, 1, 25),
            max_queued=self.number(data, "max_queued", "conversation", 100, 1, 10_000),
            avatar_base_url=self.url(data, "avatar_base_url", "conversation"),
        )

    def scheduler(self, data: dict[str, Any]) -> SchedulerConfig:
        self.unknown(
            data,
            {"policy", "max_group_speakers", "backend", "model_timeout", "likelihood_weight"},
            "scheduler",
        )
        policy = data.get("policy", "scoring")
        if policy not in POLICY_SUMMARIES:
            self.problems.append(f"scheduler.policy: expected one of {', '.join(POLICY_SUMMARIES)}")
            policy = "scoring"
        backend = data.get("backend")
        if backend is not None and not isinstance(backend, str):
            self.problems.append("scheduler.backend: expected a backend name")
            backend = None
        timeout = data.get("model_timeout", 8.0)
        if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
            self.problems.append("scheduler.model_timeout: expected a number of seconds above 0")
            timeout = 8.0
        return SchedulerConfig(
            policy=policy,
            max_group_speakers=self.number(data, "max_group_speakers", "scheduler", 2, 1, 8),
            backend=backend,
            model_timeout=float(timeout),
            likelihood_weight=self.likelihood_weight(data),
        )

    def likelihood_weight(self, data: Mapping[str, Any]) -> float | None:
        weight = data.get("likelihood_weight")
        if weight is None:
            return None
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight < 0:
            self.problems.append("scheduler.likelihood_weight: expected a number of 0 or more")
            return None
        return float(weight)

    def fraction(self, data: Mapping[str, Any], key: str, path: str, default: float) -> float:
        value = data.get(key, default)
        if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            self.problems.append(f"{path}.{key}: expected a number of 0 or more")
            return default
        return float(value)

    def memory(self, data: dict[str, Any]) -> MemorySettings:
        path = "memory"
        self.unknown(
            data,
            {
                "enabled",
                "share",
                "recall",
                "recall_budget_ms",
                "candidates",
                "min_similarity",
                "weights",
                "observations",
                "observe_quiet_minutes",
                "observe_every",
                "flush_seconds",
                "embeddings",
                "chroma",
            },
            path,
        )
        enabled = data.get("enabled", True)
        if not isinstance(enabled, bool):
            self.problems.append("memory.enabled: expected true or false")
            enabled = True
        share = data.get("share", "channel")
        if share not in ("channel", "server"):
            self.problems.append("memory.share: expected channel or server")
            share = "channel"
        return MemorySettings(
            enabled=enabled,
            share=share,
            recall=self.number(data, "recall", path, 6, 0, 100),
            recall_budget_ms=self.fraction(data, "recall_budget_ms", path, 300.0),
            candidates=self.number(data, "candidates", path, 40, 1, 1000),
            min_similarity=self.fraction(data, "min_similarity", path, 0.2),
            weights=self.weights(self.section(data, "weights", "memory.weights")),
            observations=self.observations(data.get("observations", "auto")),
            observe_quiet_minutes=self.fraction(data, "observe_quiet_minutes", path, 30.0),
            observe_every=self.number(data, "observe_every", path, 40, 1, 10_000),
            flush_seconds=self.fraction(data, "flush_seconds", path, 30.0),
            embeddings=self.embeddings(self.section(data, "embeddings", "memory.embeddings")),
            chroma=self.chroma(self.section(data, "chroma", "memory.chroma")),
        )

    def observations(self, value: object) -> str:
        """``memory.observations`` as ``on``, ``off`` or ``auto`` (YAML's true/false too)."""
        if isinstance(value, bool):
            return "on" if value else "off"
        if value in ("on", "off", "auto"):
            return str(value)
        self.problems.append("memory.observations: expected on, off or auto")
        return "auto"

    def weights(self, data: dict[str, Any]) -> RankingWeights:
        path = "memory.weights"
        defaults = RankingWeights()
        names = (
            "relevance",
            "recency",
            "importance",
            "half_life_hours",
            "dense",
            "lexical",
            "neighbours",
            "named_speaker",
            "timely",
        )
        self.unknown(data, {*names, "rrf_k"}, path)
        values = {name: self.fraction(data, name, path, getattr(defaults, name)) for name in names}
        rrf_k = self.number(data, "rrf_k", path, defaults.rrf_k, 1, 10_000)
        try:
            return RankingWeights(**values, rrf_k=rrf_k)
        except ValueError as error:
            self.problems.append(f"{path}: {error}")
            return defaults

    def embeddings(self, data: dict[str, Any]) -> dict[str, Any]:
        path = "memory.embeddings"
        kind = data.get("type", "local")
        if kind == "local":
            self.unknown(data, {"type", "batch_size"}, path)
        elif kind == "openai":
            self.unknown(
                data, {"type", "base_url", "model", "api_key", "batch_size", "timeout"}, path
            )
            for required in ("base_url", "model"):
                if not data.get(required):
                    self.problems.append(f"{path}.{required}: required for openai embeddings")
        else:
            self.problems.append(f"{path}.type: expected local or openai")
        self.number(data, "batch_size", path, 32, 1, 2048)
        return {"type": kind, **data}

    def chroma(self, data: dict[str, Any]) -> dict[str, Any]:
        path = "memory.chroma"
        self.unknown(data, {"path", "host", "port", "ssl"}, path)
        if data.get("host") and data.get("path"):
            self.problems.append(f"{path}: give either path (embedded) or host (server), not both")
        if "port" in data:
            self.number(data, "port", path, 8000, 1, 65535)
        return data

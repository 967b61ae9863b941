"""The configured backends by name, and which one (with what settings) serves a character."""

from __future__ import annotations

from collections.abc import Mapping

from botkit.backends.base import ChatBackend, PromptLimited, Sampling
from botkit.characters.model import Character
from botkit.prompt import PromptBuilder
from botkit.read_ahead import ReadAhead

__all__ = ["BackendSet"]


class BackendSet:
    """Named backends plus the default; resolves per-character overrides.

    ``read_ahead`` runs the backends' idle-time reading of likely next prompts.
    """

    def __init__(
        self,
        backends: Mapping[str, ChatBackend],
        *,
        default: str,
        reply_tokens: int = 96,
    ) -> None:
        if default not in backends:
            raise ValueError(f"default backend {default!r} is not configured")
        self._backends = dict(backends)
        self._default = default
        self._reply_tokens = reply_tokens
        self._builders: dict[tuple[str, int], PromptBuilder] = {}
        self.read_ahead = ReadAhead()

    @property
    def default(self) -> ChatBackend:
        """The backend characters use unless they ask for another."""
        return self._backends[self._default]

    def named(self, name: str) -> ChatBackend:
        """The backend called ``name``.

        Raises:
            KeyError: no backend has that name (the message says which exist).
        """
        try:
            return self._backends[name]
        except KeyError:
            known = ", ".join(self._backends)
            raise KeyError(f"no backend called {name!r} (configured: {known})") from None

    def all(self) -> list[ChatBackend]:
        """Every configured backend."""
        return list(self._backends.values())

    def for_character(self, character: Character) -> ChatBackend:
        """The backend ``character`` speaks through (its ``backend.use``, else the default)."""
        use = character.backend.use
        if use is None:
            return self.default
        try:
            return self._backends[use]
        except KeyError:
            raise KeyError(
                f"character {character.id!r} asks for backend {use!r}, which is not configured"
            ) from None

    def sampling_for(self, character: Character) -> Sampling:
        """The character's model and sampling overrides."""
        override = character.backend
        return Sampling(
            model=override.model,
            temperature=override.temperature,
            top_p=override.top_p,
            max_tokens=override.max_tokens or self._reply_tokens,
        )

    def prompt_builder(self, backend: ChatBackend, reply_tokens: int) -> PromptBuilder:
        """A prompt builder sized for ``backend``'s context window and, where it declares
        them, its prompt limits (built once per size)."""
        key = (backend.name, reply_tokens)
        builder = self._builders.get(key)
        if builder is None:
            builder = PromptBuilder(
                counter=backend.token_counter,
                context_window=backend.context_window,
                reply_tokens=reply_tokens,
                limits=backend.prompt_limits if isinstance(backend, PromptLimited) else None,
            )
            self._builders[key] = builder
        return builder

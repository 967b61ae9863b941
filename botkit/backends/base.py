"""The one streaming chat interface every model backend implements, and its errors."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal, Protocol, runtime_checkable

from botkit.tokens import TokenCounter

__all__ = [
    "BackendAuthError",
    "BackendError",
    "BackendNotFound",
    "BackendProtocolError",
    "BackendRateLimited",
    "BackendTimeout",
    "BackendUnavailable",
    "ChatBackend",
    "ChatMessage",
    "ChatRequest",
    "ContinuationRequest",
    "ContinuationScorer",
    "PromptLimited",
    "PromptLimits",
    "PromptPreparer",
    "Sampling",
]

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True, slots=True)
class ChatMessage:
    """One message of a chat prompt."""

    role: Role
    content: str


@dataclass(frozen=True, slots=True)
class Sampling:
    """Generation settings; ``None`` leaves the backend's own default in place."""

    model: str | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] = ()

    def merged(self, override: Sampling) -> Sampling:
        """These settings with every field that ``override`` sets taken from it."""
        return replace(
            self,
            model=override.model if override.model is not None else self.model,
            temperature=(
                override.temperature if override.temperature is not None else self.temperature
            ),
            top_p=override.top_p if override.top_p is not None else self.top_p,
            max_tokens=override.max_tokens if override.max_tokens is not None else self.max_tokens,
            stop=override.stop or self.stop,
        )


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A prompt and how to sample the answer.

    ``prefix`` is text the reply continues from (a speaker's ``Name:`` tag): backends that
    can start the assistant turn with it do so and leave it out of what they yield; others
    ignore it, and the reply filter strips the tag if the model writes it itself.

    ``choices``, when given, are the only answers wanted (a turn-taking decision): backends
    that can constrain their output to one of them (a llama.cpp grammar, vLLM structured
    outputs) do so; others answer freely and the caller parses the text.
    """

    messages: tuple[ChatMessage, ...]
    sampling: Sampling = field(default_factory=Sampling)
    prefix: str = ""
    choices: tuple[str, ...] = ()


@runtime_checkable
class ChatBackend(Protocol):
    """A model that streams a chat completion as text fragments.

    ``stream`` yields text as it is generated and raises a :class:`BackendError` subclass
    when the model cannot answer. Cancelling the consuming task stops generation.
    """

    name: str

    @property
    def context_window(self) -> int:
        """Tokens the model accepts, prompt and reply together."""
        ...

    @property
    def token_counter(self) -> TokenCounter:
        """Counts tokens the way this backend's model does (or as near as is known)."""
        ...

    def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Generate a reply to ``request``, yielding text fragments."""
        ...

    async def aclose(self) -> None:
        """Release connections, threads and model memory."""
        ...


@dataclass(frozen=True, slots=True)
class ContinuationRequest:
    """A prompt and the texts whose likelihood as the start of the reply is wanted.

    ``continuations`` are scored each on its own, as the first words of the assistant's
    reply to ``messages``; ``model`` picks a served model other than the backend's default.
    """

    messages: tuple[ChatMessage, ...]
    continuations: tuple[str, ...]
    model: str | None = None


@runtime_checkable
class ContinuationScorer(Protocol):
    """A backend that can say how likely each of a few texts is to open its reply.

    Turn-taking uses it to weigh name tags (``"Mira:"``) without generating anything.
    """

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        """The natural-log probability of each continuation, in order.

        Raises a :class:`BackendError` subclass when the model cannot answer, as ``stream``
        does.
        """
        ...


@dataclass(frozen=True, slots=True)
class PromptLimits:
    """How much prompt a model makes good use of, below what its context window holds.

    A tiny model follows a short prompt better than a long one, and reads it sooner:
    ``max_tokens`` caps the whole prompt, ``max_examples`` the sample exchanges of the
    character block and ``max_turns`` the recent turns. ``None`` leaves a part unlimited.
    ``context_after_turns`` moves what changes from turn to turn after the older turns,
    for a backend that reuses the evaluation of an unchanged prompt start.
    """

    max_tokens: int | None = None
    max_examples: int | None = None
    max_turns: int | None = None
    context_after_turns: bool = False


@runtime_checkable
class PromptLimited(Protocol):
    """A backend whose model wants a smaller prompt than its context window allows."""

    @property
    def prompt_limits(self) -> PromptLimits:
        """The limits prompts for this backend are built within."""
        ...


@runtime_checkable
class PromptPreparer(Protocol):
    """A backend that can read the opening of a likely next prompt ahead of time.

    While a chat is idle, its next prompts are known up to the message that has not come
    yet; a backend that keeps what it read of a prompt reads that much beforehand, so the
    reply only waits for the rest.
    """

    async def prepare(self, messages: Sequence[ChatMessage]) -> int:
        """Read ``messages`` as the opening of a later prompt; how many tokens were read.

        Gives way to replies: returns early, keeping what it read, once a reply or a
        score is asked for. Never raises for a busy or failing model; it just reads less.
        """
        ...


class BackendError(Exception):
    """A backend could not produce a reply; the message is one line fit for operators."""

    retryable: bool = False


class BackendTimeout(BackendError):
    """The backend did not answer (or stopped streaming) within the configured time."""

    retryable = True


class BackendUnavailable(BackendError):
    """The backend is unreachable or failed on its side (connection error, 5xx)."""

    retryable = True


class BackendRateLimited(BackendError):
    """The backend asked us to slow down and retries did not get through."""

    retryable = True


class BackendAuthError(BackendError):
    """The backend refused our credentials (401/403)."""


class BackendNotFound(BackendError):
    """The endpoint or model name does not exist on the backend (404)."""


class BackendProtocolError(BackendError):
    """The backend answered with something that is not a valid completion stream."""

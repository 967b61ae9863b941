"""Reuse of evaluated prompt prefixes in an embedded llama.cpp model.

A prompt that opens like one the model evaluated before (the same character's block and
the earlier turns of its chat) only evaluates its new tokens. The model's memory (KV
cells) of earlier prompts is kept per prompt within a byte budget, so characters that
take turns each find their own prefix again; generation and likelihood scoring share it.
"""

from __future__ import annotations

import ctypes
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["FRESH_TOKENS", "PrefixCache", "PromptMemory", "ReuseStats", "rewind", "shared_length"]

MIN_GAIN = 16
"""Fewest tokens a kept memory must add to the live one to be loaded: loading copies
megabytes, and evaluating a handful of tokens is cheaper."""
FRESH_TOKENS = 2
"""Tokens re-evaluated at the end of a prompt that is (partly) in memory already.

llama.cpp computes a lone token along another path, whose logits differ from a full
evaluation (by up to 0.7 in log-probability with a 4-bit model); from two tokens on they
are the same to the bit.
"""


@dataclass(slots=True)
class ReuseStats:
    """How many prompt tokens were taken from memory instead of being evaluated."""

    prompts: int = 0
    prompt_tokens: int = 0
    reused_tokens: int = 0
    last_prompt_tokens: int = 0
    last_reused_tokens: int = 0
    prepared_tokens: int = 0
    """Tokens read ahead of time, while the chat was idle (see :meth:`PromptMemory.extend`)."""

    @property
    def share(self) -> float:
        """The share of all prompt tokens so far that were reused (0 before any prompt)."""
        return self.reused_tokens / self.prompt_tokens if self.prompt_tokens else 0.0

    def record(self, prompt_tokens: int, reused_tokens: int) -> None:
        """Counts one evaluated prompt."""
        self.prompts += 1
        self.prompt_tokens += prompt_tokens
        self.reused_tokens += reused_tokens
        self.last_prompt_tokens = prompt_tokens
        self.last_reused_tokens = reused_tokens


class PrefixCache:
    """Saved model memories of evaluated token sequences, least recently used first,
    within ``capacity`` bytes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes the kept states take."""
        return self._size

    def __len__(self) -> int:
        return len(self._states)

    def closest(self, tokens: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """The kept sequence sharing the longest start with ``tokens``, and that length."""
        best: tuple[tuple[int, ...], int] = ((), 0)
        for key in self._states:
            shared = shared_length(key, tokens)
            if shared > best[1]:
                best = (key, shared)
        return best

    def state(self, key: tuple[int, ...], *, keep: bool) -> bytes:
        """The saved state of ``key``, which becomes the most recently used, or leaves the
        cache unless ``keep`` (the model that loads it goes on from there, and is saved
        again when something replaces it)."""
        state = self._states[key]
        if keep:
            self._states.move_to_end(key)
        else:
            self._drop(key)
        return state

    def put(self, key: tuple[int, ...], llama: Any) -> None:
        """Saves ``llama``'s memory of ``key``, dropping what it supersedes (kept
        sequences that ``key`` begins with) and then the oldest, to stay in budget."""
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(llama.ctx, 0)
        if size > self.capacity:
            return
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llama.ctx, buffer, size, 0)
        for kept in [k for k in self._states if key[: len(k)] == k]:
            self._drop(kept)
        self._states[key] = memoryview(buffer)[:written].tobytes()
        self._size += written
        while self._size > self.capacity:
            self._drop(next(iter(self._states)))

    def clear(self) -> None:
        """Forgets every kept state."""
        self._states.clear()
        self._size = 0

    def _drop(self, key: tuple[int, ...]) -> None:
        state = self._states.pop(key, None)
        if state is not None:
            self._size -= len(state)


class PromptMemory:
    """Brings a loaded llama.cpp model to the end of a prompt, evaluating only what
    neither its live memory nor a kept one holds.

    The live memory is saved to the cache only when a prompt is about to overwrite it,
    so a chat that grows on the same character costs no copying at all. A kept memory
    that a prompt follows for at least half its length is superseded by it and leaves
    the cache when loaded, so each line of conversation holds one entry; one that only
    shares an opening (common lore) stays for the prompts that follow it further.
    """

    def __init__(self, llama: Any, capacity: int, stats: ReuseStats) -> None:
        self._llama = llama
        self.cache = PrefixCache(capacity)
        self.stats = stats
        self._unsaved: tuple[int, ...] = ()

    def evaluate(self, prompt: list[int]) -> int:
        """Evaluates ``prompt`` from the best start; returns how many tokens were reused.

        The live memory or a kept one, whichever shares more of the prompt, is the start;
        at least the last :data:`FRESH_TOKENS` are evaluated so the logits are those of a
        full evaluation.
        """
        live = self._resume(prompt)
        start = max(0, min(live, len(prompt) - FRESH_TOKENS))
        rewind(self._llama, start)
        self._llama.eval(prompt[start:])
        self._unsaved = tuple(prompt)
        self.stats.record(len(prompt), start)
        return start

    def extend(self, opening: list[int], stop: Callable[[], bool], chunk: int) -> int:
        """Evaluates the part of ``opening`` (the start of prompts to come) that no memory
        holds, ``chunk`` tokens at a time until ``stop`` says so; returns how many tokens
        it evaluated. What it evaluated stays in the live memory for those prompts."""
        llama = self._llama
        position = self._resume(opening)
        rewind(llama, position)
        evaluated = 0
        while position < len(opening) and not stop():
            piece = opening[position : position + chunk]
            llama.eval(piece)
            position += len(piece)
            evaluated += len(piece)
        if evaluated:
            self._unsaved = tuple(opening[:position])
            self.stats.prepared_tokens += evaluated
        else:
            self._unsaved = self._unsaved[:position]
        return evaluated

    def _resume(self, prompt: list[int]) -> int:
        """Makes the live memory the best start for ``prompt`` (loading a kept memory that
        shares more of it, after saving the live one); how many tokens it shares."""
        llama = self._llama
        live = shared_length(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        kept, shared = self.cache.closest(prompt)
        if shared >= live + MIN_GAIN:
            superseded = 2 * shared >= len(kept)
            state = self.cache.state(kept, keep=not superseded)
            self.keep()
            live = shared if _load_sequence(llama, kept, state) else 0
            if live and superseded:
                # It left the cache: the live memory is its only copy now.
                self._unsaved = kept
        elif live < len(self._unsaved):
            self.keep()
        return live

    def settled(self) -> None:
        """Notes that the model's memory now also holds what it went on to generate."""
        self._unsaved = tuple(self._llama.input_ids[: self._llama.n_tokens].tolist())

    def keep(self) -> None:
        """Saves the live memory, unless it is saved already or empty."""
        if self._unsaved:
            self.cache.put(self._unsaved, self._llama)
        self._unsaved = ()

    def forget(self) -> None:
        """Empties the live memory (after a failure left it half-way)."""
        self._llama.reset()
        self._unsaved = ()

    def clear(self) -> None:
        """Forgets the live memory and every kept one."""
        self.cache.clear()
        self.forget()


def shared_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many tokens the two sequences share from their start."""
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def rewind(llama: Any, length: int) -> None:
    """Makes the model forget every evaluated token past the first ``length``."""
    import llama_cpp

    if length >= llama.n_tokens:
        return
    memory = llama_cpp.llama_get_memory(llama.ctx)
    if llama_cpp.llama_memory_seq_rm(memory, 0, length, -1):
        llama.n_tokens = length
        return
    # Memory that cannot be cut (recurrent models) is rebuilt from the start.
    kept = llama.input_ids[:length].tolist()
    llama.reset()
    if kept:
        llama.eval(kept)


def _load_sequence(llama: Any, tokens: tuple[int, ...], state: bytes) -> bool:
    """Puts a saved state of ``tokens`` back in the model; False (and an empty model) when
    llama.cpp refuses it."""
    import llama_cpp

    llama_cpp.llama_memory_seq_rm(llama_cpp.llama_get_memory(llama.ctx), 0, -1, -1)
    buffer = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
    if llama_cpp.llama_state_seq_set_data(llama.ctx, buffer, len(state), 0) != len(state):
        llama.reset()
        return False
    llama.input_ids[: len(tokens)] = tokens
    llama.n_tokens = len(tokens)
    return True

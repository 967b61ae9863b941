"""The embedded default backend: a GGUF model run in-process by llama.cpp on the CPU."""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import random
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from botkit.backends.base import (
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    ChatRequest,
    ContinuationRequest,
    Sampling,
)
from botkit.backends.choices import choice_grammar
from botkit.backends.model_files import locate_model
from botkit.tokens import CallableTokenCounter, TokenCounter

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

__all__ = ["LlamaCppBackend"]

log = logging.getLogger(__name__)

_DONE = object()
_FRESH_TOKENS = 2
"""Tokens re-evaluated at the end of a prompt that is (partly) in memory already.

llama.cpp computes a lone token along another path, whose logits differ from a full
evaluation (by up to 0.7 in log-probability with a 4-bit model); from two tokens on they
are the same to the bit.
"""
_GRAMMARS_KEPT = 64
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _chat_formatter(llama: Any) -> Jinja2ChatFormatter:
    """Formats chat messages with the model's own template (ChatML when it has none)."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template") or _CHATML
    eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "replace")
    bos = llama.detokenize([llama.token_bos()], special=True).decode("utf-8", "replace")
    return Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)


class LlamaCppBackend:
    """Runs a local GGUF model with llama-cpp-python, one generation at a time.

    The model is loaded once (:meth:`load`, off the event loop); generation runs in a
    worker thread and streams fragments back to the loop. Cancelling the consumer stops
    generation at the next token. A RAM cache keeps several characters' prompt prefixes.
    A request with ``choices`` is held to exactly one of them by a llama.cpp grammar.
    Each reply is sampled with a fresh seed drawn from ``seed`` (random when None), so a
    seeded backend is reproducible and an unseeded one varies.

    :meth:`score_continuations` reads likelihoods straight from the logits on the same
    worker and lock as generation. The model's memory of the scoring prompts it evaluated
    is kept (a quarter of ``cache_bytes``) so the next prompt of a growing transcript only
    evaluates its new tokens, even after replies were generated in between.
    """

    def __init__(
        self,
        *,
        name: str = "local",
        model_path: str | Path | None = None,
        context_window: int = 2048,
        threads: int | None = None,
        default_sampling: Sampling | None = None,
        timeout: float = 300.0,
        cache_bytes: int = 256 << 20,
        seed: int | None = None,
    ) -> None:
        self.name = name
        self._model_path = model_path
        self._context_window = context_window
        self._threads = threads or max(1, os.cpu_count() or 1)
        self._default = default_sampling or Sampling(temperature=0.8, top_p=0.9, max_tokens=96)
        self._timeout = timeout
        self._cache_bytes = cache_bytes
        self._rng = random.Random(seed)
        self._llama: Any = None
        self._counter: TokenCounter | None = None
        self._formatter: Jinja2ChatFormatter | None = None
        self._grammars: dict[tuple[str, ...], Any] = {}
        self._prefixes = _Prefixes(cache_bytes // 4)
        self._unsaved: tuple[int, ...] = ()
        self._lock = asyncio.Lock()
        self._load_lock = asyncio.Lock()

    @property
    def context_window(self) -> int:
        """Tokens the loaded context holds, prompt and reply together."""
        return self._context_window

    @property
    def token_counter(self) -> TokenCounter:
        """The model's own tokenizer (exact counts); available once the model is loaded."""
        if self._counter is None:
            raise RuntimeError(f"backend {self.name!r}: the model is not loaded yet")
        return self._counter

    @property
    def model_path(self) -> Path:
        """The GGUF file this backend runs."""
        return locate_model(self._model_path)

    async def load(self) -> None:
        """Load the model (once; later calls return at once)."""
        async with self._load_lock:
            if self._llama is None:
                self._llama = await asyncio.to_thread(self._load_sync)
                self._formatter = _chat_formatter(self._llama)
                tokenize = self._llama.tokenize
                self._counter = CallableTokenCounter(
                    lambda text: tokenize(text.encode("utf-8"), add_bos=False, special=False)
                )

    def _load_sync(self) -> Any:
        from llama_cpp import Llama
        from llama_cpp.llama_cache import LlamaRAMCache

        path = self.model_path
        started = time.perf_counter()
        log.info("loading model %s", path.name)
        llama = Llama(
            model_path=str(path),
            n_ctx=self._context_window,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            verbose=False,
        )
        llama.set_cache(LlamaRAMCache(capacity_bytes=self._cache_bytes))
        log.info("model %s loaded in %.1f s", path.name, time.perf_counter() - started)
        return llama

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Generate a reply, yielding text as the model produces it."""
        await self.load()
        sampling = self._default.merged(request.sampling)
        async with self._lock:
            loop = asyncio.get_running_loop()
            queue: asyncio.Queue[object] = asyncio.Queue()
            stop = threading.Event()

            def produce() -> None:
                try:
                    for fragment in self._generate(request, sampling):
                        if stop.is_set():
                            break
                        loop.call_soon_threadsafe(queue.put_nowait, fragment)
                except Exception as error:
                    loop.call_soon_threadsafe(queue.put_nowait, error)
                loop.call_soon_threadsafe(queue.put_nowait, _DONE)

            worker = asyncio.ensure_future(asyncio.to_thread(produce))
            deadline = loop.time() + self._timeout
            try:
                while True:
                    remaining = deadline - loop.time()
                    try:
                        item = await asyncio.wait_for(queue.get(), timeout=max(remaining, 0))
                    except TimeoutError:
                        raise BackendTimeout(
                            f"backend {self.name!r}: no reply within {self._timeout:.0f} s"
                        ) from None
                    if item is _DONE:
                        break
                    if isinstance(item, Exception):
                        raise BackendProtocolError(
                            f"backend {self.name!r}: llama.cpp failed: {item}"
                        ) from item
                    assert isinstance(item, str)
                    yield item
            finally:
                stop.set()
                await asyncio.shield(worker)

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        """The log-probability of each continuation opening the reply, from the logits.

        The prompt is formatted as for generation (it ends where the reply begins) and
        evaluated once; each continuation is then evaluated after it and the model goes
        back to the prompt's end. ``request.model`` is ignored: one model is loaded.
        """
        await self.load()
        if not request.continuations:
            return ()
        await self._lock.acquire()
        stop = threading.Event()
        worker = asyncio.ensure_future(asyncio.to_thread(self._score, request, stop))
        # The lock is held until the worker ends, even when the caller stops waiting.
        worker.add_done_callback(self._release_after_scoring)
        try:
            async with asyncio.timeout(self._timeout):
                return await asyncio.shield(worker)
        except TimeoutError:
            raise BackendTimeout(
                f"backend {self.name!r}: no scores within {self._timeout:.0f} s"
            ) from None
        except BackendError:
            raise
        except Exception as error:
            raise BackendProtocolError(
                f"backend {self.name!r}: llama.cpp failed: {error}"
            ) from error
        finally:
            stop.set()

    def _release_after_scoring(self, worker: asyncio.Future[tuple[float, ...]]) -> None:
        if not worker.cancelled():
            worker.exception()
        self._lock.release()

    def _score(self, request: ContinuationRequest, stop: threading.Event) -> tuple[float, ...]:
        """Runs on the worker thread, holding the lock."""
        llama = self._llama
        if llama is None or self._formatter is None:
            raise BackendError(f"backend {self.name!r}: the model is not loaded")
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        text = self._formatter(messages=messages).prompt
        prompt: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        endings = [_continuation_tokens(llama, text, prompt, c) for c in request.continuations]
        needed = len(prompt) + max(len(ending) for ending in endings)
        if needed > self._context_window:
            raise BackendError(
                f"backend {self.name!r}: the prompt and continuations take {needed} tokens, "
                f"more than the context window of {self._context_window}"
            )
        try:
            self._evaluate_prompt(llama, prompt)
            scores = _score_endings(llama, prompt, endings, stop)
        except BaseException:
            # A model left half-way is emptied, never trusted.
            llama.reset()
            self._unsaved = ()
            raise
        if stop.is_set():
            raise BackendTimeout(f"backend {self.name!r}: scoring was abandoned")
        return scores

    def _evaluate_prompt(self, llama: Any, prompt: list[int]) -> None:
        """Brings the model to the end of ``prompt``, evaluating only what it lacks.

        The live state or a kept one, whichever shares more of the prompt, is the start.
        """
        live = _shared_length(llama.input_ids[: llama.n_tokens].tolist(), prompt)
        kept, shared = self._prefixes.closest(prompt)
        if shared > live:
            state = self._prefixes.state(kept)
            self._keep_scoring_state()
            live = shared if _load_sequence(llama, kept, state) else 0
        elif live < len(self._unsaved):
            self._keep_scoring_state()
        _evaluate_end(llama, prompt, live)
        self._unsaved = tuple(prompt)

    def _keep_scoring_state(self) -> None:
        """Saves the live state of the last scoring prompt before something replaces it."""
        if self._unsaved and self._llama is not None:
            self._prefixes.put(self._unsaved, self._llama)
        self._unsaved = ()

    def _generate(self, request: ChatRequest, sampling: Sampling) -> Iterator[str]:
        if self._llama is None or self._formatter is None:
            raise BackendError(f"backend {self.name!r}: the model is not loaded")
        self._keep_scoring_state()
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        formatted = self._formatter(messages=messages)
        template_stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        chunks = self._llama.create_completion(
            formatted.prompt + request.prefix,
            stream=True,
            temperature=sampling.temperature if sampling.temperature is not None else 0.8,
            top_p=sampling.top_p if sampling.top_p is not None else 0.95,
            max_tokens=sampling.max_tokens,
            stop=[*sampling.stop, *(stop for stop in template_stop if stop)],
            repeat_penalty=1.15,
            seed=self._rng.randrange(2**31),
            grammar=self._grammar(request.choices) if request.choices else None,
        )
        first = True
        for chunk in chunks:
            text = chunk["choices"][0]["text"]
            if first and text:
                text = text.lstrip()
                first = not text
            if text:
                yield text

    def _grammar(self, choices: tuple[str, ...]) -> Any:
        """The compiled grammar that allows exactly ``choices`` (kept for the next decision)."""
        grammar = self._grammars.get(choices)
        if grammar is None:
            from llama_cpp.llama_grammar import LlamaGrammar

            grammar = LlamaGrammar.from_string(choice_grammar(choices), verbose=False)
            if len(self._grammars) >= _GRAMMARS_KEPT:
                self._grammars.pop(next(iter(self._grammars)))
            self._grammars[choices] = grammar
        return grammar

    async def aclose(self) -> None:
        """Free the model's memory."""
        async with self._lock:
            self._prefixes.clear()
            self._unsaved = ()
            if self._llama is not None:
                llama, self._llama = self._llama, None
                await asyncio.to_thread(llama.close)


class _Prefixes:
    """The model's memory (KV cells) of evaluated scoring prompts, least recently used
    first, within a byte budget."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._states: OrderedDict[tuple[int, ...], bytes] = OrderedDict()
        self._size = 0

    def closest(self, tokens: Sequence[int]) -> tuple[tuple[int, ...], int]:
        """The kept prompt sharing the longest start with ``tokens``, and that length."""
        best: tuple[tuple[int, ...], int] = ((), 0)
        for key in self._states:
            shared = _shared_length(key, tokens)
            if shared > best[1]:
                best = (key, shared)
        return best

    def state(self, key: tuple[int, ...]) -> bytes:
        """The saved state of the prompt ``key`` (which becomes the most recently used)."""
        self._states.move_to_end(key)
        return self._states[key]

    def put(self, key: tuple[int, ...], llama: Any) -> None:
        """Saves ``llama``'s state for ``key``, dropping the oldest to stay in budget."""
        import llama_cpp

        size = llama_cpp.llama_state_seq_get_size(llama.ctx, 0)
        if size > self._capacity:
            return
        self._drop(key)
        buffer = (ctypes.c_uint8 * size)()
        written = llama_cpp.llama_state_seq_get_data(llama.ctx, buffer, size, 0)
        self._states[key] = memoryview(buffer)[:written].tobytes()
        self._size += written
        while self._size > self._capacity:
            self._drop(next(iter(self._states)))

    def clear(self) -> None:
        """Forgets every kept state."""
        self._states.clear()
        self._size = 0

    def _drop(self, key: tuple[int, ...]) -> None:
        state = self._states.pop(key, None)
        if state is not None:
            self._size -= len(state)


def _shared_length(first: Sequence[int], second: Sequence[int]) -> int:
    """How many tokens the two sequences share from their start."""
    length = 0
    for a, b in zip(first, second, strict=False):
        if a != b:
            break
        length += 1
    return length


def _continuation_tokens(llama: Any, text: str, prompt: list[int], continuation: str) -> list[int]:
    """The tokens ``continuation`` adds after the prompt, tokenized as generation would
    see them; on its own where the two would merge across the boundary."""
    joined: list[int] = llama.tokenize(
        (text + continuation).encode("utf-8"), add_bos=True, special=True
    )
    if joined[: len(prompt)] == prompt:
        return joined[len(prompt) :]
    alone: list[int] = llama.tokenize(continuation.encode("utf-8"), add_bos=False, special=False)
    return alone


def _last_logprobs(llama: Any) -> npt.NDArray[np.float64]:
    """The log-softmax of the logits after the last evaluated token."""
    import llama_cpp

    row = llama_cpp.llama_get_logits_ith(llama.ctx, -1)
    logits = np.ctypeslib.as_array(row, shape=(llama.n_vocab(),)).astype(np.float64)
    top = logits.max()
    result: npt.NDArray[np.float64] = logits - (top + np.log(np.exp(logits - top).sum()))
    return result


def _score_endings(
    llama: Any, prompt: list[int], endings: list[list[int]], stop: threading.Event
) -> tuple[float, ...]:
    """The summed log-probability of each ending after ``prompt``, which is evaluated;
    the model is back at the prompt's end afterwards (sooner, when ``stop`` is set)."""
    opening = _last_logprobs(llama)
    scores: list[float] = []
    for ending in endings:
        if stop.is_set():
            break
        total, logprobs = 0.0, opening
        for index, token in enumerate(ending):
            if index:
                llama.eval(ending[index - 1 : index])
                logprobs = _last_logprobs(llama)
            total += float(logprobs[token])
        _rewind(llama, len(prompt))
        scores.append(total)
    if any(len(ending) > 1 for ending in endings):
        # Generation samples from the live logits when its prompt is already evaluated,
        # so they must be the prompt's own again, not a continuation's.
        _evaluate_end(llama, prompt, len(prompt))
    return tuple(scores)


def _evaluate_end(llama: Any, prompt: list[int], shared: int) -> None:
    """Evaluates ``prompt`` after its first ``shared`` tokens, which are in memory; at
    least its last :data:`_FRESH_TOKENS`, so the logits are those of a full evaluation."""
    start = max(0, min(shared, len(prompt) - _FRESH_TOKENS))
    _rewind(llama, start)
    llama.eval(prompt[start:])


def _rewind(llama: Any, length: int) -> None:
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

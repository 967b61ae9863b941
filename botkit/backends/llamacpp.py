"""The embedded default backend: a GGUF model run in-process by llama.cpp on the CPU."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from botkit.backends.base import (
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    ChatMessage,
    ChatRequest,
    ContinuationRequest,
    PromptLimits,
    Sampling,
)
from botkit.backends.choices import choice_grammar
from botkit.backends.core_share import CoreShare
from botkit.backends.llama_prefixes import FRESH_TOKENS, PromptMemory, ReuseStats, rewind
from botkit.backends.model_convert import ModelConversionError, converted_model
from botkit.backends.model_files import MODEL_ENV, locate_model
from botkit.tokens import CallableTokenCounter, TokenCounter

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

__all__ = ["LlamaCppBackend", "available_cores", "default_threads"]

log = logging.getLogger(__name__)

_DONE = object()
_GRAMMARS_KEPT = 64
PREPARE_CHUNK = 32
"""Tokens read ahead per step: a reply asked for meanwhile waits for one step at most
(about 0.2 s with the default model on one core)."""
TINY_MODEL_PARAMS = 1_000_000_000
"""Below this many parameters a model gets :data:`TINY_PROMPT`."""
TINY_PROMPT = PromptLimits(max_tokens=768, max_examples=1, max_turns=12, context_after_turns=True)
"""What a tiny model (SmolLM2-135M) reads well: one example and the last dozen turns, laid
out so that a follow-up reply's prompt starts like the previous one."""
_CHATML = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
    "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)


def _chat_formatter(llama: Any, *, reply: bool = True) -> Jinja2ChatFormatter:
    """Formats chat messages with the model's own template (ChatML when it has none);
    ending where the model's reply begins, unless not ``reply``."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llama.metadata.get("tokenizer.chat_template") or _CHATML
    eos = llama.detokenize([llama.token_eos()], special=True).decode("utf-8", "replace")
    bos = llama.detokenize([llama.token_bos()], special=True).decode("utf-8", "replace")
    return Jinja2ChatFormatter(
        template=template, eos_token=eos, bos_token=bos, add_generation_prompt=reply
    )


class LlamaCppBackend:
    """Runs a local GGUF model with llama-cpp-python, one generation at a time.

    The model is loaded once (:meth:`load`, off the event loop); generation runs in a
    worker thread and streams fragments back to the loop. Cancelling the consumer stops
    generation at the next token. The model's memory of evaluated prompts is kept within
    ``cache_bytes`` (:class:`PromptMemory`), so a prompt that opens like an earlier one (a
    character's block and the chat so far) only evaluates its new tokens, even when other
    characters spoke in between; :attr:`reuse` counts the tokens reused.
    A request with ``choices`` is held to exactly one of them by a llama.cpp grammar.
    Each reply is sampled with a fresh seed drawn from ``seed`` (random when None), so a
    seeded backend is reproducible and an unseeded one varies.

    :meth:`score_continuations` reads likelihoods straight from the logits on the same
    worker, lock and prompt memory as generation.

    ``threads`` fixes llama.cpp's thread count; by default it follows what else runs on
    the machine (see :mod:`botkit.backends.core_share`): every core the process may use
    while the others are idle, :func:`default_threads` at least. ``convert`` names a weight
    format the model is converted to before loading (see
    :mod:`botkit.backends.model_convert`); by default the packaged model is converted to
    Q8_0, a configured one is loaded as it is.
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
        convert: str | None = None,
    ) -> None:
        self.name = name
        self._model_path = model_path
        self._convert = convert
        self._context_window = context_window
        self._threads = threads or default_threads()
        self._share = None if threads else CoreShare(available_cores(), self._threads)
        self._default = default_sampling or Sampling(temperature=0.8, top_p=0.9, max_tokens=96)
        self._timeout = timeout
        self._cache_bytes = cache_bytes
        self._rng = random.Random(seed)
        self._llama: Any = None
        self._counter: TokenCounter | None = None
        self._formatter: Jinja2ChatFormatter | None = None
        self._opening_formatter: Jinja2ChatFormatter | None = None
        self._grammars: dict[tuple[str, ...], Any] = {}
        self._memory: PromptMemory | None = None
        self._reuse = ReuseStats()
        self._lock = asyncio.Lock()
        self._asking = 0
        """Replies and scores waiting for the model: reading ahead gives way to them."""
        self._load_lock = asyncio.Lock()

    @property
    def context_window(self) -> int:
        """Tokens the loaded context holds, prompt and reply together."""
        return self._context_window

    @property
    def prompt_limits(self) -> PromptLimits:
        """:data:`TINY_PROMPT` for a loaded model under :data:`TINY_MODEL_PARAMS`
        parameters; no limits for a larger one (or before loading)."""
        if self._llama is None:
            return PromptLimits()
        import llama_cpp

        tiny = llama_cpp.llama_model_n_params(self._llama.model) < TINY_MODEL_PARAMS
        return TINY_PROMPT if tiny else PromptLimits()

    @property
    def threads(self) -> int:
        """CPU threads llama.cpp evaluated or generated with last."""
        return self._threads

    @property
    def adapts_threads(self) -> bool:
        """Whether the thread count follows what else runs (no ``threads`` configured)."""
        return self._share is not None

    def _share_cores(self, llama: Any, *, starting: bool) -> None:
        """Sets the threads for the next step from what else runs (on the worker thread).

        ``starting``: before a prompt, when only the asking thread of the model runs.
        """
        if self._share is None:
            return
        threads = self._share.threads(self._threads, starting=starting)
        if threads != self._threads:
            import llama_cpp

            llama_cpp.llama_set_n_threads(llama.ctx, threads, threads)
            self._threads = threads

    @property
    def reuse(self) -> ReuseStats:
        """Prompt tokens evaluated and reused so far."""
        return self._reuse

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
                self._memory = PromptMemory(self._llama, self._cache_bytes, self._reuse)
                self._formatter = _chat_formatter(self._llama)
                self._opening_formatter = _chat_formatter(self._llama, reply=False)
                tokenize = self._llama.tokenize
                self._counter = CallableTokenCounter(
                    lambda text: tokenize(text.encode("utf-8"), add_bos=False, special=False)
                )

    def _load_sync(self) -> Any:
        from llama_cpp import Llama

        path = self._loadable(self.model_path)
        started = time.perf_counter()
        log.info("loading model %s", path.name)
        llama = Llama(
            model_path=str(path),
            n_ctx=self._context_window,
            n_threads=self._threads,
            n_threads_batch=self._threads,
            verbose=False,
        )
        log.info("model %s loaded in %.1f s", path.name, time.perf_counter() - started)
        return llama

    @property
    def conversion(self) -> str:
        """The weight format the model is converted to before loading (``none``: as it is)."""
        if self._convert is not None:
            return self._convert
        return "none" if self._model_path or os.environ.get(MODEL_ENV) else "q8_0"

    @property
    def model_label(self) -> str:
        """The model file, and the format it is loaded in where it is converted (for
        progress lines)."""
        name = self.model_path.name
        return name if self.conversion == "none" else f"{name} as {self.conversion.upper()}"

    def _loadable(self, path: Path) -> Path:
        """``path`` converted as configured; ``path`` itself when converting fails."""
        try:
            return converted_model(path, self.conversion)
        except (ModelConversionError, OSError) as error:
            log.warning("loading %s as it is: %s", path.name, error)
            return path

    async def stream(self, request: ChatRequest) -> AsyncIterator[str]:
        """Generate a reply, yielding text as the model produces it."""
        await self.load()
        sampling = self._default.merged(request.sampling)
        async with self._asking_for_model():
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
        await self._take_model()
        stop = threading.Event()
        worker = asyncio.ensure_future(asyncio.to_thread(self._score, request, stop))
        # The lock is held until the worker ends, even when the caller stops waiting.
        worker.add_done_callback(self._release_after_worker)
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

    async def _take_model(self) -> None:
        """Wait for the model's lock and take it, for a reply or a score; reading ahead
        stops for it at its next step."""
        self._asking += 1
        try:
            await self._lock.acquire()
        finally:
            self._asking -= 1

    @contextlib.asynccontextmanager
    async def _asking_for_model(self) -> AsyncIterator[None]:
        """Holds the model for a reply (see :meth:`_take_model`)."""
        await self._take_model()
        try:
            yield
        finally:
            self._lock.release()

    async def prepare(self, messages: Sequence[ChatMessage]) -> int:
        """Read ``messages``, the opening of prompts to come, while the model is idle.

        Returns the tokens read: none when a reply or score is waiting or running, or the
        model cannot be loaded; fewer than the opening holds when one is asked for
        meanwhile (it waits for one :data:`PREPARE_CHUNK` step at most).
        """
        if not messages or self._asking or self._lock.locked():
            return 0
        try:
            await self.load()
        except Exception as error:
            log.debug("not reading ahead: %s", error)
            return 0
        if self._asking or self._lock.locked():
            return 0
        await self._lock.acquire()
        stop = threading.Event()
        worker = asyncio.ensure_future(asyncio.to_thread(self._prepare, list(messages), stop))
        worker.add_done_callback(self._release_after_worker)
        try:
            return await asyncio.shield(worker)
        except Exception as error:
            log.debug("reading ahead failed: %s", error, exc_info=True)
            return 0
        finally:
            stop.set()

    def _prepare(self, messages: list[ChatMessage], stop: threading.Event) -> int:
        """Runs on the worker thread, holding the lock."""
        llama, memory, formatter = self._llama, self._memory, self._opening_formatter
        if llama is None or memory is None or formatter is None:
            return 0
        chat: Any = [{"role": m.role, "content": m.content} for m in messages]
        text = formatter(messages=chat)
        opening: list[int] = llama.tokenize(text.prompt.encode("utf-8"), add_bos=True, special=True)
        if len(opening) >= self._context_window:
            return 0
        self._share_cores(llama, starting=True)
        try:
            return memory.extend(opening, lambda: stop.is_set() or self._asking > 0, PREPARE_CHUNK)
        except BaseException:
            memory.forget()
            raise

    def _release_after_worker(self, worker: asyncio.Future[Any]) -> None:
        """Frees the model once a worker that held it has ended, however it ended."""
        if not worker.cancelled():
            worker.exception()
        self._lock.release()

    def _score(self, request: ContinuationRequest, stop: threading.Event) -> tuple[float, ...]:
        """Runs on the worker thread, holding the lock."""
        llama, memory = self._llama, self._memory
        if llama is None or memory is None or self._formatter is None:
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
            self._share_cores(llama, starting=True)
            memory.evaluate(prompt)
            scores = _score_endings(llama, prompt, endings, stop)
        except BaseException:
            # A model left half-way is emptied, never trusted.
            memory.forget()
            raise
        if stop.is_set():
            raise BackendTimeout(f"backend {self.name!r}: scoring was abandoned")
        return scores

    def _generate(self, request: ChatRequest, sampling: Sampling) -> Iterator[str]:
        """Runs on the worker thread, holding the lock."""
        llama, memory = self._llama, self._memory
        if llama is None or memory is None or self._formatter is None:
            raise BackendError(f"backend {self.name!r}: the model is not loaded")
        messages: Any = [{"role": m.role, "content": m.content} for m in request.messages]
        formatted = self._formatter(messages=messages)
        template_stop = formatted.stop if isinstance(formatted.stop, list) else [formatted.stop]
        stops = [*sampling.stop, *(stop for stop in template_stop if stop)]
        text = formatted.prompt + request.prefix
        prompt: list[int] = llama.tokenize(text.encode("utf-8"), add_bos=True, special=True)
        if len(prompt) >= self._context_window:
            raise BackendError(
                f"backend {self.name!r}: the prompt takes {len(prompt)} tokens, "
                f"more than the context window of {self._context_window} leaves"
            )
        try:
            self._share_cores(llama, starting=True)
            reused = memory.evaluate(prompt)
            log.debug("prompt of %d tokens, %d reused", len(prompt), reused)
            yield from self._sample(llama, prompt, request, sampling, stops)
        except GeneratorExit:
            # Stopped between tokens: what the model holds is whole.
            memory.settled()
            raise
        except BaseException:
            memory.forget()
            raise
        memory.settled()

    def _sample(
        self,
        llama: Any,
        prompt: list[int],
        request: ChatRequest,
        sampling: Sampling,
        stops: list[str],
    ) -> Iterator[str]:
        """Samples the reply to ``prompt``, which the model has just evaluated."""
        chunks = llama.create_completion(
            prompt,
            stream=True,
            temperature=sampling.temperature if sampling.temperature is not None else 0.8,
            top_p=sampling.top_p if sampling.top_p is not None else 0.95,
            max_tokens=sampling.max_tokens,
            stop=stops,
            repeat_penalty=1.15,
            seed=self._rng.randrange(2**31),
            grammar=self._grammar(request.choices) if request.choices else None,
        )
        first = True
        for chunk in chunks:
            self._share_cores(llama, starting=False)
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

    @property
    def kept_bytes(self) -> int:
        """Bytes the kept prompt memories take (at most ``cache_bytes``)."""
        return self._memory.cache.size if self._memory is not None else 0

    async def forget_prompts(self) -> None:
        """Forgets every evaluated prompt, so the next one is evaluated from scratch."""
        async with self._lock:
            if self._memory is not None:
                await asyncio.to_thread(self._memory.clear)

    async def aclose(self) -> None:
        """Free the model's memory."""
        async with self._lock:
            if self._memory is not None:
                self._memory.clear()
                self._memory = None
            if self._llama is not None:
                llama, self._llama = self._llama, None
                await asyncio.to_thread(llama.close)


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
        rewind(llama, len(prompt))
        scores.append(total)
    if any(len(ending) > 1 for ending in endings):
        # Generation samples from the live logits when its prompt is already evaluated,
        # so they must be the prompt's own again, not a continuation's.
        start = max(0, len(prompt) - FRESH_TOKENS)
        rewind(llama, start)
        llama.eval(prompt[start:])
    return tuple(scores)


def available_cores() -> int:
    """The CPU cores this process may run on: its affinity, not every core of the machine."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def default_threads() -> int:
    """The fewest threads llama.cpp uses when none are configured (and all it uses where
    the system does not say what else runs): every available core but one, which is left
    to the event loop, the store and memory work (at least one thread).
    """
    return max(1, available_cores() - 1)

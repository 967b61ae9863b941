"""The embedded default backend: a GGUF model run in-process by llama.cpp on the CPU."""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botkit.backends.base import (
    BackendError,
    BackendProtocolError,
    BackendTimeout,
    ChatRequest,
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

    def _generate(self, request: ChatRequest, sampling: Sampling) -> Iterator[str]:
        if self._llama is None or self._formatter is None:
            raise BackendError(f"backend {self.name!r}: the model is not loaded")
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
            if self._llama is not None:
                llama, self._llama = self._llama, None
                await asyncio.to_thread(llama.close)

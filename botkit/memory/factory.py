"""Builds the memory service a config describes: its embedder, vector index and observer."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from botkit.backends.base import ChatBackend
from botkit.memory.embeddings import Embedder, LocalEmbedder, OpenAIEmbedder
from botkit.memory.notes import NoteTaker
from botkit.memory.service import CastLookup, MemoryService
from botkit.memory.settings import MemorySettings
from botkit.memory.vectors import VectorIndex
from botkit.store import Store

__all__ = ["build_embedder", "open_memory"]


def build_embedder(settings: MemorySettings) -> Embedder:
    """The embedder ``settings.embeddings`` names (checked when the config was read)."""
    options = dict(settings.embeddings)
    if options.get("type", "local") == "openai":
        return OpenAIEmbedder(
            base_url=str(options["base_url"]),
            model=str(options["model"]),
            api_key=options.get("api_key"),
            batch_size=int(options.get("batch_size", 64)),
            timeout=float(options.get("timeout", 30.0)),
        )
    return LocalEmbedder(batch_size=int(options.get("batch_size", 32)))


async def open_memory(
    settings: MemorySettings,
    *,
    data_dir: Path,
    store: Store,
    cast_of: CastLookup,
    notes_backend: ChatBackend | None = None,
    embedder: Embedder | None = None,
    owner: str | None = None,
) -> MemoryService:
    """Open the vector index, load the embedder and return the (not yet started) service.

    ``notes_backend`` writes observations (none are written without one); ``owner`` is
    this process's lease owner where several processes share the store.

    Raises:
        VectorIndexError: Chroma cannot be opened or reached.
        EmbeddingError: the local embedding model cannot be loaded.
    """
    embedder = embedder or build_embedder(settings)
    if isinstance(embedder, LocalEmbedder):
        await embedder.load()
    chroma = settings.chroma
    if chroma.get("host"):
        vectors = await VectorIndex.open_server(
            host=str(chroma["host"]),
            port=int(chroma.get("port", 8000)),
            ssl=bool(chroma.get("ssl", False)),
            embedder=embedder.name,
        )
    else:
        path = Path(str(chroma["path"])) if chroma.get("path") else data_dir / "chroma"
        vectors = await VectorIndex.open_local(path, embedder=embedder.name)
    notes = None
    if notes_backend is not None:
        notes = NoteTaker(
            notes_backend,
            quiet=timedelta(minutes=settings.observe_quiet_minutes),
            every=settings.observe_every,
        )
    return MemoryService(
        store=store,
        embedder=embedder,
        vectors=vectors,
        cast_of=cast_of,
        settings=settings,
        notes=notes,
        owner=owner,
    )

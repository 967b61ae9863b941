"""Memory recall on the shipped dev set and on LoCoMo as released, into a results file.

    python bench/memory_eval.py --locomo PATH/locomo10.json

Runs ``botkit eval memory``'s evaluation in this process: the configured (hybrid) ranking
beside dense-only and lexical-only (BM25) baselines, on bench/data/memory-dev.json and,
with ``--locomo``, on LoCoMo's ``locomo10.json`` (all ten conversations; 0–4, the split
ranking weights may be fitted on; 5–9, the split they are reported on; and each question
category); with ``--observe``, the embedded model then writes observations on every LoCoMo
session and the ranking is scored with them too. Writes bench/results/memory.md with the
machine noted. LoCoMo is not shipped
(its release carries no licence file): fetch locomo10.json from snap-research/locomo;
mem0ai/mem0 keeps a copy at evaluation/dataset/locomo10.json.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
from datetime import UTC, datetime
from pathlib import Path

from botkit.backends.base import ChatBackend
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.config import parse_config
from botkit.evaluation.locomo import read_locomo
from botkit.evaluation.memory_data import EvalDataset, load_dataset
from botkit.evaluation.memory_eval import ProgressBar, evaluate_memory, format_result
from botkit.memory.settings import MemorySettings

sys.path.insert(0, str(Path(__file__).parent))
from overhead import machine

HERE = Path(__file__).parent
DEV_SET = HERE / "data" / "memory-dev.json"
RESULTS = HERE / "results" / "memory.md"
KS = (1, 5, 10)
LOCOMO_SHA256 = "79fa87e90f04081343b8c8debecb80a9a6842b76a7aa537dc9fdf651ea698ff4"
"""locomo10.json as mem0ai/mem0 keeps it (evaluation/dataset/, commit ba9a445)."""
LOCOMO_SPLIT = 5
"""LoCoMo's ten conversations: 0–4 to fit ranking weights on, 5–9 to report them on."""


async def measure(
    dataset: EvalDataset,
    settings: MemorySettings,
    split: int | None,
    observer: ChatBackend | None = None,
) -> str:
    """The table ``botkit eval memory`` prints for ``dataset``."""
    result = await evaluate_memory(
        dataset,
        ks=KS,
        settings=settings,
        split=split,
        observer=observer,
        progress=ProgressBar(sys.stderr),
    )
    table = format_result(result)
    print(table)
    return table


OBSERVATIONS = (
    " The last two rankings come after the embedded model (SmolLM2-135M-Instruct, "
    "llama.cpp) wrote observations on every session (a session ends after 30 minutes "
    "without a turn, or 40 turns into one), each linked to the turns sharing most of "
    "its words: `with observations` gives each recalled memory a place of its own and "
    "an observation's source turns the places right after it (what a prompt gets); "
    "`with observations, paper count` counts all of an observation's source turns at "
    "its own place, as the LoCoMo paper counts retrieved observations and summaries."
)


async def embedded_model() -> LlamaCppBackend:
    """The embedded default backend, loaded, seeded so its observations can be repeated."""
    model = LlamaCppBackend(seed=0)
    await model.load()
    return model


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locomo", type=Path, help="LoCoMo's locomo10.json, as released")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--observe",
        action="store_true",
        help="LoCoMo: also score observations by the embedded model",
    )
    args = parser.parse_args()
    settings = parse_config({}).memory
    weights = settings.weights
    command = "python bench/memory_eval.py" + (" --locomo locomo10.json" if args.locomo else "")
    command += " --observe" if args.observe else ""
    sections = [
        "# Memory recall (bench/memory_eval.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`. "
        "Embeddings: all-MiniLM-L6-v2 (onnxruntime, bundled weights); index: embedded Chroma; "
        f"lexical: SQLite FTS5 BM25. Default weights: relevance {weights.relevance}, "
        f"recency {weights.recency}, importance {weights.importance}, dense {weights.dense}, "
        f"lexical {weights.lexical}, half-life {weights.half_life_hours:.0f} h. "
        "Recall@k: the share of a question's evidence turns among the first k recalled, "
        "averaged over questions; latency is per question. Indexing is storing every turn "
        "and waiting until it is remembered and embedded.\n",
        "## Hand-written dev set\n\n"
        f"{DEV_SET.relative_to(HERE.parent)} (see bench/memory_devset.py).\n\n"
        "```\n" + await measure(load_dataset(DEV_SET), settings, None) + "\n```\n",
    ]
    if args.locomo:
        locomo = read_locomo(args.locomo)
        digest = hashlib.sha256(args.locomo.read_bytes()).hexdigest()
        copy = (
            "mem0ai/mem0 evaluation/dataset/locomo10.json at ba9a445"
            if digest == LOCOMO_SHA256
            else f"a copy with sha256 {digest}"
        )
        split = LOCOMO_SPLIT if len(locomo.conversations) == 2 * LOCOMO_SPLIT else None
        sections.append(
            "## LoCoMo\n\n"
            f"`locomo10.json` as released by snap-research/locomo ({copy}), read by "
            "botkit/evaluation/locomo.py: a turn is its text "
            "(image captions left out), a session's turns a minute apart from its date. "
            "Category 5 (adversarial, no answer in the conversation) is in no figure; "
            "questions with no evidence matching a turn are skipped; both are counted "
            "below. Categories: 1 multi-hop, 2 temporal, 3 open-domain, 4 single-hop. "
            "Conversations 0–4 are the split ranking weights may be fitted on, 5–9 the "
            "split to report."
            + (OBSERVATIONS if args.observe else "")
            + "\n\n```\n"
            + await measure(
                locomo, settings, split, await embedded_model() if args.observe else None
            )
            + "\n```\n"
        )
    else:
        sections.append("## LoCoMo\n\nNot run: pass `--locomo PATH/locomo10.json`.\n")
    args.out.write_text("\n".join(sections), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())

"""Memory recall on the shipped dev set: ``botkit eval memory`` plus a results file.

Runs the configured (hybrid) ranking beside dense-only and lexical-only baselines in the
same process and writes bench/results/memory.md with the machine noted.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime
from pathlib import Path

from botkit.config import parse_config
from botkit.evaluation.memory_data import load_dataset
from botkit.evaluation.memory_eval import evaluate_memory, format_result

sys.path.insert(0, str(Path(__file__).parent))
from overhead import machine

DATA = Path(__file__).parent / "data" / "memory-dev.json"
RESULTS = Path(__file__).parent / "results" / "memory.md"


async def main() -> None:
    settings = parse_config({}).memory
    result = await evaluate_memory(
        load_dataset(DATA),
        ks=[1, 5, 10],
        settings=settings,
        progress=lambda message: print(message, file=sys.stderr, flush=True),
    )
    table = format_result(result)
    print(table)
    weights = settings.weights
    RESULTS.write_text(
        "# Memory recall (bench/memory_eval.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. "
        f"Dataset: {DATA.relative_to(DATA.parents[2])} (hand-written, see bench/memory_devset.py). "
        "Embeddings: all-MiniLM-L6-v2 (numpy, bundled weights); index: embedded Chroma; "
        f"lexical: SQLite FTS5 BM25. Default weights: relevance {weights.relevance}, "
        f"recency {weights.recency}, importance {weights.importance}, dense {weights.dense}, "
        f"lexical {weights.lexical}, half-life {weights.half_life_hours:.0f} h.\n\n"
        "```\n" + table + "\n```\n",
        encoding="utf-8",
    )
    print(f"wrote {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main())

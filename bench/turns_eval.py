"""Turn-taking on the shipped dev set: ``botkit eval turns`` for every policy, into a file.

Runs scoring, the model policy (embedded SmolLM2 with a grammar), round-robin and manual
beside the random and plain round-robin baselines in one process, and writes
bench/results/turns.md with the machine noted. ``--config`` measures the model policy
on another backend (an OpenAI-compatible server such as vLLM, with structured outputs).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from datetime import UTC, datetime
from pathlib import Path

from botkit.cli import main as botkit

sys.path.insert(0, str(Path(__file__).parent))
from overhead import machine

DATA = Path(__file__).parent / "data" / "turns-dev.jsonl"
POLICIES = "scoring,model,round-robin,manual"


def run() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, help="botkit config whose backend to measure")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results/turns.md")
    parser.add_argument("--label", default="embedded SmolLM2-135M-Instruct (llama.cpp, grammar)")
    args = parser.parse_args()
    command = ["eval", "turns", "--data", str(DATA), "--policy", POLICIES]
    if args.config:
        command += ["--config", str(args.config)]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = botkit(command)
    if status:
        sys.exit(status)
    table = out.getvalue().rstrip()
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Turn-taking (bench/turns_eval.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. "
        f"Dataset: {DATA.relative_to(DATA.parents[2])} (hand-written multi-party scenes; "
        '`{"speaker": null}` marks a silence). Model policy backend: '
        f"{args.label}. Accuracy counts a decision right when its first speaker (or "
        "NOBODY) is what the data has next; decisions where a person speaks next are not "
        "scored.\n\n```\n" + table + "\n```\n",
        encoding="utf-8",
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    run()

"""Turn-taking on public dev sets and the hand-written set: ``botkit eval turns``, into a file.

One command measures every policy beside the random, A-B-A and most-frequent baselines
on MELD dev, EmoryNLP dev, Molweni dev and bench/data/turns-dev.jsonl, and writes
bench/results/turns.md with the machine noted:

    python bench/turns_eval.py --meld MELD --molweni Molweni

``--meld`` is a checkout of declare-lab/MELD and ``--molweni`` one of HIT-SCIR/Molweni
(bench/data/SOURCES.md). The cheap policies (scoring, round-robin, manual) run on every
conversation; the policies that call the embedded model (likelihood, model) cost 0.1–1 s a
decision on two cores, so they run, with every other policy and the baselines again, on
the first ``--model-limit`` conversations of each public set (and on the whole
hand-written set), in a second table. ``--config`` measures them on another backend.
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

HERE = Path(__file__).parent
HAND_WRITTEN = HERE / "data" / "turns-dev.jsonl"
CHEAP = "scoring,round-robin,manual"
ALL = "scoring,likelihood,model,round-robin,manual"


def measure(data: Path, kind: str, policies: str, extra: list[str]) -> str:
    """The table ``botkit eval turns`` prints for ``data`` (exits if it fails)."""
    command = ["eval", "turns", "--data", str(data), "--format", kind, "--policy", policies]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = botkit([*command, *extra])
    if status:
        sys.exit(status)
    table = out.getvalue().rstrip()
    print(table)
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meld", type=Path, required=True, help="declare-lab/MELD checkout")
    parser.add_argument("--molweni", type=Path, required=True, help="HIT-SCIR/Molweni checkout")
    parser.add_argument("--model-limit", type=int, default=20)
    parser.add_argument("--config", type=Path, help="botkit config whose backend to measure")
    parser.add_argument("--label", default="embedded SmolLM2-135M-Instruct (llama.cpp)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "turns.md")
    args = parser.parse_args()
    config = ["--config", str(args.config)] if args.config else []
    corpora = [
        ("MELD dev", args.meld / "data/MELD/dev_sent_emo.csv", "meld"),
        ("EmoryNLP dev", args.meld / "data/emorynlp/emorynlp_dev_final.csv", "emorynlp"),
        ("Molweni dev", args.molweni / "DP/dev.json", "molweni"),
    ]
    sections = []
    for title, path, kind in corpora:
        print(f"== {title}", file=sys.stderr)
        every = measure(path, kind, CHEAP, [])
        limited = measure(path, kind, ALL, ["--limit", str(args.model_limit), *config])
        sections.append(
            f"## {title}\n\nEvery conversation:\n\n```\n{every}\n```\n\n"
            f"The first {args.model_limit} conversations, with the model policies:\n\n"
            f"```\n{limited}\n```\n"
        )
    print("== hand-written", file=sys.stderr)
    hand = measure(HAND_WRITTEN, "jsonl", ALL, config)
    sections.append(
        "## Hand-written scenes (bench/data/turns-dev.jsonl)\n\n"
        '24 fantasy scenes with people and characters; `{"speaker": null}` marks a silence, '
        f"so this is the set for the *when* figures.\n\n```\n{hand}\n```\n"
    )
    command = (
        "python bench/turns_eval.py --meld MELD --molweni Molweni"
        f" --model-limit {args.model_limit}" + (f" --config {args.config}" if args.config else "")
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        "# Turn-taking (bench/turns_eval.py)\n\n"
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d}. Command: `{command}`. "
        f"Backend of the likelihood and model policies: {args.label}.\n\n"
        "*who acc*: where a character speaks next, the policy's first-ranked free character "
        "is the one who spoke (NOBODY not allowed). *accuracy*: the decision's first "
        "speaker, or NOBODY, is what the data has next. NOBODY P/R/F1: at marked silences "
        "against points where a character speaks (only the hand-written set marks "
        "silences). Points where a person speaks next are not scored. Latency is per "
        "decision. Corpora, licences and conversion: bench/data/SOURCES.md.\n\n"
        + "\n".join(sections),
        encoding="utf-8",
    )
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

"""Fit the who-ranker's weights on public multi-party conversations (train splits only).

Data: MELD train (declare-lab/MELD, data/MELD/train_sent_emo.csv) and EmoryNLP train
(same repository, data/emorynlp/emorynlp_train_final.csv); bench/data/SOURCES.md says
where they come from and how they are read. No dev or test split is read here.

Model: a conditional logit over the free characters at every point where a character
speaks next. The score of candidate c is w · f(c) with f the structure features of
botkit/scheduler/features.py, computed by the same code as at run time; the fit
minimises the mean negative log-likelihood of the character who spoke, plus
``--l2`` × |w|², with L-BFGS from zero weights (deterministic: there is no sampling,
so ``--seed`` only orders the conversations). Needs scipy (``pip install -e .[bench]``).

Command (the weights botkit ships were written by exactly this):

    python bench/fit_who_ranker.py \
        --meld MELD/data/MELD/train_sent_emo.csv \
        --emorynlp MELD/data/emorynlp/emorynlp_train_final.csv

It writes botkit/scheduler/who_ranker.json with the weights, the data, the command and
the training fit.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize

from botkit.evaluation.corpora import load_corpus
from botkit.evaluation.turns_eval import decision_points
from botkit.scheduler import free_cast
from botkit.scheduler.features import FEATURES
from botkit.scheduler.ranker import WhoRanker

OUT = Path(__file__).resolve().parents[1] / "botkit" / "scheduler" / "who_ranker.json"

Example = tuple[npt.NDArray[np.float64], int]


def examples(paths: list[tuple[Path, str]], seed: int) -> list[Example]:
    """Feature rows and the index of the true next speaker, one per scored point."""
    probe = WhoRanker({})
    found: list[Example] = []
    for path, kind in paths:
        conversations = load_corpus(path, kind)
        random.Random(seed).shuffle(conversations)
        for conversation in conversations:
            for point in decision_points(conversation):
                if point.expected is None:
                    continue
                candidates = free_cast(point.context)
                ids = [c.id for c in candidates]
                if point.expected not in ids or len(ids) < 2:
                    continue
                found.append((probe.features(point.context, candidates), ids.index(point.expected)))
    return found


def objective(
    weights: npt.NDArray[np.float64], data: list[Example], l2: float
) -> tuple[float, npt.NDArray[np.float64]]:
    """Mean negative log-likelihood with an L2 penalty, and its gradient."""
    loss = 0.0
    gradient = np.zeros_like(weights)
    for rows, truth in data:
        scores = rows @ weights
        scores -= scores.max()
        chances = np.exp(scores)
        chances /= chances.sum()
        loss -= float(np.log(chances[truth]))
        gradient += rows.T @ chances - rows[truth]
    n = len(data)
    return loss / n + l2 * float(weights @ weights), gradient / n + 2 * l2 * weights


def accuracy(weights: npt.NDArray[np.float64], data: list[Example]) -> float:
    """The share of points whose top-scored candidate (first of equals) spoke next."""
    return float(np.mean([int(np.argmax(rows @ weights)) == truth for rows, truth in data]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meld", type=Path, required=True, help="MELD train_sent_emo.csv")
    parser.add_argument("--emorynlp", type=Path, required=True, help="emorynlp_train_final.csv")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    for path in (args.meld, args.emorynlp):
        if "test" in path.name:
            sys.exit(f"{path}: refusing to fit on a test split")
    data = examples([(args.meld, "meld"), (args.emorynlp, "emorynlp")], args.seed)
    print(f"fitting on {len(data)} points …", file=sys.stderr)
    fit = minimize(
        objective, np.zeros(len(FEATURES)), args=(data, args.l2), jac=True, method="L-BFGS-B"
    )
    weights = fit.x
    report = {
        "weights": {name: round(float(w), 4) for name, w in zip(FEATURES, weights, strict=True)},
        "fitted_on": {
            "data": ["MELD train (Friends)", "EmoryNLP train (Friends)"],
            "points": len(data),
            "l2": args.l2,
            "seed": args.seed,
            "train_who_accuracy": round(accuracy(weights, data), 4),
            "train_mean_nll": round(float(fit.fun), 4),
            "command": "python bench/fit_who_ranker.py --meld train_sent_emo.csv "
            f"--emorynlp emorynlp_train_final.csv --l2 {args.l2:g} --seed {args.seed}",
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["fitted_on"], indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

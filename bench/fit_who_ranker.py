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

Then the likelihood policy's weight: on the first ``--likelihood-points`` training points
(after the seeded shuffle), the embedded SmolLM2 scores every candidate's name tag
exactly as the policy does at run time, and one weight w for those normalised
log-probabilities is fitted on top of the fixed structure scores (minimum mean negative
log-likelihood, bounded to 0..5). ``--likelihood-points 0`` skips it (weight 1);
``--config`` weighs the scheduler backend of a botkit config instead (a vLLM server, say:
put the weight it finds in that config's ``scheduler.likelihood_weight``).

It writes botkit/scheduler/who_ranker.json with the weights, the data, the command and
the training fit.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt
from scipy.optimize import minimize, minimize_scalar

from botkit.backends.base import ChatBackend
from botkit.backends.factory import build_backends
from botkit.backends.llamacpp import LlamaCppBackend
from botkit.config import load_config
from botkit.evaluation.corpora import load_corpus
from botkit.evaluation.turns_eval import decision_points
from botkit.scheduler import LikelihoodPolicy, ScoringPolicy, TurnContext, free_cast
from botkit.scheduler.features import FEATURES
from botkit.scheduler.ranker import WhoRanker

OUT = Path(__file__).resolve().parents[1] / "botkit" / "scheduler" / "who_ranker.json"

Example = tuple[npt.NDArray[np.float64], int, TurnContext, list[str]]


def examples(paths: list[tuple[Path, str]], seed: int) -> list[Example]:
    """Feature rows, the index of the true next speaker, the context and the candidate
    ids, one per scored point."""
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
                rows = probe.features(point.context, candidates)
                found.append((rows, ids.index(point.expected), point.context, ids))
    return found


def objective(
    weights: npt.NDArray[np.float64], data: list[Example], l2: float
) -> tuple[float, npt.NDArray[np.float64]]:
    """Mean negative log-likelihood with an L2 penalty, and its gradient."""
    loss = 0.0
    gradient = np.zeros_like(weights)
    for rows, truth, _, _ in data:
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
    return float(np.mean([int(np.argmax(rows @ weights)) == truth for rows, truth, _, _ in data]))


def scoring_backend(config: Path | None) -> ChatBackend:
    """The backend whose odds are weighed: the config's scheduler backend, or the
    embedded model."""
    if config is None:
        return LlamaCppBackend(context_window=2048)
    settings = load_config(config)
    backends = build_backends(settings.backends)
    return backends[settings.scheduler.backend or settings.default_backend]


async def model_opinions(
    data: list[Example], weights: npt.NDArray[np.float64], backend: ChatBackend
) -> list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]]:
    """(structure scores, the model's normalised log-probabilities, truth) per point."""
    ranker = WhoRanker(dict(zip(FEATURES, weights.tolist(), strict=True)))
    policy = LikelihoodPolicy(
        backend=backend,
        structure=ScoringPolicy(ranker=ranker),
        gate=ScoringPolicy().gate,
        timeout=120.0,
    )
    found = []
    try:
        if isinstance(backend, LlamaCppBackend):
            await backend.load()
        for done, (rows, truth, context, ids) in enumerate(data, start=1):
            opinion = await policy.model_opinion(context, ids)
            if isinstance(opinion, str):
                sys.exit(f"the model gave no scores: {opinion}")
            found.append((rows @ weights, np.array(opinion), truth))
            if done % 50 == 0:
                print(f"model scores: {done}/{len(data)} points", file=sys.stderr)
    finally:
        await backend.aclose()
    return found


def fit_likelihood_weight(
    points: list[tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], int]],
) -> tuple[float, float, float]:
    """The weight minimising the fused mean NLL; with the accuracy without and with it."""

    def loss(weight: float) -> float:
        total = 0.0
        for structure, model, truth in points:
            fused = structure + weight * model
            fused = fused - fused.max()
            total -= float(fused[truth] - np.log(np.exp(fused).sum()))
        return total / len(points)

    best = minimize_scalar(loss, bounds=(0.0, 5.0), method="bounded")
    weight = float(best.x)

    def hits(w: float) -> float:
        return float(np.mean([int(np.argmax(s + w * m)) == t for s, m, t in points]))

    return weight, hits(0.0), hits(weight)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meld", type=Path, required=True, help="MELD train_sent_emo.csv")
    parser.add_argument("--emorynlp", type=Path, required=True, help="emorynlp_train_final.csv")
    parser.add_argument("--l2", type=float, default=1e-3, help="L2 penalty (default 1e-3)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--likelihood-points", type=int, default=600, help="points for the likelihood weight"
    )
    parser.add_argument(
        "--config", type=Path, help="config whose scheduler backend to weigh (default: embedded)"
    )
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
    likelihood: dict[str, object] = {"points": 0}
    likelihood_weight = 1.0
    if args.likelihood_points > 0:
        backend = scoring_backend(args.config)
        opinions = asyncio.run(model_opinions(data[: args.likelihood_points], weights, backend))
        likelihood_weight, before, after = fit_likelihood_weight(opinions)
        likelihood = {
            "points": len(opinions),
            "model": str(args.config or "embedded SmolLM2-135M-Instruct"),
            "who_accuracy_structure_only": round(before, 4),
            "who_accuracy_fused": round(after, 4),
        }
    report = {
        "weights": {name: round(float(w), 4) for name, w in zip(FEATURES, weights, strict=True)},
        "likelihood_weight": round(likelihood_weight, 4),
        "fitted_on": {
            "data": ["MELD train (Friends)", "EmoryNLP train (Friends)"],
            "points": len(data),
            "l2": args.l2,
            "seed": args.seed,
            "train_who_accuracy": round(accuracy(weights, data), 4),
            "train_mean_nll": round(float(fit.fun), 4),
            "likelihood": likelihood,
            "command": "python bench/fit_who_ranker.py --meld train_sent_emo.csv "
            f"--emorynlp emorynlp_train_final.csv --l2 {args.l2:g} --seed {args.seed} "
            f"--likelihood-points {args.likelihood_points}",
        },
    }
    args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report["fitted_on"], indent=2))
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()

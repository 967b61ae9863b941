"""The who-ranker: a conditional logit over structure features, fitted on public data."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from botkit.characters.model import Character
from botkit.scheduler.base import TurnContext
from botkit.scheduler.features import FEATURES, structure_features
from botkit.scheduler.text import content_words

__all__ = ["WEIGHTS_FILE", "WhoRanker", "load_likelihood_weight", "load_weights"]

WEIGHTS_FILE = "who_ranker.json"
"""The fitted weights shipped inside ``botkit.scheduler`` (written by bench/fit_who_ranker.py)."""

_NEUTRAL_TALKATIVENESS = 0.5


class WhoRanker:
    """Scores each free character as the next speaker: higher is likelier.

    A candidate's score is the weighted sum of its :data:`FEATURES` (the weights are log
    odds, so a softmax over candidates gives probabilities) plus the log of its
    talkativeness relative to 0.5: a character twice as talkative as the norm has twice
    the odds. The public corpora carry no talkativeness, so it is a fixed prior, not fitted.
    ``likelihood_weight`` is how much the likelihood policy weighs a model's normalised
    log-probabilities against these scores (fitted beside them; 1 when not).
    """

    def __init__(self, weights: Mapping[str, float], *, likelihood_weight: float = 1.0) -> None:
        unknown = sorted(set(weights) - set(FEATURES))
        if unknown:
            raise ValueError(f"unknown who-ranker features: {', '.join(unknown)}")
        self._weights = np.array([float(weights.get(f, 0.0)) for f in FEATURES])
        self.likelihood_weight = likelihood_weight
        self._profiles: dict[str, tuple[Character, frozenset[str]]] = {}

    @classmethod
    def fitted(cls) -> WhoRanker:
        """The ranker with the weights botkit ships."""
        data = json.loads(_shipped_text())
        return cls(load_weights(data), likelihood_weight=load_likelihood_weight(data))

    @property
    def weights(self) -> dict[str, float]:
        """Each feature's weight."""
        return dict(zip(FEATURES, self._weights.tolist(), strict=True))

    def features(
        self, context: TurnContext, candidates: Sequence[Character]
    ) -> npt.NDArray[np.float64]:
        """The :data:`FEATURES` of each of ``candidates``, one row each."""
        return structure_features(context, candidates, [self._profile(c) for c in candidates])

    def scores(
        self, context: TurnContext, candidates: Sequence[Character]
    ) -> npt.NDArray[np.float64]:
        """The score of each of ``candidates`` (in their order) to speak after the trigger."""
        linear = self.features(context, candidates) @ self._weights
        prior = np.array([_talkativeness_prior(c.talkativeness) for c in candidates])
        result: npt.NDArray[np.float64] = linear + prior
        return result

    def _profile(self, character: Character) -> frozenset[str]:
        cached = self._profiles.get(character.id)
        if cached is None or cached[0] is not character:
            cached = (character, _persona_words(character))
            self._profiles[character.id] = cached
        return cached[1]


def load_weights(data: Any) -> dict[str, float]:
    """The feature weights in a who-ranker file's JSON (``{"weights": {name: number}}``)."""
    weights = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(weights, dict) or not all(
        isinstance(v, int | float) and math.isfinite(v) for v in weights.values()
    ):
        raise ValueError(f"{WEIGHTS_FILE}: weights: expected an object of finite numbers")
    return {str(k): float(v) for k, v in weights.items()}


def load_likelihood_weight(data: Any) -> float:
    """The likelihood weight in a who-ranker file's JSON (1 when it has none)."""
    value = data.get("likelihood_weight", 1.0) if isinstance(data, dict) else 1.0
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{WEIGHTS_FILE}: likelihood_weight: expected a number >= 0")
    return float(value)


def _shipped_text() -> str:
    return resources.files("botkit.scheduler").joinpath(WEIGHTS_FILE).read_text("utf-8")


def _talkativeness_prior(talkativeness: float) -> float:
    """Log odds relative to a character of neutral talkativeness (0 at 0.5)."""
    return math.log(max(talkativeness, 0.01) / _NEUTRAL_TALKATIVENESS)


def _persona_words(character: Character) -> frozenset[str]:
    """The stems of a character's persona, summary, style and knowledge, minus its names."""
    texts = [character.summary, character.style, character.description, *character.persona]
    texts += [entry.text for entry in character.knowledge]
    texts += [key for entry in character.knowledge for key in entry.keys]
    words: set[str] = set()
    for text in texts:
        words |= content_words(text)
    return frozenset(words - content_words(" ".join(character.names)))

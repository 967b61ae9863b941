"""Turn-taking: after every turn, who speaks next — or nobody."""

from __future__ import annotations

from botkit.scheduler.address import AddressPolicy, addressed
from botkit.scheduler.base import NOBODY, Decision, Scheduler, TurnContext
from botkit.scheduler.compose import ComposedScheduler
from botkit.scheduler.model import NOBODY_CHOICE, ModelPolicy, choice_labels
from botkit.scheduler.rotation import ManualPolicy, RoundRobinPolicy
from botkit.scheduler.scoring import ScoringPolicy, ScoringWeights

__all__ = [
    "NOBODY",
    "NOBODY_CHOICE",
    "AddressPolicy",
    "ComposedScheduler",
    "Decision",
    "ManualPolicy",
    "ModelPolicy",
    "RoundRobinPolicy",
    "Scheduler",
    "ScoringPolicy",
    "ScoringWeights",
    "TurnContext",
    "addressed",
    "choice_labels",
]

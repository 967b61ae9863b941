"""Turn-taking: after every turn, who speaks next — or nobody."""

from __future__ import annotations

from botkit.scheduler.address import AddressPolicy, addressed
from botkit.scheduler.base import NOBODY, Decision, Ranking, Scheduler, TurnContext, free_cast
from botkit.scheduler.compose import ComposedScheduler
from botkit.scheduler.gate import Opening, WhenGate
from botkit.scheduler.likelihood import LikelihoodPolicy
from botkit.scheduler.model import NOBODY_CHOICE, ModelPolicy, choice_labels
from botkit.scheduler.ranker import WhoRanker
from botkit.scheduler.rotation import ManualPolicy, RoundRobinPolicy
from botkit.scheduler.scoring import ScoringPolicy

__all__ = [
    "NOBODY",
    "NOBODY_CHOICE",
    "AddressPolicy",
    "ComposedScheduler",
    "Decision",
    "LikelihoodPolicy",
    "ManualPolicy",
    "ModelPolicy",
    "Opening",
    "Ranking",
    "RoundRobinPolicy",
    "Scheduler",
    "ScoringPolicy",
    "TurnContext",
    "WhenGate",
    "WhoRanker",
    "addressed",
    "choice_labels",
    "free_cast",
]

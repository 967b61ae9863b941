"""Turn-taking: after every turn, who speaks next — or nobody."""

from __future__ import annotations

from botkit.scheduler.address import AddressPolicy, addressed
from botkit.scheduler.base import NOBODY, Decision, Scheduler, TurnContext
from botkit.scheduler.compose import ComposedScheduler
from botkit.scheduler.scoring import ScoringPolicy, ScoringWeights

__all__ = [
    "NOBODY",
    "AddressPolicy",
    "ComposedScheduler",
    "Decision",
    "Scheduler",
    "ScoringPolicy",
    "ScoringWeights",
    "TurnContext",
    "addressed",
]

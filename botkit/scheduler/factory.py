"""The turn-taking policies a channel may choose: botkit's own, and those plugins add."""

from __future__ import annotations

from collections.abc import Sequence

from botkit.backends.base import ChatBackend
from botkit.config import SchedulerConfig
from botkit.plugin import Plugin, PolicyTools
from botkit.scheduler.base import Scheduler
from botkit.scheduler.compose import ComposedScheduler
from botkit.scheduler.gate import WhenGate
from botkit.scheduler.likelihood import LikelihoodPolicy
from botkit.scheduler.model import ModelPolicy
from botkit.scheduler.rotation import ManualPolicy, RoundRobinPolicy
from botkit.scheduler.scoring import ScoringPolicy

__all__ = ["build_scheduler"]


def build_scheduler(
    options: SchedulerConfig, backend: ChatBackend, plugins: Sequence[Plugin] = ()
) -> ComposedScheduler:
    """Every policy, with the configured one as the default; ``backend`` serves those
    that ask a model.

    Raises:
        ValueError: a plugin offers a policy under a name already taken.
    """
    scoring = ScoringPolicy(gate=WhenGate(max_group_speakers=options.max_group_speakers))
    weight = options.likelihood_weight
    policies: dict[str, Scheduler] = {
        "scoring": scoring,
        "likelihood": LikelihoodPolicy(
            backend=backend,
            structure=scoring,
            gate=scoring.gate,
            weight=scoring.ranker.likelihood_weight if weight is None else weight,
            timeout=options.model_timeout,
        ),
        "model": ModelPolicy(backend=backend, fallback=scoring, timeout=options.model_timeout),
        "round-robin": RoundRobinPolicy(),
        "manual": ManualPolicy(),
    }
    tools = PolicyTools(backend=backend, scoring=scoring, timeout=options.model_timeout)
    for plugin in plugins:
        for name, factory in plugin.policies.items():
            if name in policies:
                raise ValueError(f"plugin {plugin.name}: a policy called {name!r} exists already")
            policies[name] = factory(tools)
    return ComposedScheduler(policies=policies, default=options.policy)

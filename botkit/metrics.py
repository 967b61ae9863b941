"""What botkit counts and times for operators, in Prometheus' text format."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["CONTENT_TYPE", "Metrics"]

log = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
"""The content type of Prometheus' text exposition format."""
_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

Sampler = Callable[["Metrics"], Awaitable[None]]
"""Sets the gauges that are read when metrics are asked for (queue depth, write lag)."""


class Metrics:
    """The counters, gauges and histograms of one running bot (a registry of its own, so
    that several bots in one process never mix their figures)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.messages = Counter(
            "botkit_messages",
            "Messages from people that botkit handled.",
            ["platform"],
            registry=self.registry,
        )
        self.commands = Counter(
            "botkit_commands",
            "Commands botkit ran (or refused).",
            ["platform"],
            registry=self.registry,
        )
        self.replies = Counter(
            "botkit_replies", "Character replies posted.", ["platform"], registry=self.registry
        )
        self.backend_errors = Counter(
            "botkit_backend_errors",
            "Replies a backend failed to write.",
            ["backend"],
            registry=self.registry,
        )
        self.decision_seconds = Histogram(
            "botkit_decision_seconds",
            "Time the turn-taking policy took to decide who speaks.",
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.backend_seconds = Histogram(
            "botkit_backend_seconds",
            "Time from asking a backend for a reply until it ended.",
            ["backend"],
            buckets=_SECONDS,
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "botkit_queue_depth",
            "Events waiting in the channels' queues.",
            registry=self.registry,
        )
        self.memory_write_lag = Gauge(
            "botkit_memory_write_lag",
            "Stored turns long-term memory has not indexed yet.",
            registry=self.registry,
        )
        self._samplers: list[Sampler] = []

    def sample_with(self, sampler: Sampler) -> None:
        """Call ``sampler`` before each exposition, to set gauges read on demand."""
        self._samplers.append(sampler)

    async def exposition(self) -> bytes:
        """Every metric, in Prometheus' text format; a sampler that fails leaves its gauge
        as it was."""
        for sampler in self._samplers:
            try:
                await sampler(self)
            except Exception as error:
                log.debug("a metrics sampler failed: %s", error)
        return generate_latest(self.registry)

"""The fallback chain scores continuations with the first backend that can."""

from __future__ import annotations

import logging

import pytest

from botkit.backends.base import (
    BackendAuthError,
    BackendError,
    BackendUnavailable,
    ChatMessage,
    ContinuationRequest,
    ContinuationScorer,
)
from botkit.backends.fallback import FallbackBackend
from botkit.testing import InstantBackend

REQUEST = ContinuationRequest((ChatMessage("user", "Ann: Bram?"),), ("Bram:", "Mira:"))


class Scorer(InstantBackend):
    """Scores ``scores``, or raises ``error``, and counts its calls."""

    def __init__(
        self, name: str, scores: tuple[float, ...] = (), error: BackendError | None = None
    ) -> None:
        super().__init__(name=name)
        self._scores = scores
        self._error = error
        self.calls = 0

    async def score_continuations(self, request: ContinuationRequest) -> tuple[float, ...]:
        self.calls += 1
        if self._error is not None:
            raise self._error
        return self._scores


async def test_backends_that_cannot_score_are_passed_over() -> None:
    scorer = Scorer("second", (-0.5, -2.0))
    chain = FallbackBackend(name="chain", backends=[InstantBackend(name="first"), scorer])
    assert isinstance(chain, ContinuationScorer)
    assert await chain.score_continuations(REQUEST) == (-0.5, -2.0)


async def test_a_failing_scorer_is_skipped(caplog: pytest.LogCaptureFixture) -> None:
    failing = Scorer("hosted", error=BackendError("backend 'hosted': HTTP 400: no logprobs"))
    local = Scorer("local", (-1.0, -1.5))
    chain = FallbackBackend(name="chain", backends=[failing, local])
    with caplog.at_level(logging.WARNING, logger="botkit.backends.fallback"):
        assert await chain.score_continuations(REQUEST) == (-1.0, -1.5)
    assert (failing.calls, local.calls) == (1, 1)
    assert [r.getMessage() for r in caplog.records] == [
        "backend 'chain': backend 'hosted': HTTP 400: no logprobs; scoring with 'local' next"
    ]


async def test_when_every_scorer_fails_the_last_error_says_so() -> None:
    chain = FallbackBackend(
        name="chain",
        backends=[
            Scorer("a", error=BackendUnavailable("backend 'a': down")),
            InstantBackend(name="b"),
            Scorer("c", error=BackendAuthError("backend 'c': refused")),
        ],
    )
    with pytest.raises(BackendAuthError) as caught:
        await chain.score_continuations(REQUEST)
    assert str(caught.value) == (
        "backend 'chain': all 2 scoring backends in the chain failed, the last with: "
        "backend 'c': refused"
    )


async def test_a_chain_without_scorers_says_so() -> None:
    chain = FallbackBackend(name="chain", backends=[InstantBackend(name="only")])
    with pytest.raises(BackendError, match="no backend in the chain scores continuations"):
        await chain.score_continuations(REQUEST)

"""Continuation scoring on the OpenAI-compatible backend against the loopback server."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Sequence
from typing import Any

import httpx
import pytest

from botkit.backends.base import (
    BackendError,
    BackendProtocolError,
    ChatMessage,
    ContinuationRequest,
    ContinuationScorer,
)
from botkit.backends.logprobs import first_token_alternatives, score_continuations
from botkit.backends.openai_compat import OpenAICompatBackend
from tests.support.openai_server import (
    DONE,
    OpenAIServer,
    Reply,
    chat_chunk,
    error_reply,
    event,
    sse_reply,
)

API_KEY = "sk-test-0123456789abcdef"
REQUEST = ContinuationRequest(
    (
        ChatMessage("system", "A group chat among Mira, Bram and Sir Aldric."),
        ChatMessage("user", "Ann: Bram, pass the salt."),
    ),
    ("Mira:", "Bram:", "Sir Aldric:", "Nell:"),
)
TOP = [("B", -0.3), (" Mira", -1.6), ("Mi", -2.0), ("Sir", -2.5), ("b", -0.1), (" ", -3.0)]


def logprobs_reply(chosen: tuple[str, float], top: Sequence[tuple[str, float]]) -> Reply:
    """A streamed one-token answer whose token carries ``top`` as its top_logprobs."""
    token, logprob = chosen
    chunk = chat_chunk(token)
    chunk["choices"][0]["logprobs"] = {
        "content": [
            {
                "token": token,
                "logprob": logprob,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top
                ],
            }
        ]
    }
    steps = [event(chat_chunk("", role="assistant")), event(chunk)]
    return Reply(body=[*steps, event(chat_chunk(finish="length")), DONE])


@pytest.fixture
async def backend(server: OpenAIServer) -> AsyncIterator[OpenAICompatBackend]:
    async def no_sleep(_seconds: float) -> None:
        return None

    made = OpenAICompatBackend(
        name="vllm",
        base_url=server.base_url,
        model="served-model",
        api_key=API_KEY,
        extra_body={"temperature": 0.9, "top_k": 5},
        sleep=no_sleep,
        transport=httpx.AsyncHTTPTransport(),
    )
    yield made
    await made.aclose()


async def test_one_request_asks_for_the_first_tokens_logprobs(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(logprobs_reply(("B", -0.3), TOP))
    assert isinstance(backend, ContinuationScorer)
    await backend.score_continuations(REQUEST)
    [request] = server.requests
    body = request.json()
    assert body["max_tokens"] == 1
    assert body["logprobs"] is True
    assert body["top_logprobs"] == 20
    assert body["temperature"] == 0
    assert body["top_k"] == 5
    assert body["stream"] is True
    assert body["model"] == "served-model"
    assert body["messages"] == [
        {"role": "system", "content": "A group chat among Mira, Bram and Sir Aldric."},
        {"role": "user", "content": "Ann: Bram, pass the salt."},
    ]

    server.script(logprobs_reply(("B", -0.3), TOP))
    await backend.score_continuations(
        ContinuationRequest(REQUEST.messages, REQUEST.continuations, model="other-model")
    )
    assert server.requests[1].json()["model"] == "other-model"


async def test_the_listed_logprobs_decide_the_scores(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(logprobs_reply(("B", -0.3), TOP))
    mira, bram, aldric, nell = await backend.score_continuations(REQUEST)
    assert bram == -0.3
    assert mira == -1.6
    assert aldric == -2.5
    assert nell == pytest.approx(-3.0 - math.log(2))


async def test_the_chosen_token_counts_even_when_not_among_the_top(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(logprobs_reply(("N", -0.7), [("B", -1.2), ("M", -2.2)]))
    assert await backend.score_continuations(REQUEST) == pytest.approx(
        (-2.2, -1.2, -2.2 - math.log(2), -0.7)
    )


async def test_an_answer_without_logprobs_is_one_clear_error(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(sse_reply("Bram"))
    with pytest.raises(BackendProtocolError) as caught:
        await backend.score_continuations(REQUEST)
    message = str(caught.value)
    assert message == (
        "backend 'vllm': the answer carried no logprobs (the server may not support logprobs)"
    )


async def test_a_host_that_rejects_logprobs_is_one_line(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(
        error_reply(400, "'logprobs' is not supported with this model\nsee the docs " + API_KEY)
    )
    with pytest.raises(BackendError) as caught:
        await backend.score_continuations(REQUEST)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith("backend 'vllm': request rejected with HTTP 400: ")
    assert "'logprobs' is not supported with this model" in message
    assert API_KEY not in message
    assert len(server.requests) == 1


async def test_failures_before_the_answer_are_retried(
    server: OpenAIServer, backend: OpenAICompatBackend
) -> None:
    server.script(error_reply(503, "warming up"), logprobs_reply(("B", -0.3), TOP))
    assert (await backend.score_continuations(REQUEST))[1] == -0.3
    assert len(server.requests) == 2


def test_entries_without_a_token_or_a_finite_logprob_are_left_out() -> None:
    choice: dict[str, Any] = {
        "logprobs": {
            "content": [
                {
                    "token": "A",
                    "logprob": -0.5,
                    "top_logprobs": [
                        {"token": "B", "logprob": float("nan")},
                        {"token": None, "logprob": -1.0},
                        {"token": "C", "logprob": True},
                        {"token": "D", "logprob": -2},
                        "E",
                    ],
                }
            ]
        }
    }
    assert first_token_alternatives(choice) == (("A", -0.5), ("D", -2.0))
    assert first_token_alternatives({"logprobs": None}) is None
    assert first_token_alternatives({"logprobs": {"content": []}}) is None
    assert first_token_alternatives({"delta": {"content": "A"}}) is None


def test_scoring_is_case_sensitive_and_ignores_blank_tokens() -> None:
    assert score_continuations((("b", -0.1), (" ", -0.2), ("B", -4.0)), ["Bram:", "bram:"]) == (
        -4.0,
        -0.1,
    )
    with pytest.raises(ValueError):
        score_continuations((), ["Bram:"])

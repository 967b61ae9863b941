"""The OpenAI-compatible backend against a scripted loopback server."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from email.utils import formatdate
from typing import Any

import httpx
import pytest

from botkit.backends.base import (
    BackendAuthError,
    BackendError,
    BackendNotFound,
    BackendProtocolError,
    BackendRateLimited,
    BackendTimeout,
    BackendUnavailable,
    ChatBackend,
    ChatMessage,
    ChatRequest,
    Sampling,
)
from botkit.backends.choices import choice_grammar
from botkit.backends.openai_compat import OpenAICompatBackend
from botkit.tokens import CallableTokenCounter, default_token_counter
from tests.support.openai_server import (
    DONE,
    Drop,
    OpenAIServer,
    Pause,
    Reply,
    Stall,
    chat_chunk,
    error_reply,
    event,
    json_reply,
    sse_reply,
)

API_KEY = "sk-test-0123456789abcdef"
REQUEST = ChatRequest(
    (
        ChatMessage("system", "You are Mira, the innkeeper."),
        ChatMessage("user", "Ann: Is there a room free tonight?"),
    )
)
COUNTER = CallableTokenCounter(lambda text: list(range(len(text.split()))))

Connect = Callable[..., OpenAICompatBackend]


class RecordedSleeps:
    """Stands in for ``asyncio.sleep``: records each delay asked for and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def sleeps() -> RecordedSleeps:
    """The delays the backend under test asked to sleep."""
    return RecordedSleeps()


@pytest.fixture
async def connect(server: OpenAIServer, sleeps: RecordedSleeps) -> AsyncIterator[Connect]:
    """Makes backends pointed at the scripted server; closes them after the test."""
    made: list[OpenAICompatBackend] = []

    def make(**options: Any) -> OpenAICompatBackend:
        settings: dict[str, Any] = {
            "name": "vllm",
            "base_url": server.base_url,
            "model": "served-model",
            "api_key": API_KEY,
            "sleep": sleeps,
            "token_counter": COUNTER,
            # An explicit transport keeps proxy settings from the environment off loopback.
            "transport": httpx.AsyncHTTPTransport(),
            **options,
        }
        backend = OpenAICompatBackend(**settings)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()


async def collect(backend: OpenAICompatBackend, request: ChatRequest = REQUEST) -> list[str]:
    """Every fragment of one reply."""
    return [fragment async for fragment in backend.stream(request)]


async def collect_until_error(
    backend: OpenAICompatBackend, fragments: list[str], request: ChatRequest = REQUEST
) -> None:
    """Stream into ``fragments`` so a test can see what arrived before an error."""
    async for fragment in backend.stream(request):
        fragments.append(fragment)


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# Streaming


async def test_it_streams_the_content_fragments(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Of course", ", love", "! Room three."))
    backend = connect()

    assert await collect(backend) == ["Of course", ", love", "! Room three."]
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/v1/chat/completions")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["accept"] == "text/event-stream"
    body = request.json()
    assert body["stream"] is True
    assert body["model"] == "served-model"
    assert body["messages"] == [
        {"role": "system", "content": "You are Mira, the innkeeper."},
        {"role": "user", "content": "Ann: Is there a room free tonight?"},
    ]


async def test_it_parses_server_sent_events_by_the_spec(
    server: OpenAIServer, connect: Connect
) -> None:
    accented = event(chat_chunk("Hé")).encode()
    middle_of_e = accented.index("é".encode()) + 1
    server.script(
        Reply(
            body=[
                ": keep-alive comment\n\n",
                "event: message\r\nid: 1\r\nretry: 1000\r\n",
                'data: {"choices": [{"index": 0,\r\ndata:  "delta": {"content": "One"}}]}\r',
                "\n\r\n",
                accented[:middle_of_e],
                accented[middle_of_e:],
                event(chat_chunk("line\u2028separator")).replace("\n", "\r"),
                "data:[DONE]\n\n",
                event(chat_chunk("never sent")),
            ]
        )
    )
    backend = connect()

    assert await collect(backend) == ["One", "Hé", "line\u2028separator"]


async def test_usage_only_chunks_are_ignored(server: OpenAIServer, connect: Connect) -> None:
    usage = {"choices": [], "usage": {"prompt_tokens": 12, "completion_tokens": 2}}
    server.script(Reply(body=[event(chat_chunk("Hi")), event(usage), DONE]))
    backend = connect()

    assert await collect(backend) == ["Hi"]


async def test_a_stream_may_end_without_done(server: OpenAIServer, connect: Connect) -> None:
    server.script(Reply(body=[event(chat_chunk("Hi")), event(chat_chunk(finish="stop"))]))
    backend = connect()

    assert await collect(backend) == ["Hi"]


# Request contents


async def test_it_sends_the_sampling_fields_that_are_set(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(sse_reply("Hi"))
    backend = connect(
        default_sampling=Sampling(temperature=0.7, max_tokens=64),
        extra_body={"repetition_penalty": 1.1, "temperature": 5.0},
        headers={"X-Title": "botkit tests"},
    )
    request = ChatRequest(
        REQUEST.messages,
        Sampling(model="other-model", top_p=0.9, max_tokens=32, stop=("\nAnn:",)),
    )

    await collect(backend, request)
    [received] = server.requests
    body = received.json()
    assert body["model"] == "other-model"
    assert body["temperature"] == 0.7
    assert body["top_p"] == 0.9
    assert body["max_tokens"] == 32
    assert body["stop"] == ["\nAnn:"]
    assert body["repetition_penalty"] == 1.1
    assert received.headers["x-title"] == "botkit tests"


async def test_unset_sampling_fields_are_left_out(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Hi"))
    backend = connect(api_key=None)

    await collect(backend)
    [received] = server.requests
    assert set(received.json()) == {"model", "messages", "stream"}
    assert "authorization" not in received.headers


# Retries


async def test_429_waits_as_long_as_retry_after_says(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(error_reply(429, "slow down", headers={"Retry-After": "2"}), sse_reply("Hi"))
    backend = connect()

    assert await collect(backend) == ["Hi"]
    assert sleeps.delays == [2.0]
    assert len(server.requests) == 2


async def test_retry_after_may_be_an_http_date(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    later = formatdate(time.time() + 30, usegmt=True)
    server.script(error_reply(503, "warming up", headers={"Retry-After": later}), sse_reply("Hi"))
    backend = connect()

    assert await collect(backend) == ["Hi"]
    [delay] = sleeps.delays
    assert 25 <= delay <= 30


async def test_retry_after_ms_wins_over_retry_after(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    headers = {"retry-after-ms": "250", "Retry-After": "7"}
    server.script(error_reply(429, "slow down", headers=headers), sse_reply("Hi"))
    backend = connect()

    assert await collect(backend) == ["Hi"]
    assert sleeps.delays == [0.25]


async def test_retry_after_is_capped(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(error_reply(429, "slow down", headers={"Retry-After": "600"}), sse_reply("Hi"))
    backend = connect(retry_after_cap=5.0)

    assert await collect(backend) == ["Hi"]
    assert sleeps.delays == [5.0]


async def test_a_500_is_retried_after_a_jittered_backoff(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(error_reply(500, "boom"), sse_reply("Hi"))
    backend = connect(backoff_base=0.5)

    assert await collect(backend) == ["Hi"]
    [delay] = sleeps.delays
    assert 0.25 <= delay <= 0.5


async def test_backoff_grows_up_to_its_maximum(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(*[error_reply(502, "bad gateway")] * 3, sse_reply("Hi"))
    backend = connect(max_retries=3, backoff_base=0.5, backoff_max=1.5)

    assert await collect(backend) == ["Hi"]
    first, second, third = sleeps.delays
    assert 0.25 <= first <= 0.5
    assert 0.5 <= second <= 1.0
    assert 0.75 <= third <= 1.5


async def test_500s_until_retries_run_out_make_it_unavailable(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(*[error_reply(500, "CUDA error: device-side assert")] * 3)
    backend = connect(max_retries=2)

    with pytest.raises(BackendUnavailable) as caught:
        await collect(backend)
    message = str(caught.value)
    assert message.startswith("backend 'vllm': HTTP 500: CUDA error: device-side assert")
    assert "gave up after 3 attempts" in message
    assert "\n" not in message
    assert len(sleeps.delays) == 2
    assert len(server.requests) == 3


async def test_429s_until_retries_run_out_make_it_rate_limited(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(*[error_reply(429, "quota", headers={"Retry-After": "1"})] * 2)
    backend = connect(max_retries=1)

    with pytest.raises(BackendRateLimited, match="HTTP 429: quota"):
        await collect(backend)


async def test_it_gives_up_when_the_wait_would_pass_the_deadline(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(error_reply(429, "busy", headers={"Retry-After": "30"}))
    backend = connect(total_timeout=5.0)

    with pytest.raises(BackendRateLimited, match=r"a retry would pass total_timeout 5 s"):
        await collect(backend)
    assert sleeps.delays == []


async def test_refused_connections_are_retried_then_unavailable(
    connect: Connect, sleeps: RecordedSleeps
) -> None:
    backend = connect(base_url=f"http://127.0.0.1:{closed_port()}/v1", max_retries=2)

    with pytest.raises(BackendUnavailable, match=r"cannot connect to http://127\.0\.0\.1"):
        await collect(backend)
    assert len(sleeps.delays) == 2


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps, status: int
) -> None:
    server.script(error_reply(status, "no"))
    backend = connect()

    with pytest.raises(BackendError):
        await collect(backend)
    assert len(server.requests) == 1
    assert sleeps.delays == []


# Errors


async def test_400_carries_the_servers_message(server: OpenAIServer, connect: Connect) -> None:
    message = "This model's maximum context length is 8192 tokens. However, you requested 9000."
    server.script(error_reply(400, message))
    backend = connect()

    with pytest.raises(BackendError) as caught:
        await collect(backend)
    assert type(caught.value) is BackendError
    assert str(caught.value) == f"backend 'vllm': request rejected with HTTP 400: {message}"


async def test_401_is_an_auth_error_that_never_shows_the_key(
    server: OpenAIServer, connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(error_reply(401, f"Incorrect API key provided: {API_KEY}"))
    backend = connect()

    with pytest.raises(BackendAuthError) as caught:
        await collect(backend)
    message = str(caught.value)
    assert message.startswith("backend 'vllm': ")
    assert "HTTP 401: Incorrect API key provided: ***" in message
    assert "check api_key" in message
    assert API_KEY not in message
    assert all(API_KEY not in record.getMessage() for record in caplog.records)


async def test_401_without_a_key_says_none_is_configured(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(error_reply(401, "Unauthorized"))
    backend = connect(api_key=None)

    with pytest.raises(BackendAuthError, match="no api_key is configured"):
        await collect(backend)


async def test_404_for_a_model_blames_the_model_name(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(error_reply(404, "The model `served-modle` does not exist."))
    backend = connect(model="served-modle")

    with pytest.raises(BackendNotFound, match="the model name 'served-modle' is probably wrong"):
        await collect(backend)


async def test_404_for_a_path_blames_the_url(server: OpenAIServer, connect: Connect) -> None:
    server.script(json_reply(404, {"detail": "Not Found"}))
    backend = connect(base_url=server.base_url.removesuffix("/v1"))

    with pytest.raises(BackendNotFound) as caught:
        await collect(backend)
    assert "/chat/completions is probably wrong (check base_url" in str(caught.value)
    assert str(caught.value).endswith(": Not Found")


async def test_an_error_event_mid_stream_raises_the_servers_message(
    server: OpenAIServer, connect: Connect
) -> None:
    error = {"error": {"message": "CUDA out of memory", "type": "InternalServerError", "code": 500}}
    server.script(Reply(body=[event(chat_chunk("Hi")), event(error), DONE]))
    backend = connect()
    fragments: list[str] = []

    with pytest.raises(BackendUnavailable, match="error in the stream: CUDA out of memory"):
        await collect_until_error(backend, fragments)
    assert fragments == ["Hi"]
    assert len(server.requests) == 1


async def test_an_old_style_error_object_in_the_stream_is_an_error(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    error = {"object": "error", "message": "prompt is too long", "type": "BadRequest", "code": 400}
    server.script(Reply(body=[event(error), DONE]))
    backend = connect()

    with pytest.raises(BackendError, match="error in the stream: prompt is too long") as caught:
        await collect(backend)
    assert type(caught.value) is BackendError
    assert sleeps.delays == []


async def test_an_error_body_with_status_200_is_an_error(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(json_reply(200, {"error": "model 'served-model' not loaded"}))
    backend = connect()

    with pytest.raises(BackendError, match="answered with an error: model 'served-model'"):
        await collect(backend)


# Protocol violations


async def test_a_non_event_stream_is_a_protocol_error(
    server: OpenAIServer, connect: Connect
) -> None:
    page = "<html><body>Welcome to nginx!</body></html>"
    server.script(Reply(headers={"Content-Type": "text/html"}, body=[page], chunked=False))
    backend = connect()

    with pytest.raises(BackendProtocolError) as caught:
        await collect(backend)
    assert "expected an event stream" in str(caught.value)
    assert "got text/html '<html><body>Welcome to nginx!" in str(caught.value)


async def test_data_that_is_not_json_is_a_protocol_error(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=['data: {"choices": [{"delta": \n\n', DONE]))
    backend = connect()

    with pytest.raises(BackendProtocolError, match='not a JSON object: \'\\{"choices"') as caught:
        await collect(backend)
    assert str(caught.value).startswith("backend 'vllm': ")


async def test_a_chunk_of_the_wrong_shape_is_a_protocol_error(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=[event({"choices": [{"delta": {"content": 42}}]}), DONE]))
    backend = connect()

    with pytest.raises(BackendProtocolError, match="unexpected shape"):
        await collect(backend)


async def test_a_stream_without_events_is_a_protocol_error(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=["hello there\n", "garbage\n\n"]))
    backend = connect()

    with pytest.raises(BackendProtocolError, match="without any events; received 'hello there"):
        await collect(backend)


# Timeouts and broken connections


async def test_a_stalled_server_times_out(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(Reply(body=[Stall()]), Reply(body=[Stall()]))
    backend = connect(read_timeout=0.1, max_retries=1)

    with pytest.raises(BackendTimeout, match=r"no data from \S+ for read_timeout 0\.1 s"):
        await collect(backend)
    assert len(sleeps.delays) == 1
    assert len(server.requests) == 2


async def test_a_stall_before_any_text_is_retried(server: OpenAIServer, connect: Connect) -> None:
    server.script(Reply(body=[Stall()]), sse_reply("Hi"))
    backend = connect(read_timeout=0.25)

    assert await collect(backend) == ["Hi"]


async def test_a_trickling_stream_hits_the_total_deadline(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    trickle = [step for _ in range(100) for step in (event(chat_chunk("la ")), Pause(0.05))]
    server.script(Reply(body=trickle))
    backend = connect(read_timeout=5.0, total_timeout=0.5)
    fragments: list[str] = []

    with pytest.raises(BackendTimeout, match=r"no complete reply within total_timeout 0\.5 s"):
        await collect_until_error(backend, fragments)
    assert 0 < len(fragments) < 100
    assert sleeps.delays == []
    await asyncio.wait_for(server.client_gone.wait(), timeout=5)


async def test_a_connection_lost_after_text_is_not_retried(
    server: OpenAIServer, connect: Connect, sleeps: RecordedSleeps
) -> None:
    server.script(Reply(body=[event(chat_chunk("Hi")), Drop()]), sse_reply("never"))
    backend = connect()
    fragments: list[str] = []

    with pytest.raises(BackendUnavailable, match=r"\(mid-reply\)"):
        await collect_until_error(backend, fragments)
    assert fragments == ["Hi"]
    assert len(server.requests) == 1
    assert sleeps.delays == []


# Cancellation


async def test_cancelling_the_consumer_closes_the_connection(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=[event(chat_chunk("Hi")), Stall()]))
    backend = connect()
    first = asyncio.Event()

    async def consume() -> None:
        async for _fragment in backend.stream(REQUEST):
            first.set()

    consumer = asyncio.create_task(consume())
    await asyncio.wait_for(first.wait(), timeout=5)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await asyncio.wait_for(server.client_gone.wait(), timeout=5)


async def test_closing_the_stream_early_closes_the_connection(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=[event(chat_chunk("Hi")), Stall()]))
    backend = connect()
    stream = backend.stream(REQUEST)
    assert isinstance(stream, AsyncGenerator)

    assert await anext(stream) == "Hi"
    await stream.aclose()
    await asyncio.wait_for(server.client_gone.wait(), timeout=5)


# Construction


async def test_it_is_a_chat_backend_with_the_configured_window(connect: Connect) -> None:
    backend = connect(context_window=4096)

    assert isinstance(backend, ChatBackend)
    assert backend.context_window == 4096
    assert backend.token_counter is COUNTER


async def test_the_default_token_counter_is_the_offline_one(connect: Connect) -> None:
    backend = connect(token_counter=None)

    assert backend.token_counter is default_token_counter()


@pytest.mark.parametrize(
    "option",
    [
        {"base_url": "127.0.0.1:8000/v1"},
        {"model": ""},
        {"read_timeout": 0},
        {"max_retries": -1},
        {"retry_after_cap": float("nan")},
    ],
)
async def test_bad_settings_are_refused(server: OpenAIServer, option: dict[str, Any]) -> None:
    settings = {"name": "vllm", "base_url": server.base_url, "model": "m", **option}

    with pytest.raises(ValueError):
        OpenAICompatBackend(**settings)


async def test_aclose_closes_idle_connections(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Hi"))
    backend = connect()
    await collect(backend)
    assert not server.client_gone.is_set()

    await backend.aclose()
    await asyncio.wait_for(server.client_gone.wait(), timeout=5)


# Choices (who speaks next)

CHOICES = ("Mira", "Sir Aldric", "NOBODY")
ASK = ChatRequest((ChatMessage("user", "Who speaks next?"),), choices=CHOICES)


async def test_vllm_gets_structured_outputs_choice(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Sir Aldric"))
    backend = connect(choice_constraint="structured_outputs")
    assert [f async for f in backend.stream(ASK)] == ["Sir Aldric"]
    body = server.requests[0].json()
    assert body["structured_outputs"] == {"choice": list(CHOICES)}
    assert "guided_choice" not in body and "grammar" not in body


async def test_a_llama_cpp_server_gets_a_grammar(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Mira"))
    backend = connect(choice_constraint="grammar")
    assert [f async for f in backend.stream(ASK)] == ["Mira"]
    assert server.requests[0].json()["grammar"] == choice_grammar(CHOICES)


async def test_hosted_apis_get_no_constraint_fields(server: OpenAIServer, connect: Connect) -> None:
    server.script(sse_reply("Mira"), sse_reply("Mira"))
    backend = connect()
    [f async for f in backend.stream(ASK)]
    plain = connect(choice_constraint="structured_outputs")
    [f async for f in plain.stream(ChatRequest(ASK.messages))]
    for request in server.requests:
        body = request.json()
        assert "structured_outputs" not in body and "grammar" not in body


def test_an_unknown_constraint_is_refused() -> None:
    with pytest.raises(ValueError, match="choice_constraint must be one of"):
        OpenAICompatBackend(
            name="x", base_url="http://127.0.0.1:9/v1", model="m", choice_constraint="guided"
        )


# Hostile streams and secrets


async def test_a_line_that_never_ends_is_a_clear_protocol_error(
    server: OpenAIServer, connect: Connect
) -> None:
    server.script(Reply(body=["data: ", *["a" * 65536] * 20]))
    backend = connect()

    with pytest.raises(BackendProtocolError) as caught:
        await collect(backend)
    message = str(caught.value)
    assert "sent a line of over 1048576 bytes (not a chat-completion stream)" in message
    assert "it began 'data: aaa" in message
    assert len(message) < 500


class Burst(httpx.AsyncByteStream):
    """A long event stream whose chunks are all ready at once, as from a fast local server."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            yield event(chat_chunk("word ")).encode()
        yield DONE.encode()


async def test_a_long_stream_lets_other_channels_run_between_chunks(connect: Connect) -> None:
    headers = {"Content-Type": "text/event-stream"}
    transport = httpx.MockTransport(
        lambda _: httpx.Response(200, headers=headers, stream=Burst(300))
    )
    backend = connect(transport=transport)
    turns = 0

    async def other_channel() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(other_channel())
    await asyncio.sleep(0)
    before = turns
    fragments = await collect(backend)
    task.cancel()
    assert len(fragments) == 300
    assert turns - before >= 300


async def test_credentials_in_base_url_stay_out_of_errors_and_logs(
    connect: Connect, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "hunter2-secret-pw"
    url = f"http://mira:{password}@127.0.0.1:{closed_port()}/v1"
    backend = connect(base_url=url, max_retries=1)

    with pytest.raises(BackendUnavailable) as caught:
        await collect(backend)
    message = str(caught.value)
    assert "cannot connect to http://***@127.0.0.1:" in message
    for secret in (password, "mira:"):
        assert secret not in message
        assert secret not in caplog.text

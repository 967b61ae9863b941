"""Handing a character's reply to a platform as its adapter declares it can show one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from botkit.adapter import Adapter, StreamingAdapter, TypingAdapter
from botkit.events import ChannelKey, Identity
from botkit.messages import split_text

__all__ = ["TYPING_REFRESH", "deliver_reply"]

log = logging.getLogger(__name__)

TYPING_REFRESH = 4.0
"""Seconds between typing indicators while a reply is written (platforms show one for
about 5 to 10 s)."""


async def deliver_reply(
    adapter: Adapter,
    *,
    channel: ChannelKey,
    identity: Identity,
    fragments: AsyncIterator[str],
    reply_to: str | None = None,
) -> str | None:
    """Post a reply: streamed where the platform streams, else collected (with the typing
    indicator kept up meanwhile) and posted in pieces that fit its messages.

    Returns the id of the last message posted, or None when the reply held no text.
    """
    capabilities = adapter.capabilities
    typing = adapter if capabilities.typing and isinstance(adapter, TypingAdapter) else None
    async with _typing(typing, channel, identity):
        if capabilities.streaming and isinstance(adapter, StreamingAdapter):
            return await adapter.stream_reply(
                channel=channel, identity=identity, fragments=fragments, reply_to=reply_to
            )
        text = "".join([fragment async for fragment in fragments]).strip()
    if not text:
        return None
    room = capabilities.max_text_len - (0 if capabilities.personas else len(identity.name) + 2)
    message_id: str | None = None
    for index, piece in enumerate(split_text(text, max(room, 1))):
        message_id = await adapter.post_reply(
            channel=channel,
            identity=identity,
            text=piece,
            reply_to=reply_to if index == 0 else None,
        )
    return message_id


@contextlib.asynccontextmanager
async def _typing(
    adapter: TypingAdapter | None, channel: ChannelKey, identity: Identity
) -> AsyncIterator[None]:
    """Keep ``adapter``'s typing indicator up while the body runs (None: it has none)."""
    if adapter is None:
        yield
        return

    async def show() -> None:
        try:
            await adapter.show_typing(channel=channel, identity=identity)
        except Exception as error:
            log.debug("%s: typing indicator failed: %s", channel, error)

    async def keep_typing() -> None:
        while True:
            await asyncio.sleep(TYPING_REFRESH)
            await show()

    await show()
    refresh = asyncio.create_task(keep_typing(), name=f"botkit: typing in {channel}")
    try:
        yield
    finally:
        refresh.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await refresh

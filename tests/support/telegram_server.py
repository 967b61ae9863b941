"""A small fake Telegram Bot API on loopback, served per bot token at ``/bot{token}/{method}``.

python-telegram-bot reaches it through ``ApplicationBuilder().base_url(...)``. Requests
arrive form-encoded (non-string values JSON-encoded) or as JSON; answers are
``{"ok": true, "result": ...}``. Each token is its own bot (``getMe``); only the shared
bot (``SHARED_TOKEN``) gets updates, by long polling ``getUpdates``. Tests push members'
messages, redeliver updates, set members' statuses, keep bots out of the chats, and make
a method answer 429 (flood control) a number of times.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

GROUP_ID = -1001234
SHARED_TOKEN = "100:shared"

Json = dict[str, Any]
_TEXT_FIELDS = {"text"}
"""Form fields kept as sent: message text is a string even when it looks like JSON."""
_MENTION = re.compile(r"@\w+")


def bot_id(token: str) -> int:
    """The numeric bot id a token belongs to (the part before the colon)."""
    return int(token.split(":", 1)[0])


@dataclass(frozen=True)
class Member:
    """A person in the chats."""

    id: int
    first_name: str

    def to_json(self) -> Json:
        """The ``User`` object Telegram sends."""
        return {"id": self.id, "is_bot": False, "first_name": self.first_name}


@dataclass
class Sent:
    """A message a bot sent (``sendMessage``) or its latest edit (``editMessageText``)."""

    token: str
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    thread_id: int | None
    message_id: int


@dataclass
class FakeTelegram:
    """The fake server and what it recorded.

    ``statuses`` maps user ids to their chat member status ("administrator", "creator";
    anyone else is a "member"). ``outsiders`` holds tokens of bots that were never added
    to the chats: their messages are refused with 403. ``revoked`` holds tokens Telegram
    no longer accepts: every call with one is refused with 401.
    """

    sent: list[Sent] = field(default_factory=list)
    edits: list[Sent] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    commands: dict[str, list[Json]] = field(default_factory=dict)
    statuses: dict[int, str] = field(default_factory=dict)
    outsiders: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    port: int = 0
    _delivered: dict[int, Json] = field(default_factory=dict)
    _queue: list[Json] = field(default_factory=list)
    _again: list[Json] = field(default_factory=list)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500))
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    polls: int = 0
    """``getUpdates`` calls answered."""
    conflicts: int = 0
    """``getUpdates`` calls refused because another was waiting (two pollers of one bot)."""
    _polling: bool = False

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` must be (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    # Test controls.

    def push_message(
        self,
        chat_id: int,
        user: Member,
        text: str,
        *,
        thread_id: int | None = None,
        reply_to: int | None = None,
    ) -> Json:
        """``user`` writes ``text`` in a chat (a private one when ``chat_id`` is positive,
        a forum topic with ``thread_id``); returns the update, queued for the shared bot.

        A leading ``/command`` and every ``@username`` get their entities, as in Telegram.
        """
        message: Json = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": _chat(chat_id),
            "from": user.to_json(),
            "text": text,
        }
        entities = [
            {"type": "mention", "offset": m.start(), "length": len(m.group())}
            for m in _MENTION.finditer(text)
        ]
        if text.startswith("/"):
            entities.insert(0, {"type": "bot_command", "offset": 0, "length": len(text.split()[0])})
        if entities:
            message["entities"] = entities
        if thread_id is not None:
            message.update(message_thread_id=thread_id, is_topic_message=True)
            message["chat"]["is_forum"] = True
            reply_to = reply_to or thread_id
        if reply_to is not None:
            message["reply_to_message"] = self._replied(chat_id, reply_to, thread_id)
        update: Json = {"update_id": next(self._update_ids), "message": message}
        self._delivered[update["update_id"]] = update
        self._queue.append(update)
        self._arrived.set()
        return update

    def redeliver(self, update_id: int) -> None:
        """Deliver an update again, as Telegram does when a poll's confirmation was lost."""
        self._again.append(self._delivered[update_id])
        self._arrived.set()

    def fail_next(self, method: str, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with flood control (429)."""
        self._failures[method] = [retry_after] * times

    def _replied(self, chat_id: int, message_id: int, thread_id: int | None) -> Json:
        """The message a new one replies to: a bot's, a member's, or a topic's opening."""
        replied: Json = {"message_id": message_id, "date": int(time.time())}
        replied["chat"] = _chat(chat_id)
        if message_id == thread_id:
            replied["forum_topic_created"] = {"name": "Topic", "icon_color": 7322096}
            return replied
        sent = next((s for s in self.sent if s.message_id == message_id), None)
        replied["from"] = _bot_user(sent.token) if sent else Member(1, "Someone").to_json()
        replied["text"] = sent.text if sent else "..."
        return replied

    # The Bot API.

    async def _call(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token in self.revoked:
            return _error(401, "Unauthorized")
        params = await _params(request)
        waits = self._failures.get(method)
        if waits:
            retry_after = waits.pop(0)
            return _error(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return _error(404, "Not Found")
        result = await handler(token, params)
        if isinstance(result, web.Response):
            return result
        return web.json_response({"ok": True, "result": result})

    async def _getMe(self, token: str, params: Json) -> Any:
        return _bot_user(token)

    async def _deleteWebhook(self, token: str, params: Json) -> Any:
        return True

    async def _setMyCommands(self, token: str, params: Json) -> Any:
        self.commands[token] = params["commands"]
        return True

    async def _sendChatAction(self, token: str, params: Json) -> Any:
        self.actions.append((token, str(params["action"])))
        return True

    async def _getChatMember(self, token: str, params: Json) -> Any:
        user_id = int(params["user_id"])
        status = self.statuses.get(user_id, "member")
        member: Json = {"status": status, "user": Member(user_id, "Someone").to_json()}
        if status == "creator":
            member["is_anonymous"] = False
        if status == "administrator":
            rights = (
                "can_manage_chat can_delete_messages can_manage_video_chats "
                "can_restrict_members can_promote_members can_change_info can_invite_users "
                "can_post_stories can_edit_stories can_delete_stories"
            )
            member.update({right: True for right in rights.split()})
            member.update(can_be_edited=False, is_anonymous=False)
        return member

    async def _sendMessage(self, token: str, params: Json) -> Any:
        if token in self.outsiders:
            return _error(403, "Forbidden: bot is not a member of the supergroup chat")
        reply = params.get("reply_parameters")
        sent = Sent(
            token=token,
            chat_id=int(params["chat_id"]),
            text=str(params["text"]),
            parse_mode=params.get("parse_mode"),
            reply_to=reply["message_id"] if isinstance(reply, dict) else None,
            thread_id=params.get("message_thread_id"),
            message_id=next(self._message_ids),
        )
        self.sent.append(sent)
        return _message_json(sent)

    async def _editMessageText(self, token: str, params: Json) -> Any:
        message_id = int(params["message_id"])
        original = next(s for s in self.sent if s.message_id == message_id)
        edit = replace(original, text=str(params["text"]), parse_mode=params.get("parse_mode"))
        self.edits.append(edit)
        return _message_json(edit)

    async def _getUpdates(self, token: str, params: Json) -> Any:
        if token != SHARED_TOKEN:
            return []
        if self._polling:
            # Telegram serves one poller of a bot at a time.
            self.conflicts += 1
            return _error(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one"
                " bot instance is running",
            )
        self._polling = True
        try:
            return await self._updates(params)
        finally:
            self._polling = False

    async def _updates(self, params: Json) -> Any:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        # Asking from ``offset`` confirms every earlier update: it is never sent again.
        self._queue = [u for u in self._queue if u["update_id"] >= offset]
        deadline = time.monotonic() + float(params.get("timeout") or 0)
        while not (self._again or self._queue) and (left := deadline - time.monotonic()) > 0:
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), left)
            except TimeoutError:
                break
        ready, self._again = [*self._again, *self._queue], []
        return ready


def _chat(chat_id: int) -> Json:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": "Someone"}
    return {"id": chat_id, "type": "supergroup", "title": "Gullhaven"}


def _bot_user(token: str) -> Json:
    username = f"bot{bot_id(token)}"
    return {
        "id": bot_id(token),
        "is_bot": True,
        "first_name": username,
        "username": username,
        "can_join_groups": True,
        "can_read_all_group_messages": True,
        "supports_inline_queries": False,
    }


def _message_json(sent: Sent) -> Json:
    message: Json = {
        "message_id": sent.message_id,
        "date": int(time.time()),
        "chat": _chat(sent.chat_id),
        "from": _bot_user(sent.token),
        "text": sent.text,
    }
    if sent.thread_id is not None:
        message.update(message_thread_id=sent.thread_id, is_topic_message=True)
    return message


def _error(code: int, description: str, **parameters: Any) -> web.Response:
    body: Json = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    return web.json_response(body, status=code)


async def _params(request: web.Request) -> Json:
    if request.content_type == "application/json":
        data: Json = await request.json()
        return data
    params: Json = {}
    for key, value in (await request.post()).items():
        text = str(value)
        try:
            params[key] = text if key in _TEXT_FIELDS else json.loads(text)
        except ValueError:
            params[key] = text
    return params

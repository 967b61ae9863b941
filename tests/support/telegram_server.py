"""A small fake Telegram Bot API on loopback, served per bot token at ``/bot{token}/{method}``.

python-telegram-bot reaches it through ``ApplicationBuilder().base_url(...)``. Requests
arrive form-encoded (non-text values JSON-encoded) or as JSON; answers are
``{"ok": true, "result": ...}``. ``getUpdates`` long-polls. Tests push member messages,
repeat updates, set who is a chat administrator, and make a method answer 429 with
``parameters.retry_after`` a number of times.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

GROUP_ID = -1001234
SHARED_TOKEN = "100:shared"


def bot_id(token: str) -> int:
    """The numeric bot id a token belongs to."""
    return int(token.split(":", 1)[0])


@dataclass
class Sent:
    """A message a bot sent."""

    token: str
    chat_id: int
    text: str
    parse_mode: str | None
    reply_to: int | None
    message_id: int


@dataclass
class FakeTelegram:
    """The fake server and what it recorded."""

    sent: list[Sent] = field(default_factory=list)
    actions: list[tuple[str, str]] = field(default_factory=list)
    commands: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    admins: set[int] = field(default_factory=set)
    usernames: dict[str, str] = field(default_factory=dict)
    port: int = 0
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _message_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(500))
    _failures: dict[str, list[int]] = field(default_factory=dict)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self._call)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def base_url(self) -> str:
        """What PTB's ``base_url`` must be (the token is appended)."""
        return f"http://127.0.0.1:{self.port}/bot"

    def fail_next(self, method: str, times: int, retry_after: int = 1) -> None:
        """Answer the next ``times`` calls of ``method`` with flood control (429)."""
        self._failures[method] = [retry_after] * times

    def push(self, user_id: int, name: str, text: str, **message: Any) -> dict[str, Any]:
        """A group member writes ``text``; returns the update (for repeating it)."""
        payload: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": GROUP_ID, "type": "supergroup", "title": "Gullhaven"},
            "from": {"id": user_id, "is_bot": False, "first_name": name},
            "text": text,
            **message,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            payload["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.repeat({"message": payload})

    def repeat(self, update: dict[str, Any]) -> dict[str, Any]:
        """Deliver ``update``'s message (again, as Telegram does after an unconfirmed poll)."""
        delivered = {"update_id": next(self._update_ids), "message": update["message"]}
        self._updates.append(delivered)
        self._arrived.set()
        return delivered

    async def _call(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        params = await _params(request)
        waits = self._failures.get(method)
        if waits:
            retry_after = waits.pop(0)
            return web.json_response(
                {
                    "ok": False,
                    "error_code": 429,
                    "description": f"Too Many Requests: retry after {retry_after}",
                    "parameters": {"retry_after": retry_after},
                },
                status=429,
            )
        handler = getattr(self, f"_{method}", None)
        if handler is None:
            return web.json_response(
                {"ok": False, "error_code": 404, "description": f"Not Found: {method}"}
            )
        result = await handler(token, params)
        return web.json_response({"ok": True, "result": result})

    def _user(self, token: str) -> dict[str, Any]:
        username = self.usernames.get(token, f"bot{bot_id(token)}")
        return {
            "id": bot_id(token),
            "is_bot": True,
            "first_name": username,
            "username": username,
            "can_join_groups": True,
            "can_read_all_group_messages": True,
            "supports_inline_queries": False,
        }

    async def _getMe(self, token: str, params: dict[str, Any]) -> Any:
        return self._user(token)

    async def _deleteWebhook(self, token: str, params: dict[str, Any]) -> Any:
        return True

    async def _setMyCommands(self, token: str, params: dict[str, Any]) -> Any:
        self.commands[token] = params["commands"]
        return True

    async def _sendChatAction(self, token: str, params: dict[str, Any]) -> Any:
        self.actions.append((token, str(params["action"])))
        return True

    async def _getChatMember(self, token: str, params: dict[str, Any]) -> Any:
        user_id = int(params["user_id"])
        status = "administrator" if user_id in self.admins else "member"
        member: dict[str, Any] = {
            "status": status,
            "user": {"id": user_id, "is_bot": False, "first_name": "x"},
        }
        if status == "administrator":
            member.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": True,
                    "can_restrict_members": True,
                    "can_promote_members": False,
                    "can_change_info": True,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        return member

    async def _sendMessage(self, token: str, params: dict[str, Any]) -> Any:
        message_id = next(self._message_ids)
        reply = params.get("reply_parameters") or {}
        reply_to = reply.get("message_id") if isinstance(reply, dict) else None
        self.sent.append(
            Sent(
                token,
                int(params["chat_id"]),
                str(params["text"]),
                params.get("parse_mode"),
                reply_to,
                message_id,
            )
        )
        return {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": int(params["chat_id"]), "type": "supergroup"},
            "from": self._user(token),
            "text": params["text"],
        }

    async def _getUpdates(self, token: str, params: dict[str, Any]) -> Any:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + timeout
        while True:
            ready = [u for u in self._updates if u["update_id"] >= offset]
            if token != SHARED_TOKEN:
                return []
            if ready or time.monotonic() >= deadline:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                return ready
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), deadline - time.monotonic())
            except TimeoutError:
                continue


async def _params(request: web.Request) -> dict[str, Any]:
    if request.content_type == "application/json":
        data: dict[str, Any] = await request.json()
        return data
    form = await request.post()
    params: dict[str, Any] = {}
    for key, value in form.items():
        text = str(value)
        try:
            params[key] = json.loads(text)
        except ValueError:
            params[key] = text
    return params

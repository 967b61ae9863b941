"""Who may use the playground: loopback by default, a token elsewhere, and a CSRF check on
every change."""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable

from aiohttp import web

__all__ = ["COOKIE", "CSRF_HEADER", "Guard", "is_loopback"]

COOKIE = "botkit_token"
CSRF_HEADER = "X-CSRF-Token"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    """Checks every request: the access token where one is set, and on every request that
    changes something, the page's CSRF token and an Origin of this server."""

    def __init__(self, token: str | None) -> None:
        """``token``: what a browser must present (None: loopback only, no token)."""
        self._token = token
        self.csrf = secrets.token_urlsafe(24)
        """Embedded in the page; changes must send it back in :data:`CSRF_HEADER`."""

    def _has_token(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        offered = request.cookies.get(COOKIE, "")
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            offered = header.removeprefix("Bearer ")
        return hmac.compare_digest(offered.encode(), self._token.encode())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Refuse what the checks refuse; a ``?token=`` link sets the cookie once."""
        given = request.query.get("token")
        if self._token is not None and given is not None and request.method == "GET":
            if not hmac.compare_digest(given.encode(), self._token.encode()):
                raise web.HTTPUnauthorized(text="wrong token")
            response = web.HTTPSeeOther(request.path)
            response.set_cookie(COOKIE, given, httponly=True, samesite="Strict")
            raise response
        if not self._has_token(request):
            raise web.HTTPUnauthorized(text="this playground needs its token (?token=…)")
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get(CSRF_HEADER, "")
            if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
                raise web.HTTPForbidden(text="missing or wrong CSRF token")
            origin = request.headers.get("Origin")
            if origin is not None and origin != f"{request.scheme}://{request.host}":
                raise web.HTTPForbidden(text=f"requests from {origin} are refused")
        return await handler(request)

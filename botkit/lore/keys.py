"""Lorebook keys as matchers whose time is linear in the text, whatever the key says.

A regular-expression key (``use_regex``) is compiled by RE2, which never backtracks: a key
such as ``(a+)+$`` costs the same on any message as a plain word does. RE2 has no
look-arounds or backreferences; a key that needs them is refused when the lorebook loads
(``botkit characters check`` reports it), and one that reaches a scan unchecked is skipped
with a single log line. Plain keys are escaped literals, matched as whole words.
"""

from __future__ import annotations

import logging
import re
from functools import lru_cache
from typing import Protocol

import re2

__all__ = ["InvalidKey", "KeyMatcher", "key_found", "key_found_in_part", "key_pattern"]

log = logging.getLogger(__name__)

SEARCHES_KEPT = 4096
"""Answers of plain keys searched in single messages that are kept for the next scans."""
_MAX_MEMORY = 8 << 20
"""Memory one compiled key may use; a key that needs more is refused as too complex."""


class InvalidKey(ValueError):
    """A regular-expression key that RE2 cannot compile; the message says why."""


class KeyMatcher(Protocol):
    """A compiled key: finds the key anywhere in a text."""

    def search(self, text: str) -> object | None:
        """A match object where the key first appears, or None."""
        ...


@lru_cache(maxsize=4096)
def key_pattern(key: str, *, case_sensitive: bool, use_regex: bool) -> KeyMatcher:
    """The compiled matcher of one key.

    A plain key matches as a whole word or phrase (``sea`` does not match ``season``);
    with ``use_regex`` the key is an RE2 regular expression, searched anywhere.

    Raises:
        InvalidKey: ``use_regex`` is set and RE2 does not accept ``key``.
    """
    if not use_regex:
        flags = 0 if case_sensitive else re.IGNORECASE
        return re.compile(rf"(?<!\w){re.escape(key)}(?!\w)", flags)
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = _MAX_MEMORY
    try:
        matcher: KeyMatcher = re2.compile(key, options)
    except re2.error as error:
        reason = error.args[0] if error.args else "not accepted"
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidKey(f"{reason} (RE2 syntax: no look-arounds or backreferences)") from None
    return matcher


def key_found(key: str, text: str, *, case_sensitive: bool, use_regex: bool) -> bool:
    """Whether ``key`` appears in ``text``; a key RE2 refuses never does (logged once)."""
    try:
        pattern = key_pattern(key, case_sensitive=case_sensitive, use_regex=use_regex)
    except InvalidKey as error:
        _skipped(key, str(error))
        return False
    return pattern.search(text) is not None


@lru_cache(maxsize=SEARCHES_KEPT)
def key_found_in_part(key: str, part: str, case_sensitive: bool) -> bool:
    """Whether the plain ``key`` appears in ``part``, one of the lines or messages a text
    is joined from; answers are kept, since the same messages are searched turn after turn.

    A plain key without a line break appears in the joined text exactly when it appears
    in one of its parts: the break between two parts is no word character.
    """
    return key_found(key, part, case_sensitive=case_sensitive, use_regex=False)


@lru_cache(maxsize=1024)
def _skipped(key: str, reason: str) -> None:
    """Say once that ``key`` is skipped."""
    log.warning("lorebook key %r is skipped: %s", key, reason)

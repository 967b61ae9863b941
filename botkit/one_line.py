"""Errors as operators read them: one line."""

from __future__ import annotations

__all__ = ["one_line"]


def one_line(error: BaseException) -> str:
    """``error``'s message, whose lines may be several, joined into one (its class name
    when it has no message)."""
    return "; ".join(line.strip() for line in str(error).splitlines()) or type(error).__name__

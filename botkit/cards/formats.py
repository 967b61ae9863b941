"""The card file formats botkit writes, kept apart so the command line lists them cheaply."""

from __future__ import annotations

__all__ = ["FORMATS"]

FORMATS = ("json", "png", "charx")
"""The formats a character can be exported as: JSON, PNG with the card in a text chunk, CHARX."""

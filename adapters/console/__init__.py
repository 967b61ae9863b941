"""A terminal group chat: one local channel, coloured character names, streamed replies."""

from botkit.adapters.console.adapter import ConsoleAdapter

__all__ = ["ConsoleAdapter"]

"""Telegram: a shared bot with name prefixes, or one bot per character."""

from botkit.adapters.telegram.adapter import TelegramAdapter

__all__ = ["TelegramAdapter"]

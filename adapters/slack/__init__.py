"""Slack: characters post with their own name and icon; ``/botkit`` runs the cast."""

from botkit.adapters.slack.adapter import SlackAdapter

__all__ = ["SlackAdapter"]

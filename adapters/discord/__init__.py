"""Discord: characters speak through channel webhooks; slash commands run the cast."""

from botkit.adapters.discord.adapter import DiscordAdapter

__all__ = ["DiscordAdapter"]

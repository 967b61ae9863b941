"""botkit: run a cast of role-play characters as bots, in a group."""

from botkit.events import Author, ChannelKey, CommandEvent, Identity, MessageEvent, Permission

__all__ = [
    "Author",
    "ChannelKey",
    "CommandEvent",
    "Identity",
    "MessageEvent",
    "Permission",
    "__version__",
]

__version__ = "0.1.0"

"""Long, varied synthetic role-play chatter for memory tests (deterministic)."""

from __future__ import annotations

import random

_SUBJECTS = [
    "the fog",
    "the herring catch",
    "the harbour bell",
    "the night market",
    "the new ferry",
    "the mayor's speech",
    "the smugglers' cove",
    "the price of salt",
    "the chapel roof",
    "the storm last week",
    "the lantern festival",
    "the blacksmith's apprentice",
    "the tide tables",
    "old Hessa's cat",
    "the broken pier",
    "the tavern stew",
]
_OPINIONS = [
    "I think {s} is worse than ever.",
    "Has anyone heard about {s}?",
    "Honestly {s} is all anyone talks about.",
    "My cousin says {s} will change soon.",
    "I saw {s} this morning, strange business.",
    "Nobody trusts {s} anymore.",
    "We should do something about {s}.",
    "{S} reminds me of my childhood.",
    "Ha, {s} again? Tell me something new.",
    "I heard a song about {s} at the inn.",
]


def chatter(count: int, *, seed: int = 1) -> list[str]:
    """``count`` lines of harbour-town small talk."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        subject = rng.choice(_SUBJECTS)
        template = rng.choice(_OPINIONS)
        lines.append(template.format(s=subject, S=subject[0].upper() + subject[1:]))
    return lines

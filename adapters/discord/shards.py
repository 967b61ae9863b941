"""Which Discord shards one process runs: ``shard_ids`` read and checked against
``shard_count``, so several processes can split one bot's guilds."""

from __future__ import annotations

import re

__all__ = ["shard_range"]

_ITEM = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")
_EXPECTED = "expected a list of shard ids or a range like '0-3'"


def shard_range(shard_ids: object, shard_count: object) -> list[int] | None:
    """The shard ids this process runs, in order, or None for every shard there is.

    ``shard_ids`` is a list of ids, one id, or a text of ids and ranges (``"0-3"``,
    ``"0-3, 8"``); ``shard_count`` is the total across all processes, which Discord
    uses to assign a guild to shard ``(guild_id >> 22) % shard_count``.

    Raises:
        ValueError: one line naming the option that is wrong and why.
    """
    if shard_count is not None and (
        isinstance(shard_count, bool) or not isinstance(shard_count, int) or shard_count < 1
    ):
        raise ValueError(
            f"shard_count: expected a whole number of at least 1, found {_shown(shard_count)}"
        )
    if shard_ids is None:
        return None
    if shard_count is None:
        raise ValueError("shard_ids: needs shard_count, the total number of shards of the bot")
    ids = _ids(shard_ids, shard_count)
    if not ids:
        raise ValueError(f"shard_ids: {_EXPECTED}, found {_shown(shard_ids)}")
    seen: set[int] = set()
    for shard_id in ids:
        if shard_id in seen:
            raise ValueError(f"shard_ids: shard {shard_id} is listed more than once")
        seen.add(shard_id)
    return sorted(ids)


def _ids(shard_ids: object, shard_count: int) -> list[int]:
    """The ids ``shard_ids`` names, repeats kept, each checked to be below ``shard_count``.

    Raises:
        ValueError: ``shard_ids`` is malformed or names a shard that does not exist.
    """
    if isinstance(shard_ids, int) and not isinstance(shard_ids, bool) and shard_ids >= 0:
        ids = [shard_ids]
    elif isinstance(shard_ids, list | tuple):
        if not all(
            isinstance(item, int) and not isinstance(item, bool) and item >= 0 for item in shard_ids
        ):
            raise ValueError(f"shard_ids: {_EXPECTED}, found {_shown(shard_ids)}")
        ids = list(shard_ids)
    elif isinstance(shard_ids, str):
        ids = []
        for item in shard_ids.split(","):
            matched = _ITEM.fullmatch(item)
            if matched is None:
                raise ValueError(f"shard_ids: {_EXPECTED}, found {_shown(shard_ids)}")
            low, high = int(matched[1]), int(matched[2] or matched[1])
            if high < low:
                raise ValueError(f"shard_ids: the range {item.strip()!r} runs backwards")
            _check_below(high, shard_count)
            ids += range(low, high + 1)
    else:
        raise ValueError(f"shard_ids: {_EXPECTED}, found {_shown(shard_ids)}")
    for shard_id in ids:
        _check_below(shard_id, shard_count)
    return ids


def _check_below(shard_id: int, shard_count: int) -> None:
    """Raise ValueError unless shard ``shard_id`` exists among ``shard_count`` shards."""
    if shard_id >= shard_count:
        raise ValueError(
            f"shard_ids: shard {shard_id} is not below shard_count {shard_count}"
            f" (ids run 0..{shard_count - 1})"
        )


def _shown(value: object) -> str:
    """``value`` as an error message shows it: short texts and numbers as written."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a long text"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "an empty list" if not value else "a list"
    return type(value).__name__

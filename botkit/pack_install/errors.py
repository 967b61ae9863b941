"""The error every pack operation raises: one line per problem, for operators."""

from __future__ import annotations

__all__ = ["PackError"]


class PackError(Exception):
    """A pack operation was refused or failed; ``problems`` lists every reason, one a line."""

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("\n".join(self.problems))

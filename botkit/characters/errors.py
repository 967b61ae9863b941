"""Problems found in character files and packs, each pinned to a file, line and field."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = ["CharacterError", "CharacterValidationError"]


@dataclass(frozen=True, slots=True)
class CharacterError:
    """One problem: where it is (file, 1-based line, dotted field path) and what is wrong."""

    path: Path
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}"
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class CharacterValidationError(Exception):
    """A character or pack did not load; ``problems`` lists everything that is wrong."""

    def __init__(self, problems: list[CharacterError]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))

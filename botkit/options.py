"""Option tables for config sections that other parts own (adapters, backends), checked
against what each option must be, so every mistake is reported in one run."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["Option", "check_options"]

Kind = Literal["text", "url", "number", "whole", "flag", "mapping", "list", "any"]


@dataclass(frozen=True, slots=True)
class Option:
    """What one option must be: its kind, bounds for numbers, choices for text, whether
    it is required. ``low`` excluded when ``above`` (a number *above* 0)."""

    kind: Kind = "any"
    low: float | None = None
    high: float | None = None
    above: bool = False
    choices: tuple[str, ...] = ()
    required: bool = False


def check_options(
    options: Mapping[str, Any], table: Mapping[str, Option], path: str, *, what: str = ""
) -> list[str]:
    """Every problem of ``options`` (a config section at ``path``) against ``table``:
    unknown names (with the nearest known one), missing required ones, wrong kinds."""
    problems: list[str] = []
    for name, value in options.items():
        option = table.get(str(name))
        if option is None:
            close = difflib.get_close_matches(str(name), list(table), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            problems.append(f"{path}.{name}: unknown option{f' for {what}' if what else ''}{hint}")
        elif value is not None and (expected := _expected(option, value)):
            problems.append(f"{path}.{name}: expected {expected}, found {_shown(value)}")
    for name, option in table.items():
        if option.required and options.get(name) in (None, ""):
            problems.append(f"{path}.{name}: required{f' for {what}' if what else ''}")
    return problems


def _expected(option: Option, value: Any) -> str | None:
    """What ``value`` should have been, or None when it is fine."""
    match option.kind:
        case "text" | "url":
            if not isinstance(value, str):
                return "text"
            if option.kind == "url" and not value.startswith(("http://", "https://")):
                return "an http:// or https:// URL"
            if option.choices and value not in option.choices:
                return "one of " + ", ".join(option.choices)
        case "number" | "whole":
            whole = option.kind == "whole"
            kinds = (int,) if whole else (int, float)
            if (
                isinstance(value, bool)
                or not isinstance(value, kinds)
                or not _within(option, value)
            ):
                return _range(option, "a whole number" if whole else "a number")
        case "flag":
            if not isinstance(value, bool):
                return "true or false"
        case "mapping":
            if not isinstance(value, Mapping):
                return "a mapping"
        case "list":
            if not isinstance(value, list):
                return "a list"
    return None


def _within(option: Option, value: float) -> bool:
    if option.low is not None and (value <= option.low if option.above else value < option.low):
        return False
    return option.high is None or value <= option.high


def _range(option: Option, noun: str) -> str:
    if option.low is not None and option.high is not None:
        return f"{noun} {option.low:g}..{option.high:g}"
    if option.low is not None:
        return f"{noun} {'above' if option.above else 'of at least'} {option.low:g}"
    return noun


def _shown(value: Any) -> str:
    """The wrong value for the message: short, and never a secret's text."""
    if isinstance(value, str):
        return repr(value) if len(value) <= 40 else "a long text"
    if isinstance(value, bool | int | float):
        return repr(value)
    if isinstance(value, Mapping):
        return "a mapping"
    return "a list" if isinstance(value, list) else type(value).__name__

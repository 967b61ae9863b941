"""Lorebooks (World Info): the model, key scanning, token budgets, macros and selection."""

from botkit.lore.budget import fit_budget, keep_rank
from botkit.lore.engine import DEFAULT_BUDGET_SHARE, LoreSelection, select_lore
from botkit.lore.keys import InvalidKey, key_pattern
from botkit.lore.macros import NO_USER, expand_macros, user_name
from botkit.lore.model import Lorebook, LoreEntry, Position, SelectiveLogic
from botkit.lore.scan import MAX_RECURSION, Activation, Trigger, entry_matches, scan

__all__ = [
    "DEFAULT_BUDGET_SHARE",
    "MAX_RECURSION",
    "NO_USER",
    "Activation",
    "InvalidKey",
    "LoreEntry",
    "LoreSelection",
    "Lorebook",
    "Position",
    "SelectiveLogic",
    "Trigger",
    "entry_matches",
    "expand_macros",
    "fit_budget",
    "keep_rank",
    "key_pattern",
    "scan",
    "select_lore",
    "user_name",
]

"""Long-term memory: every turn remembered in SQLite and Chroma, recalled within its scope."""

from __future__ import annotations

from botkit.memory.records import Memory, Recollection, Scope
from botkit.memory.service import Forgotten, MemoryService
from botkit.memory.settings import MemorySettings

__all__ = ["Forgotten", "Memory", "MemoryService", "MemorySettings", "Recollection", "Scope"]

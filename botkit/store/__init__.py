"""Persistent storage: transcripts, delivered events, casts and settings."""

from __future__ import annotations

from botkit.store.store import EventStatus, Store, StoredTurn, StoreError

__all__ = ["EventStatus", "Store", "StoreError", "StoredTurn"]

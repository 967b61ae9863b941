"""Persistent storage: transcripts, delivered events, casts and settings."""

from botkit.store.sqlite import EventStatus, Store, StoreError

__all__ = ["EventStatus", "Store", "StoreError"]

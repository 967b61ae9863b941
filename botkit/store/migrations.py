"""The store's schema, as an ordered list of migrations (``PRAGMA user_version`` tracks them)."""

from __future__ import annotations

__all__ = ["MIGRATIONS"]

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE turns (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        channel TEXT NOT NULL,
        platform TEXT NOT NULL,
        server TEXT NOT NULL,
        message_id TEXT,
        reply_to TEXT,
        speaker_id TEXT NOT NULL,
        speaker_name TEXT NOT NULL,
        is_character INTEGER NOT NULL,
        is_bot INTEGER NOT NULL DEFAULT 0,
        mentions TEXT NOT NULL DEFAULT '[]',
        text TEXT NOT NULL,
        time TEXT NOT NULL
    );
    CREATE INDEX turns_by_channel ON turns (channel, seq);
    CREATE UNIQUE INDEX turns_by_message ON turns (channel, message_id)
        WHERE message_id IS NOT NULL;
    CREATE INDEX turns_by_server ON turns (platform, server);
    CREATE TABLE events (
        event_id TEXT PRIMARY KEY,
        channel TEXT NOT NULL,
        turn_seq INTEGER REFERENCES turns (seq) ON DELETE CASCADE,
        status TEXT NOT NULL,
        received TEXT NOT NULL
    );
    CREATE INDEX events_pending ON events (status, received);
    CREATE TABLE casts (
        channel TEXT PRIMARY KEY,
        character_ids TEXT NOT NULL
    );
    CREATE TABLE settings (
        scope TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (scope, key)
    );
    """,
)

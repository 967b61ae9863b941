"""The store's schema history: ordered migrations, tracked by ``PRAGMA user_version``.

Migration ``n`` (1-based) brings a database from version ``n - 1`` to ``n``. Released
migrations never change; a new schema is a new migration appended at the end.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "Migration"]

Migration = tuple[str, ...]
"""The SQL statements of one migration, applied together in one transaction."""

MIGRATIONS: tuple[Migration, ...] = (
    (
        # Every line of every channel: humans' messages and characters' replies.
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
            is_character INTEGER NOT NULL CHECK (is_character IN (0, 1)),
            is_bot INTEGER NOT NULL CHECK (is_bot IN (0, 1)),
            mentions TEXT NOT NULL DEFAULT '[]',
            text TEXT NOT NULL,
            time TEXT NOT NULL
        )
        """,
        "CREATE INDEX turns_by_channel ON turns (channel, seq)",
        """
        CREATE UNIQUE INDEX turns_by_message ON turns (channel, message_id)
            WHERE message_id IS NOT NULL
        """,
        "CREATE INDEX turns_by_server ON turns (platform, server)",
        # Delivered event ids, for de-duplication and crash recovery.
        """
        CREATE TABLE events (
            event_id TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            platform TEXT NOT NULL,
            server TEXT NOT NULL,
            turn_seq INTEGER REFERENCES turns (seq) ON DELETE CASCADE,
            status TEXT NOT NULL CHECK (status IN ('pending', 'done')),
            received TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX events_by_status ON events (status, received)",
        "CREATE INDEX events_by_turn ON events (turn_seq)",
        """
        CREATE TABLE casts (
            channel TEXT PRIMARY KEY,
            platform TEXT NOT NULL,
            server TEXT NOT NULL,
            character_ids TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX casts_by_server ON casts (platform, server)",
        """
        CREATE TABLE settings (
            scope TEXT NOT NULL,
            key TEXT NOT NULL,
            value TEXT NOT NULL,
            PRIMARY KEY (scope, key)
        ) WITHOUT ROWID
        """,
    ),
)

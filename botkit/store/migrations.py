"""The SQLite store's schema history: ordered migrations, tracked by ``PRAGMA user_version``.

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
    (
        # Long-term memory: what each turn (or a note drawn from several) left behind, who
        # witnessed it, and whether its vector is in the vector index yet.
        "ALTER TABLE turns ADD COLUMN remembered INTEGER NOT NULL DEFAULT 0",
        "CREATE INDEX turns_to_remember ON turns (seq) WHERE remembered = 0",
        """
        CREATE TABLE memories (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            turn_seq INTEGER UNIQUE REFERENCES turns (seq) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('turn', 'note')),
            channel TEXT NOT NULL,
            platform TEXT NOT NULL,
            server TEXT NOT NULL,
            speaker_id TEXT NOT NULL,
            speaker_name TEXT NOT NULL,
            witnesses TEXT NOT NULL,
            text TEXT NOT NULL,
            time TEXT NOT NULL,
            importance REAL NOT NULL,
            embedded INTEGER NOT NULL DEFAULT 0
        )
        """,
        "CREATE INDEX memories_by_place ON memories (platform, server, channel)",
        "CREATE INDEX memories_by_speaker ON memories (platform, server, speaker_id)",
        "CREATE INDEX memories_to_embed ON memories (id) WHERE embedded = 0",
        """
        CREATE VIRTUAL TABLE memories_text USING fts5 (
            speaker_name, text, content = 'memories', content_rowid = 'id',
            tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """,
        """
        CREATE TRIGGER memories_text_insert AFTER INSERT ON memories BEGIN
            INSERT INTO memories_text (rowid, speaker_name, text)
                VALUES (new.id, new.speaker_name, new.text);
        END
        """,
        """
        CREATE TRIGGER memories_text_delete AFTER DELETE ON memories BEGIN
            INSERT INTO memories_text (memories_text, rowid, speaker_name, text)
                VALUES ('delete', old.id, old.speaker_name, old.text);
        END
        """,
        """
        CREATE TRIGGER memories_text_update AFTER UPDATE OF speaker_name, text ON memories
        BEGIN
            INSERT INTO memories_text (memories_text, rowid, speaker_name, text)
                VALUES ('delete', old.id, old.speaker_name, old.text);
            INSERT INTO memories_text (rowid, speaker_name, text)
                VALUES (new.id, new.speaker_name, new.text);
        END
        """,
    ),
    (
        # A turn's memory is also found by the words of the turns around it (what it
        # answers, what answered it): two more columns in the lexical index.
        "ALTER TABLE memories ADD COLUMN before_text TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE memories ADD COLUMN after_text TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX memories_in_order ON memories (channel, turn_seq) WHERE kind = 'turn'",
        "DROP TRIGGER memories_text_insert",
        "DROP TRIGGER memories_text_delete",
        "DROP TRIGGER memories_text_update",
        "DROP TABLE memories_text",
        """
        UPDATE memories SET
            before_text = coalesce((
                SELECT p.text FROM memories p
                WHERE p.kind = 'turn' AND p.channel = memories.channel
                    AND p.turn_seq < memories.turn_seq
                ORDER BY p.turn_seq DESC LIMIT 1
            ), ''),
            after_text = coalesce((
                SELECT n.text FROM memories n
                WHERE n.kind = 'turn' AND n.channel = memories.channel
                    AND n.turn_seq > memories.turn_seq
                ORDER BY n.turn_seq LIMIT 1
            ), '')
        WHERE kind = 'turn'
        """,
        """
        CREATE VIRTUAL TABLE memories_text USING fts5 (
            speaker_name, text, before_text, after_text,
            content = 'memories', content_rowid = 'id',
            tokenize = 'porter unicode61 remove_diacritics 2'
        )
        """,
        """
        CREATE TRIGGER memories_text_insert AFTER INSERT ON memories BEGIN
            INSERT INTO memories_text (rowid, speaker_name, text, before_text, after_text)
                VALUES (new.id, new.speaker_name, new.text, new.before_text, new.after_text);
        END
        """,
        """
        CREATE TRIGGER memories_text_delete AFTER DELETE ON memories BEGIN
            INSERT INTO memories_text
                (memories_text, rowid, speaker_name, text, before_text, after_text)
                VALUES ('delete', old.id, old.speaker_name, old.text, old.before_text,
                    old.after_text);
        END
        """,
        """
        CREATE TRIGGER memories_text_update
            AFTER UPDATE OF speaker_name, text, before_text, after_text ON memories
        BEGIN
            INSERT INTO memories_text
                (memories_text, rowid, speaker_name, text, before_text, after_text)
                VALUES ('delete', old.id, old.speaker_name, old.text, old.before_text,
                    old.after_text);
            INSERT INTO memories_text (rowid, speaker_name, text, before_text, after_text)
                VALUES (new.id, new.speaker_name, new.text, new.before_text, new.after_text);
        END
        """,
        "INSERT INTO memories_text (memories_text) VALUES ('rebuild')",
    ),
    (
        # Observations: a note records the turn memories it was drawn from, best source
        # first; forgetting either side of a link forgets the link.
        """
        CREATE TABLE memory_sources (
            memory_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
            source_id INTEGER NOT NULL REFERENCES memories (id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            PRIMARY KEY (memory_id, source_id)
        ) WITHOUT ROWID
        """,
        "CREATE INDEX memory_sources_by_source ON memory_sources (source_id)",
    ),
    (
        # How far the answers to a message got (which speakers already replied), saved with
        # each reply so that a restart resumes with the next speaker.
        "ALTER TABLE events ADD COLUMN progress TEXT",
    ),
    (
        # Which process answers a channel, where several share one database: the owner
        # renews its lease; another takes the channel once the lease has run out.
        """
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            expires TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        "CREATE INDEX leases_by_owner ON leases (owner)",
    ),
)

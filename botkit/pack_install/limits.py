"""What an installed pack may contain and how large it may be: every limit in one place."""

from __future__ import annotations

__all__ = [
    "DOCUMENT_NAMES",
    "GIT_METADATA",
    "GIT_TIMEOUT",
    "IMAGE_SUFFIXES",
    "MAX_FILES",
    "MAX_IMAGE_BYTES",
    "MAX_PACK_BYTES",
    "MAX_STAGING_BYTES",
    "MAX_TEXT_BYTES",
    "TEXT_SUFFIXES",
]

KIB = 1024
MIB = 1024 * KIB

MAX_TEXT_BYTES = 512 * KIB
"""Largest YAML, JSON, Markdown or text file."""
MAX_IMAGE_BYTES = 4 * MIB
"""Largest image (avatars, art)."""
MAX_PACK_BYTES = 32 * MIB
"""Largest pack, all files together."""
MAX_STAGING_BYTES = 2 * MAX_PACK_BYTES
"""Most a download may write into staging before git is stopped (git's own files included)."""
MAX_FILES = 2_000
"""Most files in one pack."""

TEXT_SUFFIXES = frozenset({".yaml", ".yml", ".json", ".md", ".txt"})
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".gif"})
DOCUMENT_NAMES = frozenset(
    {"readme", "license", "licence", "copying", "notice", "authors", "changelog", "changes"}
)
"""Stems of README-like files allowed with no suffix (or ``.rst``), compared case-blind."""
GIT_METADATA = frozenset({".gitignore", ".gitattributes"})
"""Git's own files at the top of a repository, dropped on install."""

GIT_TIMEOUT = 300.0
"""Seconds one git command may run before it is stopped."""

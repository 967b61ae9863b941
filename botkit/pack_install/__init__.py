"""Installing character packs from git repositories or folders: fetch, validate, lock, swap."""

from botkit.pack_install.errors import PackError
from botkit.pack_install.installer import InstallResult, PackInstaller
from botkit.pack_install.lock import LockEntry, installed_pack_folders, read_lock
from botkit.pack_install.source import PackSource, is_local_source, parse_source

__all__ = [
    "InstallResult",
    "LockEntry",
    "PackError",
    "PackInstaller",
    "PackSource",
    "installed_pack_folders",
    "is_local_source",
    "parse_source",
    "read_lock",
]

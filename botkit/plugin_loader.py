"""Finding plugins: botkit's own, the ``botkit.plugins`` entry points, configured folders."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import logging
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path
from types import ModuleType

from botkit.one_line import one_line
from botkit.plugin import Plugin

__all__ = ["ENTRY_POINT_GROUP", "FIRST_PARTY", "LoadedPlugin", "PluginError", "load_plugins"]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "botkit.plugins"
FIRST_PARTY = ("status", "cast", "memory", "packs", "dice", "word_filter")
"""botkit's own plugins (modules of ``botkit.plugins``), in the order menus list them."""


class PluginError(Exception):
    """A plugin could not be loaded; the message names it and says why, in one line."""


@dataclass(frozen=True, slots=True)
class LoadedPlugin:
    """A plugin and where it came from (built in, an entry point, a folder)."""

    plugin: Plugin
    source: str


def load_plugins(folders: Sequence[Path] = (), disabled: Iterable[str] = ()) -> list[LoadedPlugin]:
    """botkit's own plugins, then those of installed packages' entry points, then those of
    ``folders``; a plugin named in ``disabled`` is left out.

    Raises:
        PluginError: a plugin fails to import, is not a :class:`Plugin`, or takes a name
            another one has.
    """
    off = set(disabled)
    found: list[LoadedPlugin] = []
    for name in FIRST_PARTY:
        module = importlib.import_module(f"botkit.plugins.{name}")
        found.append(LoadedPlugin(_plugin_of(module, f"botkit.plugins.{name}"), "built in"))
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        found.append(_from_entry_point(entry))
    for folder in folders:
        found += _from_folder(folder)
    taken: dict[str, str] = {}
    for loaded in found:
        name = loaded.plugin.name
        if name in taken:
            raise PluginError(
                f"plugin {name!r} from {loaded.source}: the name is taken by the plugin from"
                f" {taken[name]}"
            )
        taken[name] = loaded.source
    unknown = sorted(off - set(taken))
    if unknown:
        raise PluginError(f"plugins.disabled: no plugin called {', '.join(map(repr, unknown))}")
    return [loaded for loaded in found if loaded.plugin.name not in off]


def _from_entry_point(entry: EntryPoint) -> LoadedPlugin:
    package = f"{entry.dist.name} {entry.dist.version}" if entry.dist else "an unknown package"
    source = f"entry point {entry.name} of {package} ({entry.value})"
    try:
        loaded = entry.load()
    except Exception as error:
        log.debug("plugin import failure", exc_info=True)
        raise PluginError(f"plugin from {source} failed to import: {_why(error)}") from error
    return LoadedPlugin(_plugin_of(loaded, source), source)


def _from_folder(folder: Path) -> list[LoadedPlugin]:
    """One plugin per module (``name.py``) or package (``name/__init__.py``) in ``folder``."""
    if not folder.is_dir():
        raise PluginError(f"plugins.folders: {folder} is not a folder")
    found = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py" and path.is_file():
            module_path = path
        elif (path / "__init__.py").is_file():
            module_path = path / "__init__.py"
        else:
            continue
        source = f"folder {path}"
        module = _import_file(module_path, path.stem, source)
        found.append(LoadedPlugin(_plugin_of(module, source), source))
    return found


def _import_file(path: Path, stem: str, source: str) -> ModuleType:
    """Import ``path`` under a module name of its own, so that folders cannot clash."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:12]
    name = f"botkit_plugin_{digest}_{stem}"
    spec = importlib.util.spec_from_file_location(
        name,
        path,
        submodule_search_locations=[str(path.parent)] if path.stem == "__init__" else None,
    )
    if spec is None or spec.loader is None:
        raise PluginError(f"plugin from {source}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        log.debug("plugin import failure", exc_info=True)
        raise PluginError(f"plugin from {source} failed to import: {_why(error)}") from error
    return module


def _plugin_of(loaded: object, source: str) -> Plugin:
    """The plugin an entry point or module names: a Plugin, or a module's ``plugin``."""
    plugin = getattr(loaded, "plugin", None) if isinstance(loaded, ModuleType) else loaded
    if not isinstance(plugin, Plugin):
        raise PluginError(
            f"plugin from {source}: expected a botkit.plugin.Plugin (plugin = Plugin(...)),"
            f" found {type(plugin).__name__}"
        )
    return plugin


def _why(error: BaseException) -> str:
    message = one_line(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__

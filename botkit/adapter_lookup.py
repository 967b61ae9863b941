"""Finding the adapter a config section names: an installed entry point or ``module:Class``."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import entry_points
from pkgutil import resolve_name
from typing import Any

from botkit.options import Option

__all__ = ["adapter_factory", "adapter_options"]


def adapter_factory(name: str, options: Mapping[str, Any]) -> Any:
    """The factory (usually the adapter class) for ``adapters.NAME``: ``use`` or the name.

    Raises:
        LookupError: no adapter of that name is installed (the message lists those that are).
    """
    target = options.get("use", name)
    registered = {ep.name: ep for ep in entry_points(group="botkit.adapters")}
    if target in registered:
        return registered[target].load()
    if ":" in str(target):
        try:
            return resolve_name(str(target))
        except (ImportError, AttributeError, ValueError) as error:
            raise LookupError(f"cannot load adapter {target!r}: {error}") from error
    known = ", ".join(sorted(registered)) or "none"
    raise LookupError(f"no adapter called {target!r} (installed: {known})")


def adapter_options(factory: Any) -> Mapping[str, Option] | None:
    """The options the adapter declares (its ``OPTIONS`` table, plus ``use``), or None when
    it declares none and takes whatever it is given."""
    table = getattr(factory, "OPTIONS", None)
    if not isinstance(table, Mapping):
        return None
    return {**table, "use": Option("text")}

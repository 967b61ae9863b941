"""Building the configured backends, with their fallback chains."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botkit.backends.base import ChatBackend, Sampling
from botkit.backends.fallback import FallbackBackend
from botkit.backends.options import BACKEND_OPTIONS
from botkit.config import BackendConfig, ConfigError
from botkit.options import check_options

if TYPE_CHECKING:
    from botkit.plugin import BackendFactory

__all__ = ["build_backends"]

_SAMPLING = ("temperature", "top_p", "max_tokens")


def build_backends(
    configs: Mapping[str, BackendConfig], types: Mapping[str, BackendFactory] | None = None
) -> dict[str, ChatBackend]:
    """One backend per config entry; an entry with ``fallback`` tries that backend next.

    ``types`` builds the backends of the types plugins add, by type name.

    Raises:
        ConfigError: an option is unknown or has the wrong type, or no plugin adds the
            type an entry names.
    """
    plain = {name: _build(config, types or {}) for name, config in configs.items()}
    built: dict[str, ChatBackend] = {}
    for name, config in configs.items():
        chain: list[ChatBackend] = [plain[name]]
        seen = {name}
        fallback = config.fallback
        while fallback is not None and fallback not in seen:
            chain.append(plain[fallback])
            seen.add(fallback)
            fallback = configs[fallback].fallback
        built[name] = chain[0] if len(chain) == 1 else FallbackBackend(name=name, backends=chain)
    return built


def _build(config: BackendConfig, types: Mapping[str, BackendFactory]) -> ChatBackend:
    if config.type not in BACKEND_OPTIONS:
        factory = types.get(config.type)
        if factory is None:
            known = ", ".join([*BACKEND_OPTIONS, *types])
            raise ConfigError(
                [f"backends.{config.name}.type: no backend type {config.type!r} ({known})"]
            )
        try:
            return factory(config)
        except (TypeError, ValueError) as error:
            raise ConfigError([f"backends.{config.name}: {error}"]) from error
    options = dict(config.options)
    problems = check_options(
        options, BACKEND_OPTIONS[config.type], f"backends.{config.name}", what=config.type
    )
    if problems:
        raise ConfigError(problems)
    sampling = Sampling(**{key: options.pop(key) for key in _SAMPLING if key in options})
    try:
        if config.type == "llamacpp":
            from botkit.backends.llamacpp import LlamaCppBackend

            return LlamaCppBackend(name=config.name, default_sampling=sampling, **options)
        from botkit.backends.openai_compat import OpenAICompatBackend

        return OpenAICompatBackend(name=config.name, default_sampling=sampling, **options)
    except (TypeError, ValueError) as error:
        raise ConfigError([f"backends.{config.name}: {error}"]) from error

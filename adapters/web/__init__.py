"""The web playground: the cast in a browser, with why each character spoke."""

from botkit.adapters.web.adapter import WebAdapter

__all__ = ["WebAdapter"]

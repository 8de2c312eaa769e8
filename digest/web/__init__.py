"""``digest serve``: the admin UI and the pages behind the links in the email."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app, serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `python -m digest.web.auth` neither imports Starlette nor
    # finds itself already imported by this package (runpy warns about that).
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

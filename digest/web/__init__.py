"""``digest serve``: the admin UI and the pages behind the links in the email.

One module per concern, each importing only the ones listed before it:

- :mod:`.auth`: the admin password (``python -m digest.web.auth`` prints a hash), CSRF
  tokens, the login rate limit. Pure; imports only :mod:`digest.errors`.
- :mod:`.lane`: :class:`~.lane.StoreLane`, the one thread that does the subscriber links'
  database work in batches.
- :mod:`.base`: :class:`~.base.WebContext`, the templates, the endpoint wrappers and form
  helpers; imports :mod:`.auth` and :mod:`.lane`.
- :mod:`.links`: the signed-link pages (unsubscribe, preferences, feedback).
- :mod:`.library_upload`: the admin editor's reference library upload.
- :mod:`.admin`: the admin pages (dashboard, subscribers, profile editor, papers, listings).
- :mod:`.signup`: the public sign-up with double opt-in, its limits, the pending sign-ups.
- :mod:`.pages`: the day's papers (``/papers/DATE``, ``/``) and "view in browser" (``/d/``).
- :mod:`.sessions`: admin sessions and the sign-in limit, in the database.
- :mod:`.app`: :func:`create_app` and the security headers on every response.
- :mod:`.server`: :func:`serve`: uvicorn with timeouts, limits and ``--workers``.

This module loads :mod:`.app` on first use of ``create_app`` or ``serve``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import create_app
    from .server import serve

__all__ = ["create_app", "serve"]


def __getattr__(name: str) -> Any:
    # Loaded on first use, so `python -m digest.web.auth` neither imports Starlette nor
    # finds itself already imported by this package (runpy warns about that).
    if name == "create_app":
        from . import app

        return app.create_app
    if name == "serve":
        from . import server

        return server.serve
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""``digest serve``: the admin UI and the pages behind the email's links."""

from __future__ import annotations

import click

from .app import AppContext, cli, pass_app


@cli.command("serve")
@click.option("--host", help="Address to listen on (default: config web.host).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port to listen on (default: config web.port)."
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes sharing the port (sessions and the sign-in limit are shared).",
)
@pass_app
def serve_command(app: AppContext, host: str | None, port: int | None, workers: int) -> None:
    """Serve the admin UI and the links in the emails (unsubscribe, preferences, feedback).

    Needs the link secret (the instance's secret.key, or DIGEST_SECRET) and the admin
    password (DIGEST_ADMIN_PASSWORD, or a hash from `python -m digest.web.auth`) in the
    environment. Point email.base_url at the address people reach it under.

    \b
    Example:
      DIGEST_ADMIN_PASSWORD=... digest serve --port 8000   # then open /admin
      DIGEST_ADMIN_PASSWORD=... digest serve --workers 2
    """
    from ..web import serve

    config = app.config
    serve(
        config,
        host=host or config.web.host,
        port=port or config.web.port,
        workers=workers,
        now=app.now,
        echo=click.echo,
    )

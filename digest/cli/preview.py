"""``digest preview``: render a subscriber's next digest without sending it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ..files import write_private_file
from ..text import clip
from .app import ISO_DATE, AppContext, as_date, cli, pass_app


@cli.command("preview")
@click.argument("email", required=False)
@click.option("--sample", is_flag=True, help="A built-in example subscriber instead of EMAIL.")
@click.option(
    "--date", "on_date", type=ISO_DATE, metavar="YYYY-MM-DD", help="Preview the digest of this day."
)
@click.option("--out", type=click.Path(path_type=Path, dir_okay=False), help="Write the HTML.")
@click.option("--text", "show_text", is_flag=True, help="Print the plain-text part.")
@click.option("--eml", type=click.Path(path_type=Path, dir_okay=False), help="Write the message.")
@click.option("--open", "open_browser", is_flag=True, help="Open the HTML in a browser.")
@pass_app
def preview_command(
    app: AppContext,
    email: str | None,
    sample: bool,
    on_date: dt.date | None,
    out: Path | None,
    show_text: bool,
    eml: Path | None,
    open_browser: bool,
) -> None:
    """Render a subscriber's next digest without sending or recording anything.

    \b
    Examples:
      digest preview ada@example.org --text
      digest preview ada@example.org --out /tmp/ada.html --open
      digest preview --sample --eml /tmp/sample.eml
    """
    from ..preview import preview_digest

    if bool(email) == sample:
        raise click.UsageError("give a subscriber's EMAIL, or --sample")
    result = preview_digest(
        app.store,
        app.config,
        email=email,
        today=app.today(as_date(on_date)),
        now=app.now(),
        progress=app.progress(),
    )
    if result.message is None:
        click.echo(f"no email for {result.email} on this day: {result.quiet_reason}")
    if out is not None:
        # Its links work (preferences, unsubscribe): 0600 when new, as the outbox's.
        write_private_file(out, result.html.encode("utf-8"))
        app.done(f"wrote {out}")
    if eml is not None and result.message is not None:
        write_private_file(eml, result.message.as_bytes())
        app.done(f"wrote {eml}")
    if show_text:
        click.echo(result.text, nl=False)
    if open_browser:
        import tempfile
        import webbrowser

        target = out
        if target is None:
            with tempfile.NamedTemporaryFile(
                "w", suffix=".html", delete=False, encoding="utf-8"
            ) as handle:
                handle.write(result.html)
            target = Path(handle.name)
        webbrowser.open(target.resolve().as_uri())
    if not (out or eml or show_text or open_browser):
        click.echo(f"subject: {result.subject}")
        for n, (paper, pick) in enumerate(result.picks, start=1):
            click.echo(f"{n:>3}. {clip(paper.title, 80)}  [{' · '.join(pick.reasons)}]")
        app.done("(use --out FILE.html, --text, --eml FILE or --open to see the email)")

"""``digest init`` and ``digest demo``: create an instance, or a throwaway one on samples."""

from __future__ import annotations

from pathlib import Path

import click

from .app import cli


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path, file_okay=False), default=".")
def init(directory: Path) -> None:
    """Create config.toml, the database and the inbox folders in DIRECTORY.

    \b
    Example:
      digest init mydigest && cd mydigest && digest ingest ~/Downloads/papers.txt
    """
    from ..files import working_folder
    from ..instance import init_instance

    config_path = init_instance(directory)
    if click.get_current_context().find_root().params.get("quiet"):
        return  # --quiet: only data and errors
    click.echo(f"created {config_path}")
    click.echo("next: drop listing files into the inbox folder and run `digest ingest --inbox`")
    here = working_folder()  # None: deleted, so DIRECTORY was absolute
    if here is None or directory.resolve() != here:
        click.echo(f"      (from {directory}, or pass --config {config_path})")


@cli.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("digest-demo"),
    show_default=True,
    help="Folder for the demo instance.",
)
def demo(directory: Path) -> None:
    """Run digest on its bundled sample listings; no network, no other service.

    \b
    Example:
      digest demo --dir /tmp/digest-demo

    An earlier demo in the same folder is replaced, so every run starts clean.
    """
    from ..demo import run_demo

    run_demo(directory, echo=click.echo)

"""Where the built-in templates and sample listings are.

In a wheel they ship inside the package (``digest/templates``, ``digest/examples``); in a
source checkout they sit at the top of the repository. Both layouts are looked up here.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    for candidate in (_PACKAGE / name, _PACKAGE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"digest's built-in {name}/ folder is missing; reinstall digest")


def templates_dir() -> Path:
    """The folder of built-in templates."""
    return _bundled("templates")


def examples_dir() -> Path:
    """The folder of bundled sample listings."""
    return _bundled("examples")


def example_config_path() -> Path:
    """The commented example config that ``digest init`` copies."""
    for candidate in (_PACKAGE / "config.example.toml", _PACKAGE.parent / "config.example.toml"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("digest's config.example.toml is missing; reinstall digest")

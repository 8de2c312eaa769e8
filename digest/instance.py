"""Create a digest instance on disk: config file, database and folders."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from .config import Config, load_config
from .errors import ConfigError
from .files import make_private_dir, stage_file
from .resources import example_config_path
from .store import Store

CONFIG_NAME = "config.toml"


def init_instance(directory: Path) -> Path:
    """Write ``DIRECTORY/config.toml`` from the example, then create the database and folders.

    Everything it creates is its owner's only, whatever the umask (0600 files, 0700
    folders; an existing ``DIRECTORY`` keeps its mode): the config names the SMTP account,
    the proxies trusted and where the link secret is. Refuses to overwrite an existing
    config. Returns the config path.
    """
    config_path = directory / CONFIG_NAME
    if config_path.exists():
        raise ConfigError(
            f"{config_path}: a config file is already here; edit it, or remove it to start over"
        )
    make_private_dir(directory)
    text = example_config_path().read_text(encoding="utf-8")
    tmp = stage_file(config_path, text.encode("utf-8"))  # 0600
    try:
        # Validate before it takes the real name, so a broken example never lands half-done.
        config = load_config(tmp)
        tmp.replace(config_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    create_layout(config)
    if config.email.secret_file is not None:
        write_secret_file(config.email.secret_file)
    return config_path


def write_secret_file(path: Path) -> bool:
    """Write a random 32-byte link secret to ``path``, readable by its owner only.

    Keeps a secret that is already there (links already emailed are signed with it);
    returns whether a new one was written.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(secrets.token_urlsafe(32) + "\n")
    return True


def create_layout(config: Config) -> None:
    """Create the database (with its schema) and the folders the config names."""
    for folder in (
        config.ingest.inbox,
        config.ingest.inbox / "processed",
        config.ingest.inbox / "failed",
        config.delivery.outbox,
        config.store.cache_dir,
    ):
        make_private_dir(folder)
    Store.open(config.store.database, create=True).close()

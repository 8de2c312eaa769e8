"""Files a person names are read only when they are regular files, and read bounded: a
device (``/dev/zero``), a pipe or a folder is refused with one line, whatever command or
TOML key names it, and a file over the limit costs at most limit + 1 bytes."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest

from digest.config import Config
from digest.files import FileRefused, read_regular_file


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "library.bib"
    os.mkfifo(path)  # no writer: opening it blockingly would hang the test
    return path


def test_read_regular_file_refuses_devices_pipes_and_folders(tmp_path, fifo):
    with pytest.raises(FileRefused, match="a device, not a library file"):
        read_regular_file(Path("/dev/zero"), limit=1024, what="library")
    with pytest.raises(FileRefused, match=r"a pipe \(FIFO\), not a library file"):
        read_regular_file(fifo, limit=1024, what="library")
    with pytest.raises(FileRefused, match="a folder, not a library file"):
        read_regular_file(tmp_path, limit=1024, what="library")


def test_read_regular_file_reads_at_most_the_limit(tmp_path):
    path = tmp_path / "big.txt"
    path.write_bytes(b"x" * 11)
    assert read_regular_file(path, limit=11, what="listing") == b"x" * 11
    with pytest.raises(FileRefused, match="over the 10-byte limit for a listing"):
        read_regular_file(path, limit=10, what="listing")


def one_error(result, needle: str) -> None:
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and needle in lines[0], lines
    assert "Traceback" not in result.output


def liked(instance: Config) -> list[str]:
    with sqlite3.connect(instance.store.database) as conn:
        return [json.loads(row[0]) for row in conn.execute("SELECT liked FROM profiles")]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo", "folder"])
def test_import_library_refuses_a_file_that_is_not_regular(
    run_cli, instance, tmp_path, fifo, special
):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    path = {"/dev/zero": "/dev/zero", "fifo": str(fifo), "folder": str(tmp_path)}[special]
    result = run_cli("profile", "import-library", "ada@example.org", path)
    one_error(result, "a device" if special == "/dev/zero" else "")
    assert liked(instance) == [[]]


@pytest.mark.parametrize("special", ["/dev/zero", "fifo"])
def test_toml_library_key_naming_a_device_or_pipe_is_refused(
    run_cli, instance, tmp_path, fifo, special
):
    target = "/dev/zero" if special == "/dev/zero" else fifo.name
    toml = tmp_path / "team.toml"
    toml.write_text(
        f'[[subscribers]]\nemail = "ada@example.org"\nlibrary = "{target}"\n', encoding="utf-8"
    )
    result = run_cli("subscribers", "import", str(toml))
    one_error(result, "ada@example.org: library ")
    assert "not a library file" in result.output
    assert liked(instance) == []  # all or nothing: the subscriber was not created


def test_subscribers_import_and_ingest_refuse_a_device(run_cli, instance, fifo):
    one_error(run_cli("subscribers", "import", "/dev/zero"), "a device, not a subscriber list")
    one_error(run_cli("subscribers", "import", str(fifo)), "a pipe (FIFO)")
    result = run_cli("ingest", "--date", "2026-11-20", "/dev/zero")
    assert result.exit_code != 0 and "a device, not a listing file" in result.output


def test_config_path_naming_a_device_is_refused(tmp_path):
    from click.testing import CliRunner

    from digest.cli import cli

    result = CliRunner().invoke(cli, ["--config", "/dev/zero", "subscribers", "list"])
    one_error(result, "/dev/zero: a device, not a config file")


def test_the_web_forms_entry_reader_refuses_a_library_key():
    # The admin editor and the preferences page build entries with entry_from_mapping;
    # only a TOML file on the command line may name a library (a path on this machine),
    # so a form can never make the server read /etc/passwd.
    from digest.errors import SubscriberError
    from digest.profiles import entry_from_mapping

    with pytest.raises(SubscriberError, match="unknown key library"):
        entry_from_mapping({"email": "ada@example.org", "library": "/etc/passwd"}, where="web")


def test_the_readme_states_each_size_cap_as_the_code_has_it():
    """Every cap a ``read_regular_file`` call is given (and the other size caps) is in the
    README's "Size caps" paragraph, beside what it caps: a listing was once said to be
    capped at 32 MB, the library's cap, while the code took 200 MiB."""
    import re

    import digest.cli.app
    import digest.config
    import digest.ingest
    import digest.libraries
    import digest.sources.lines
    import digest.web.app
    import digest.web.signup
    from digest.config import FetchConfig

    repo = Path(__file__).resolve().parents[1]
    readme = " ".join((repo / "README.md").read_text(encoding="utf-8").split())
    paragraph = readme.split("**Size caps of the files you name.**", 1)[1].split("**", 1)[0]
    paragraph = paragraph.split(" ## ", 1)[0]
    mib = 1024 * 1024
    stated = {  # each cap given to read_regular_file: what it caps, as the README says it
        "MAX_LISTING_BYTES": ("a listing", digest.ingest.MAX_LISTING_BYTES),
        "MAX_LIBRARY_BYTES": ("a library", digest.libraries.MAX_LIBRARY_BYTES),
        "MAX_TEXT_FILE_BYTES": ("a subscribers file", digest.cli.app.MAX_TEXT_FILE_BYTES),
        "MAX_CONFIG_BYTES": ("the config", digest.config.MAX_CONFIG_BYTES),
    }
    calls = set()
    for source in (repo / "digest").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        calls |= set(re.findall(r"read_regular_file\((?:[^()]|\([^()]*\))*?limit=(\w+)", text))
    assert calls == set(stated), "a new cap: state it in the README and here"
    for what, size in stated.values():
        assert size % mib == 0
        assert re.search(rf"{what}( \([^)]*\))? {size // mib} MiB", paragraph), what
    assert re.search(
        rf"link-secret file \([^)]*\) {digest.config.MAX_CONFIG_BYTES // mib} MiB", paragraph
    )
    assert f"at most {digest.sources.lines.MAX_LINE_CHARS:,} characters" in paragraph
    assert f"({FetchConfig().max_bytes // mib} MiB unless set" in paragraph
    assert f"over {digest.web.app.MAX_BODY_BYTES // 1024} KiB" in paragraph
    assert f"({digest.web.signup.MAX_SIGNUP_BODY // 1024} KiB for the sign-up form)" in paragraph
    library = readme.split("### Library import", 1)[1].split(" ## ", 1)[0]
    assert f"its cap, {digest.libraries.MAX_LIBRARY_BYTES // mib} MiB" in library
    assert " MB" not in paragraph + library  # MiB, as the code counts

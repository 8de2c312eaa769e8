"""Progress of long work (issue 14, item 4): what the library reports through its port,
what the CLI shows on a terminal, and that cron, --json and --quiet see none of it."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from digest.cli import app as cli_app
from digest.cli import cli
from digest.compose import compose
from digest.config import load_config
from digest.ingest import ingest_inbox, ingest_paths
from digest.render import make_renderer
from digest.run import RunContext, run_digests
from digest.store import Store
from digest.transports import make_transport
from tests.run_helpers import TEST_SECRET, invoke, setup_instance

DAY = dt.date(2026, 11, 20)
NOW = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)


class Recorder:
    """A Progress that writes down every step and advance."""

    def __init__(self) -> None:
        self.steps: list[tuple[str, int | None]] = []
        self.advanced: dict[str, int] = {}
        self.said: list[str] = []

    @contextlib.contextmanager
    def step(self, name: str, total: int | None = None) -> Iterator[object]:
        self.steps.append((name, total))
        self.advanced[name] = 0

        def advance(amount: int = 1, *, description: str | None = None) -> None:
            self.advanced[name] += amount
            if description:
                self.said.append(description)

        yield advance


def write_records(path: Path, count: int, start: int = 0) -> Path:
    path.write_text(
        "".join(
            json.dumps({"id": f"2611.{n:05d}", "title": f"Code generation {n}", "abstract": "x"})
            + "\n"
            for n in range(start, start + count)
        ),
        encoding="utf-8",
    )
    return path


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def test_ingest_reports_files_and_records(tmp_path):
    config = load_config(setup_instance(tmp_path / "inst"))
    first = write_records(tmp_path / "a.jsonl", 1200)
    second = write_records(tmp_path / "b.jsonl", 3, start=5000)
    store = Store.open(config.store.database)
    recorder = Recorder()
    ingest_paths(store, [first, second], today=DAY, now=NOW, progress=recorder)
    assert recorder.steps == [
        ("ingesting", 2),
        ("a.jsonl: records", None),
        ("b.jsonl: records", None),
    ]
    assert recorder.advanced == {"ingesting": 2, "a.jsonl: records": 1200, "b.jsonl: records": 3}
    assert recorder.said == ["ingesting a.jsonl", "ingesting b.jsonl"]

    shutil.copy(write_records(tmp_path / "c.jsonl", 2, start=6000), config.ingest.inbox)
    inbox = Recorder()
    ingest_inbox(store, config.ingest.inbox, today=DAY, now=NOW, progress=inbox)
    assert inbox.steps[0] == ("ingesting the inbox", 1)
    assert inbox.advanced["ingesting the inbox"] == 1
    assert store.paper_count() == 1205
    store.close()


def test_the_model_fit_and_the_sending_report_progress(tmp_path):
    config_path = setup_instance(tmp_path / "inst")
    config = load_config(config_path)
    store = Store.open(config.store.database)
    ingest_paths(store, [write_records(tmp_path / "a.jsonl", 30)], today=DAY, now=NOW)
    subs = store.subscribers(status="active")

    fitted = Recorder()
    compose(store, config, subs, DAY, progress=fitted)
    assert fitted.steps == [("fitting the ranking model on the papers", None)]
    cached = Recorder()
    compose(store, config, subs, DAY, progress=cached)
    assert cached.steps == []  # the model is cached: nothing slow, nothing shown

    sending = Recorder()
    ctx = RunContext(
        transport=make_transport(config, None),
        renderer=make_renderer(config),
        now=lambda: NOW,
        progress=sending,
    )
    report = run_digests(store, config, ctx, date_override=DAY)
    assert (f"sending digests for {DAY}", 3) in sending.steps
    assert sending.advanced[f"sending digests for {DAY}"] == 3
    assert sending.said == [f"sending {s.email}" for s in subs]
    assert report.sent + report.skipped == 3
    store.close()


def run_on_terminal(monkeypatch, config_path: Path, *args: str, terminal: bool = True):
    monkeypatch.setattr(cli_app, "stderr_is_terminal", lambda: terminal)
    return CliRunner().invoke(cli, ["--config", str(config_path), *args])


def test_a_terminal_sees_a_progress_bar_and_cron_json_and_quiet_do_not(tmp_path, monkeypatch):
    config_path = setup_instance(tmp_path / "inst")
    listing = str(write_records(tmp_path / "a.jsonl", 5))
    shown = run_on_terminal(monkeypatch, config_path, "ingest", "--date", "2026-11-20", listing)
    assert shown.exit_code == 0, shown.output
    assert "ingesting a.jsonl" in shown.output and "\x1b[" in shown.output

    again = str(write_records(tmp_path / "b.jsonl", 5, start=10))
    for args, terminal in (
        (("ingest", again), False),  # cron: stderr is not a terminal
        (("ingest", "--json", again), True),
        (("-q", "ingest", again), True),
    ):
        result = run_on_terminal(monkeypatch, config_path, *args, terminal=terminal)
        assert result.exit_code == 0, result.output
        assert "ingesting" not in result.output and "\x1b[" not in result.output

    ranked = run_on_terminal(monkeypatch, config_path, "rank", "ada@example.org")
    assert "fitting the ranking model on the papers" in ranked.output
    sent = run_on_terminal(monkeypatch, config_path, "run", "--date", "2026-11-20")
    assert sent.exit_code == 0, sent.output
    assert "sending ada@example.org" in sent.output


def test_quiet_and_verbose_are_global_options(tmp_path):
    config_path = setup_instance(tmp_path / "inst")
    assert invoke(config_path, "subscribers", "list").output.endswith("3 subscribers\n")
    quiet = invoke(config_path, "-q", "subscribers", "list")
    assert quiet.exit_code == 0 and "subscribers" not in quiet.output.splitlines()[-1]
    assert "ada@example.org" in quiet.output  # the data still prints
    assert invoke(config_path, "-q", "runs").output == ""
    assert invoke(config_path, "runs").output == "no runs yet; try `digest run`\n"
    assert invoke(config_path, "-v", "runs").exit_code == 0
    both = CliRunner().invoke(cli, ["--config", str(config_path), "-q", "-v", "runs"])
    assert both.exit_code == 2
    assert both.output.splitlines()[-1] == "Error: give --quiet or --verbose, not both"


def test_quiet_leaves_only_data_and_errors_on_every_command(tmp_path: Path) -> None:
    runner = CliRunner()
    folder = tmp_path / "inst"
    result = runner.invoke(cli, ["-q", "init", str(folder)])
    assert (result.exit_code, result.output) == (0, "")
    config = str(folder / "config.toml")
    exported = tmp_path / "team.toml"
    for args in (
        ["subscribers", "add", "ada@example.org", "--keyword", "code"],
        ["subscribers", "edit", "ada@example.org", "--max-papers", "5"],
        ["subscribers", "pause", "ada@example.org"],
        ["subscribers", "resume", "ada@example.org"],
        ["profile", "set", "ada@example.org", "--keyword", "rag"],
        ["subscribers", "export", "-o", str(exported)],
        ["subscribers", "import", str(exported)],
    ):
        result = runner.invoke(cli, ["-q", "--config", config, *args])
        assert (result.exit_code, result.output) == (0, ""), (args, result.output)
    # Data still prints under --quiet; errors too.
    shown = runner.invoke(cli, ["-q", "--config", config, "subscribers", "show", "ada@example.org"])
    assert "ada@example.org" in shown.output
    missing = runner.invoke(cli, ["-q", "--config", config, "subscribers", "show", "x@example.org"])
    assert missing.exit_code == 1 and missing.output.startswith("Error: ")

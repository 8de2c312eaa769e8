"""Shared set-up for the daily-run tests: an instance with subscribers and listings."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
from email import policy
from html.parser import HTMLParser
from pathlib import Path

from click.testing import CliRunner, Result

from digest.cli import cli
from digest.sources import normalize_title

# Link secrets must be 32 bytes or more (digest.config.check_secret): every test signs with this.
TEST_SECRET = "test-secret-for-links-0123456789abcdef"

SUBSCRIBERS_TOML = """
[[subscribers]]
email = "ada@example.org"
name = "Ada"
keywords = ["code generation", "program synthesis^2", "code representation"]
max_papers = 5

[[subscribers]]
email = "grace@example.org"
name = "Grace"
keywords = ["retrieval^2", "question answering", "dense passage"]
min_score = 0.02
max_papers = 8

[[subscribers]]
email = "alan@example.org"
name = "Alan"
keywords = ["vision", "image", "multimodal"]
exclude = ["code"]
max_papers = 10
"""


def invoke(config: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def ingest_synthesis_papers(config: Path, folder: Path, day: dt.date, count: int = 8) -> None:
    """Ingest ``count`` papers on program synthesis and code generation (arXiv ids
    2611.00000 on), first seen on ``day``, through the CLI."""
    listing = folder / "papers.jsonl"
    records = [
        {
            "id": f"2611.{n:05d}",
            "title": f"Program synthesis with code generation models {n}",
            "abstract": "We study program synthesis and code generation. It works.",
        }
        for n in range(count)
    ]
    listing.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    result = invoke(config, "ingest", "--date", day.isoformat(), str(listing))
    assert result.exit_code == 0, result.output


def setup_instance(root: Path) -> Path:
    """`digest init` plus three subscribers; returns the config path."""
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    config = root / "config.toml"
    subs = root / "subscribers.toml"
    subs.write_text(SUBSCRIBERS_TOML, encoding="utf-8")
    result = invoke(config, "subscribers", "import", str(subs))
    assert result.exit_code == 0, result.output
    return config


def extra_listings(shared: list[Path], folder: Path) -> list[Path]:
    """Two more days as JSON Lines: some papers recur (other case, other id), some are new."""
    titles = []
    for path in shared:
        lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
        titles += [line for line in lines if 20 < len(line) < 160 and not line.endswith(".")][:40]
    day4 = (
        [
            {"id": f"recur-{n}", "title": title.upper(), "abstract": "Seen before, other case."}
            for n, title in enumerate(titles[5:25:2])
        ]
        + [
            {
                "id": f"2611.{n:05d}",
                "title": f"Program Synthesis With Code Generation Models, Part {n}",
                "abstract": "We study code generation and program synthesis with language models "
                f"of code. Variant {n} adds code representation learning.",
                "upvotes": 10 + n,
            }
            for n in range(6)
        ]
        + [
            {
                "id": f"2611.1{n:04d}",
                "title": f"Dense Passage Retrieval for Question Answering, Revisited {n}",
                "abstract": "Dense retrieval of passages for open-domain question answering. "
                f"Setting {n}.",
                "upvotes": 3 * n,
            }
            for n in range(4)
        ]
    )
    day5 = [
        {"id": f"2611.{n:05d}v2", "title": rec["title"].lower(), "abstract": "v2"}
        for n, rec in enumerate(day4[-10:-4])
    ] + [
        {
            "id": f"2611.2{n:04d}",
            "title": f"Multimodal Image Understanding at Scale {n}",
            "abstract": f"A vision and image model for multimodal tasks, number {n}.",
            "upvotes": n,
        }
        for n in range(5)
    ]
    paths = []
    for name, records in (("day4.jsonl", day4), ("day5.jsonl", day5)):
        path = folder / name
        path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


class _CardTitles(HTMLParser):
    """The text of every ``<div class="card-title">`` (one per pick) in the HTML part."""

    def __init__(self) -> None:
        super().__init__()
        self.titles: list[str] = []
        self._depth = 0  # >0 while inside a card-title div

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "div" and ("class", "card-title") in attrs:
            self._depth = 1
            self.titles.append("")
        elif self._depth and tag == "div":
            self._depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._depth and tag == "div":
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._depth:
            self.titles[-1] += data


def picked_titles(eml: Path) -> list[str]:
    """The titles of the picks in a message (read from its HTML part, where none wraps)."""
    message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    parser = _CardTitles()
    parser.feed(html)
    return [" ".join(title.split()) for title in parser.titles]


def outbox_titles(outbox: Path) -> dict[str, list[str]]:
    """recipient file name → normalized titles of every paper in all their messages."""
    sent: dict[str, list[str]] = {}
    for eml in sorted(outbox.glob("*/*.eml")):
        sent.setdefault(eml.stem, []).extend(normalize_title(t) for t in picked_titles(eml))
    return sent


def set_config(path: Path, section: str, key: str, value: str) -> None:
    """Set ``key`` in ``[section]`` of a config file to the TOML ``value`` (text edit)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    current = ""
    for n, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("[") and stripped.endswith("]"):
            current = stripped[1:-1]
        elif current == section and re.match(rf"^{re.escape(key)}\s*=", stripped):
            lines[n] = f"{key} = {value}"
            break
    else:
        raise KeyError(f"{section}.{key} not in {path}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

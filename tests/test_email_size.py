"""Issue 11, item 5: the HTML part stays under 100 KB for any listing and any max_papers,
and the picks left out to get there are not recorded as sent."""

from __future__ import annotations

import datetime as dt
import email
import json
import sqlite3
from email import policy
from pathlib import Path

import pytest

from digest.instance import init_instance
from tests.run_helpers import TEST_SECRET, invoke, picked_titles, set_config
from tests.shared_data import shared_path

DAY = "2026-11-16"
LIMIT = 100_000


@pytest.fixture(autouse=True)
def secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)


def _instance(tmp_path: Path, listings: list[Path], subscribers: Path) -> Path:
    config = init_instance(tmp_path / "inst")
    set_config(config, "ranking", "min_score", "0")
    for path in listings:
        result = invoke(config, "ingest", "--date", DAY, str(path))
        assert result.exit_code == 0, result.output
    result = invoke(config, "subscribers", "import", str(subscribers))
    assert result.exit_code == 0, result.output
    return config


def _check_outbox(config: Path) -> dict[str, int]:
    """Every message's HTML part under the limit with the unsubscribe link in it; the
    papers recorded as sent are exactly those the message shows. Returns picks per file."""
    db = sqlite3.connect(config.parent / "digest.db")
    shown = {}
    for eml in sorted((config.parent / "outbox" / DAY).glob("*.eml")):
        message = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
        html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
        size = len(html.encode("utf-8").replace(b"\n", b"\r\n"))
        assert size < LIMIT, (eml.name, size)
        assert "Unsubscribe</a>" in html and "/unsubscribe/" in html
        assert "View in browser</a>" in html and "/d/" in html  # issue 15, inside the bound
        titles = picked_titles(eml)
        recipient = str(message["To"]).split("<")[-1].rstrip(">")
        sends = db.execute(
            "SELECT count(*) FROM sends JOIN subscribers s ON s.id = subscriber_id "
            "WHERE s.email = ?",
            [recipient],
        ).fetchone()[0]
        assert sends == len(titles), eml.name
        shown[eml.name] = len(titles)
    db.close()
    return shown


def test_many_papers_fit_under_the_clip_and_the_rest_stay_candidates(tmp_path: Path) -> None:
    config = _instance(
        tmp_path,
        [shared_path("cases", "records-35-codegen.jsonl")],
        shared_path("cases", "subscribers-many-papers.toml"),
    )
    result = invoke(config, "run", "--date", DAY)
    assert result.exit_code == 0, result.output
    shown = _check_outbox(config)
    assert set(shown) == {"s30_at_example.org.eml", "s35_at_example.org.eml"}
    assert all(10 <= n < 35 for n in shown.values()), shown
    # What was left out is still a candidate for the next digest.
    ranked = json.loads(invoke(config, "rank", "s35@example.org", "--json", "--date", DAY).output)
    assert len(ranked) == 35 - shown["s35_at_example.org.eml"]


def test_a_100k_title_makes_a_small_email(tmp_path: Path) -> None:
    subscribers = tmp_path / "subs.toml"
    subscribers.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\n'
        'keywords = ["code generation", "program synthesis", "retrieval"]\nmax_papers = 5\n',
        encoding="utf-8",
    )
    config = _instance(tmp_path, [shared_path("cases", "bad-title-100k.jsonl")], subscribers)
    result = invoke(config, "run", "--date", DAY)
    assert result.exit_code == 0, result.output
    shown = _check_outbox(config)
    assert list(shown) == ["ada_at_example.org.eml"]
    eml = config.parent / "outbox" / DAY / "ada_at_example.org.eml"
    assert eml.stat().st_size < 40_000


def test_generated_huge_fields_and_50_papers_stay_under_the_clip(tmp_path: Path) -> None:
    listing = tmp_path / "huge.jsonl"
    records = [
        {
            "id": f"2611.{n:05d}",
            "title": f"Program synthesis {n} " + "verylongword " * 20_000,
            "abstract": "Program synthesis. " + "x" * 50_000,
            "authors": ["A" * 20_000, "B " * 10_000, *[f"Author {k}" for k in range(2_000)]],
            "url": "https://example.org/" + "p" * 50_000,
            "upvotes": 10**6 + n,
        }
        for n in range(60)
    ]
    listing.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    subscribers = tmp_path / "subs.toml"
    subscribers.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nname = "' + "Ada " * 500 + '"\n'
        'keywords = ["program synthesis"]\nmax_papers = 50\n',
        encoding="utf-8",
    )
    config = _instance(tmp_path, [listing], subscribers)
    set_config(config, "ranking", "trending_count", "50")
    result = invoke(config, "run", "--date", DAY)
    assert result.exit_code == 0, result.output
    shown = _check_outbox(config)
    assert 1 <= shown["ada_at_example.org.eml"] <= 50


def test_max_papers_is_capped_and_the_error_says_so(tmp_path: Path) -> None:
    config = init_instance(tmp_path / "inst")
    subscribers = tmp_path / "subs.toml"
    subscribers.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nmax_papers = 51\n', encoding="utf-8"
    )
    result = invoke(config, "subscribers", "import", str(subscribers))
    assert result.exit_code != 0
    assert "max_papers is 51; expected 1 to 50 (more papers would not fit in one email)" in (
        result.output
    )
    set_config(config, "ranking", "default_max_papers", "51")
    result = invoke(config, "runs")
    assert result.exit_code != 0
    assert "ranking.default_max_papers is 51; expected 1 to 50" in result.output
    assert dt.date.fromisoformat(DAY)

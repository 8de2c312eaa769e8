"""`digest rank` against the real store holding the three shared listings."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from digest.config import load_config
from digest.store import Store
from tests.run_helpers import invoke

DAY = "2026-11-22"
CODE = re.compile(r"\bcode|program|codet5|codebert|coder\b", re.IGNORECASE)


@pytest.fixture
def config(tmp_path, shared_listings):
    from click.testing import CliRunner

    from digest.cli import cli

    CliRunner().invoke(cli, ["init", str(tmp_path / "inst")])
    path = tmp_path / "inst" / "config.toml"
    for listing in shared_listings:
        assert invoke(path, "ingest", "--date", DAY, str(listing)).exit_code == 0
    return path


def rank(config, email: str, *args: str) -> list[dict]:
    result = invoke(config, "rank", email, "--date", DAY, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def add(config, email: str, *args: str) -> None:
    assert invoke(config, "subscribers", "add", email, *args).exit_code == 0


def test_code_keywords_get_code_model_papers_with_reasons(config):
    add(
        config,
        "ada@example.org",
        "--keyword",
        "code generation",
        "--keyword",
        "program synthesis",
        "--keyword",
        "code representation",
    )
    picks = rank(config, "ada@example.org")
    top5 = [p["title"] for p in picks[:5]]
    assert all(CODE.search(title) for title in top5), top5
    top10 = [p["title"] for p in picks[:10]]
    assert any(re.search(r"CodeT5|GraphCodeBERT|ContraBERT", t) for t in top10), top10
    keywords = ("code generation", "program synthesis", "code representation")
    for pick in picks:
        assert pick["reasons"], pick
        assert any(k in " ".join(pick["reasons"]) for k in keywords), pick


def test_excluding_vision_removes_every_paper_with_the_word(config):
    add(
        config,
        "ada@example.org",
        "--keyword",
        "pre-training",
        "--keyword",
        "transformer",
        "--exclude",
        "vision",
    )
    picks = rank(config, "ada@example.org", "--all", "--limit", "1000")
    assert len(picks) > 50
    store = Store.open(load_config(config).store.database)
    papers = store.papers_by_id(p["id"] for p in picks)
    store.close()
    for paper in papers.values():
        assert not re.search(r"\bvision\b", f"{paper.title} {paper.abstract}", re.IGNORECASE)
    # "supervision" is not "vision": such papers stay.
    assert any("supervision" in p.abstract.lower() for p in papers.values())


def test_liked_papers_alone_bring_their_neighbours(config):
    add(config, "lin@example.org")
    liked = "GraphCodeBERT: Pre-training Code Representations with Data Flow"
    assert invoke(config, "profile", "set", "lin@example.org", "--like", liked).exit_code == 0
    picks = rank(config, "lin@example.org", "--limit", "5")
    assert picks and all(CODE.search(p["title"]) for p in picks), [p["title"] for p in picks]
    assert all("like: GraphCodeBERT" in p["reasons"] for p in picks[:3])
    assert liked not in [p["title"] for p in picks]  # a liked paper is not offered again


def test_a_sent_paper_never_appears_again(config):
    add(config, "ada@example.org", "--keyword", "code generation")
    first = rank(config, "ada@example.org", "--all", "--limit", "1000")
    store = Store.open(load_config(config).store.database)
    sub = store.subscriber("ada@example.org")
    with store.transaction():
        store.record_sends(
            sub.id,
            [first[0]["id"], first[1]["id"]],
            digest_id=None,
            now=dt.datetime(2026, 11, 22, 8),
        )
    store.close()
    after = rank(config, "ada@example.org", "--all", "--limit", "1000")
    assert {first[0]["id"], first[1]["id"]}.isdisjoint(p["id"] for p in after)
    assert len(after) == len(first) - 2


def test_disliking_a_paper_drops_its_near_duplicates(config):
    add(config, "ada@example.org", "--keyword", "code", "--keyword", "pre-trained models")
    before = rank(config, "ada@example.org", "--all", "--limit", "1000")
    codet5 = next(p for p in before if p["title"].startswith("CodeT5:"))
    plus = next(p for p in before if p["title"].startswith("CodeT5+"))
    store = Store.open(load_config(config).store.database)
    sub = store.subscriber("ada@example.org")
    store.record_feedback(sub.id, codet5["id"], -1, source="test", now=dt.datetime(2026, 11, 22, 8))
    store.close()
    after = rank(config, "ada@example.org", "--all", "--limit", "1000")
    assert codet5["id"] not in [p["id"] for p in after]
    plus_after = next(p for p in after if p["id"] == plus["id"])
    assert plus_after["score"] < plus["score"] - 0.05  # its near-duplicate sinks
    unrelated = next(p for p in before if not CODE.search(p["title"]))
    unrelated_after = next(p for p in after if p["id"] == unrelated["id"])
    drop_plus = plus["score"] - plus_after["score"]
    assert drop_plus > 3 * (unrelated["score"] - unrelated_after["score"])


def test_threshold_hides_weak_matches_unless_all(config):
    add(config, "ada@example.org", "--keyword", "code generation", "--min-score", "0.2")
    strict = rank(config, "ada@example.org", "--limit", "1000")
    everything = rank(config, "ada@example.org", "--all", "--limit", "1000")
    assert len(everything) > len(strict)
    assert all(p["score"] >= 0.2 for p in strict)
    assert any(p["score"] < 0.2 for p in everything)


def test_rank_says_why_nothing_is_offered(config):
    add(config, "ada@example.org", "--keyword", "quantum chromodynamics", "--min-score", "0.9")
    result = invoke(config, "rank", "ada@example.org", "--date", DAY)
    assert result.exit_code == 0
    assert "nothing to send ada@example.org: 275 candidate papers in the last 7 days" in (
        result.output
    )

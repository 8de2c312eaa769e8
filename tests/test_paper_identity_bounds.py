"""Paper identity, the tester's issue 12 list: arXiv versions bounded at parse time, an
unexpected error sets one inbox file aside, a named version's text replaces an unversioned
paper's, the stale note only for files that changed nothing, ids normalized in case."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from digest.config import load_config
from digest.sources.ids import (
    MAX_VERSION,
    ArxivVersionError,
    arxiv_id_and_version,
    arxiv_id_from,
)
from digest.store import merge as merge_module

from .listing_fixtures import Item, atom_feed, rss_feed
from .shared_data import shared_path
from .test_paper_versions import invoke, make_instance, rows

DAY = dt.date(2024, 8, 21)
ABSTRACT = "We study speech recognition. Small models listen well."
HUGE = "99999999999999999999999"
SUBSCRIBERS = """
[[subscribers]]
email = "ada@example.org"
keywords = ["speech recognition"]
min_score = 0.01
"""


def jsonl(path: Path, records: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def versioned(text: str, arxiv_id: str, written: str) -> str:
    """A feed's text with ``arxiv_id`` named at version ``written`` (any digits)."""
    return text.replace(f"{arxiv_id}v1", f"{arxiv_id}v{written}")


# --- 1 (a): the grammar takes versions 1 to 9999 -------------------------------------------


@pytest.mark.parametrize("written", ["0", "00", "10000", HUGE, "9" * 5000])
def test_an_out_of_range_version_is_refused_by_the_grammar(written):
    with pytest.raises(ArxivVersionError, match="v1 to v9999"):
        arxiv_id_and_version(f"2401.00002v{written}")
    assert arxiv_id_from(f"2401.00002v{written}") is None  # not an id for a link either


def test_versions_one_to_the_maximum_are_taken():
    assert arxiv_id_and_version("2401.00002v1") == ("2401.00002", 1)
    assert arxiv_id_and_version(f"2401.00002v{MAX_VERSION}") == ("2401.00002", MAX_VERSION)


@pytest.mark.parametrize("written", ["0", HUGE])
def test_records_with_a_bad_version_fail_with_file_line_and_key(tmp_path, written):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    bad = jsonl(
        tmp_path / "bad.jsonl",
        [
            {"id": "2401.00001v1", "title": "Fine", "abstract": ABSTRACT},
            {"id": f"2401.00002v{written}", "title": "T", "abstract": "A"},
        ],
    )
    good = jsonl(tmp_path / "good.jsonl", [{"id": "2401.00003", "title": "G", "abstract": "A"}])
    result = invoke(config, "ingest", "--date", "2024-01-05", str(bad), str(good))
    assert result.exit_code != 0
    assert "Traceback" not in result.output and not isinstance(result.exception, OverflowError)
    (line,) = [x for x in result.output.splitlines() if str(bad) in x]
    assert f"{bad}:2:" in line and '"id"' in line and f"v{written}" in line
    # The bad file adds nothing (all or nothing); the good one lands.
    assert [r["id"] for r in rows(config)] == ["2401.00003"]


def test_a_bad_version_in_an_atom_id_or_rss_guid_is_one_line(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    item = Item(title="Speech", abstract=ABSTRACT, arxiv_id="2401.00002", version=1)
    atom = tmp_path / "feed.xml"
    atom.write_text(versioned(atom_feed(DAY, [item]), "2401.00002", HUGE), encoding="utf-8")
    rss = tmp_path / "rss.xml"
    rss.write_text(
        rss_feed(DAY, [item]).replace("oai:arXiv.org:2401.00002v1", "oai:arXiv.org:2401.00002v0"),
        encoding="utf-8",
    )
    result = invoke(config, "ingest", "--date", "2024-08-21", str(atom), str(rss))
    assert result.exit_code != 0 and "Traceback" not in result.output
    (atom_line,) = [x for x in result.output.splitlines() if str(atom) in x]
    assert "entry 0" in atom_line and "<id>" in atom_line
    (rss_line,) = [x for x in result.output.splitlines() if str(rss) in x]
    assert "item 0" in rss_line and "<guid>" in rss_line and "v0" in rss_line
    assert rows(config) == []


def test_a_bad_version_of_thousands_of_digits_gives_a_short_line(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    item = Item(title="Speech", abstract=ABSTRACT, arxiv_id="2401.00002", version=1)
    atom = tmp_path / "feed.xml"
    atom.write_text(versioned(atom_feed(DAY, [item]), "2401.00002", "9" * 5000), encoding="utf-8")
    result = invoke(config, "ingest", "--date", "2024-08-21", str(atom))
    assert result.exit_code != 0
    (line,) = [x for x in result.output.splitlines() if str(atom) in x]
    assert "entry 0" in line and "5000 digits" in line and len(line) < 400 + len(str(atom))


def test_a_bad_version_in_the_inbox_goes_to_failed_and_the_run_sends(tmp_path):
    """The tester's case: before, the file went back to the inbox and every run failed."""
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    inbox = load_config(config).ingest.inbox
    jsonl(inbox / "a-bad.jsonl", [{"id": f"2401.00002v{HUGE}", "title": "T", "abstract": "A"}])
    jsonl(
        inbox / "b-good.jsonl",
        [{"id": "2401.00003", "title": "Speech recognition", "abstract": ABSTRACT}],
    )
    result = invoke(config, "run", "--date", "2024-01-05", "--json")
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == [
        "a-bad.jsonl",
        "a-bad.jsonl.error.txt",
    ]
    assert [p.name for p in (inbox / "processed").iterdir()] == ["b-good.jsonl"]
    assert not [p for p in inbox.iterdir() if p.is_file()]
    assert [r["id"] for r in rows(config)] == ["2401.00003"]


# --- 1 (c): an unexpected error sets the file aside ------------------------------------------


def test_an_unexpected_error_sets_one_inbox_file_aside_and_later_runs_go_on(tmp_path, monkeypatch):
    """A bug the parsers do not catch (here: the merge raising for one title, standing in
    for any store error a listing can provoke) fails that file alone."""
    real_add = merge_module.Merge.add

    def add(self, item, position, **kwargs):  # type: ignore[no-untyped-def]
        if item.record.title == "Boom":
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        return real_add(self, item, position, **kwargs)

    monkeypatch.setattr(merge_module.Merge, "add", add)
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    inbox = load_config(config).ingest.inbox
    jsonl(
        inbox / "a-boom.jsonl",
        [
            {"id": "2401.00001", "title": "Speech first", "abstract": ABSTRACT},
            {"id": "2401.00002", "title": "Boom", "abstract": ABSTRACT},
        ],
    )
    jsonl(
        inbox / "b-good.jsonl",
        [{"id": "2401.00003", "title": "Speech recognition", "abstract": ABSTRACT}],
    )
    first = invoke(config, "run", "--date", "2024-01-05", "--json")
    assert not isinstance(first.exception, OverflowError), first.output
    error = (inbox / "failed" / "a-boom.jsonl.error.txt").read_text(encoding="utf-8")
    assert error.count("\n") == 1 and "OverflowError" in error and "a-boom.jsonl" in error
    assert (inbox / "processed" / "b-good.jsonl").exists()
    assert not list((inbox / "processing").iterdir())
    # Nothing of the failed file is stored; the good one is, and was sent.
    assert [r["id"] for r in rows(config)] == ["2401.00003"]
    outbox = json.loads(first.output) if first.output.lstrip().startswith("{") else {}
    assert outbox.get("sent") == 1, first.output

    jsonl(inbox / "c-next.jsonl", [{"id": "2401.00004", "title": "Speech two", "abstract": "A"}])
    second = invoke(config, "run", "--date", "2024-01-06", "--json")
    assert second.exception is None or isinstance(second.exception, SystemExit), second.output
    assert (inbox / "processed" / "c-next.jsonl").exists()


# --- 2: an explicit newer version replaces an unversioned paper's text ---------------------


def test_case_file_v2_replaces_the_text_of_a_paper_first_seen_without_version(tmp_path):
    v2 = shared_path("cases", "atom-title-change-v2.xml")
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    first = jsonl(
        tmp_path / "daily.jsonl",
        [{"id": "2408.08754", "title": "v1 title", "abstract": "v1 abstract", "authors": ["A"]}],
    )
    assert invoke(config, "ingest", "--date", "2024-08-17", str(first)).exit_code == 0
    result = invoke(config, "ingest", "--date", "2024-08-21", str(v2))
    assert "1 updated" in result.output, result.output
    (row,) = rows(config)
    assert row["version"] == 2
    assert row["title"] == "Self-Explainable Graph Transformer for Link Sign Prediction"
    assert row["abstract"].startswith("Signed networks carry positive and negative edges.")
    assert json.loads(row["authors"]) == ["Kim Example", "Lee Example"]


def test_unversioned_never_replaces_and_older_changes_nothing(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    paper = "2401.00005"

    def ingest(name: str, day: str, record: dict) -> None:
        path = jsonl(tmp_path / name, [record])
        assert invoke(config, "ingest", "--date", day, str(path)).exit_code == 0

    ingest("1.jsonl", "2024-01-05", {"id": paper, "title": "Unversioned", "abstract": "u"})
    ingest("2.jsonl", "2024-01-06", {"id": f"{paper}v2", "title": "Second", "abstract": "2"})
    assert [(r["title"], r["version"]) for r in rows(config)] == [("Second", 2)]
    ingest("3.jsonl", "2024-01-07", {"id": paper, "title": "Unversioned again", "abstract": "x"})
    ingest("4.jsonl", "2024-01-08", {"id": f"{paper}v1", "title": "First", "abstract": "1"})
    assert [(r["title"], r["abstract"], r["version"]) for r in rows(config)] == [("Second", "2", 2)]


# --- 3: the stale note only when a file changed nothing -------------------------------------


def test_no_stale_note_for_a_file_that_updated_a_paper(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    first = jsonl(tmp_path / "1.jsonl", [{"id": "2401.00006", "title": "T", "abstract": "A"}])
    assert invoke(config, "ingest", "--date", "2024-01-05", str(first)).exit_code == 0
    votes = jsonl(
        tmp_path / "2.jsonl", [{"id": "2401.00006", "title": "T", "abstract": "A", "upvotes": 4}]
    )
    result = invoke(config, "ingest", "--date", "2024-01-06", str(votes))
    assert "1 updated" in result.output and "stale feed" not in result.output, result.output
    same = jsonl(
        tmp_path / "3.jsonl", [{"upvotes": 4, "id": "2401.00006", "title": "T", "abstract": "A"}]
    )
    result = invoke(config, "ingest", "--date", "2024-01-07", str(same))
    assert "stale feed" in result.output, result.output  # changed nothing: the note stays


def test_no_stale_note_when_new_announcement_makes_an_old_paper_new(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    replaced = Item(
        title="Speech", abstract=ABSTRACT, arxiv_id="2401.00007", version=2, announce_type="replace"
    )
    first = tmp_path / "a.xml"
    first.write_text(rss_feed(DAY, [replaced]), encoding="utf-8")
    assert invoke(config, "ingest", "--date", DAY.isoformat(), str(first)).exit_code == 0
    assert [r["is_new"] for r in rows(config)] == [0]
    announced = tmp_path / "b.xml"
    new = Item(title="Speech", abstract=ABSTRACT, arxiv_id="2401.00007", version=2)
    announced.write_text(rss_feed(DAY, [new]), encoding="utf-8")
    result = invoke(config, "ingest", "--date", DAY.isoformat(), str(announced))
    assert result.exit_code == 0, result.output
    assert [r["is_new"] for r in rows(config)] == [1]
    assert "stale feed" not in result.output, result.output


# --- 4: ids normalized in case; an object as id is an error --------------------------------


def test_ids_in_any_case_are_one_paper(tmp_path):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    listing = jsonl(
        tmp_path / "ids.jsonl",
        [
            {"id": "HEP-TH/9901001v2", "title": "Strings", "abstract": "A"},
            {"id": "hep-th/9901001v1", "title": "Strings", "abstract": "A"},
            {"id": "2401.00004V2", "title": "Upper", "abstract": "B"},
            {"id": "arXiv:2401.00004v1", "title": "Upper", "abstract": "B"},
        ],
    )
    result = invoke(config, "ingest", "--date", "2024-01-05", str(listing))
    assert result.exit_code == 0, result.output
    assert sorted((r["id"], r["id_kind"], r["version"]) for r in rows(config)) == [
        ("2401.00004", "arxiv", 2),
        ("hep-th/9901001", "arxiv", 2),
    ]
    assert arxiv_id_and_version("Math.GT/0309136V3") == ("math/0309136", 3)


@pytest.mark.parametrize("bad_id", [{"$gt": ""}, ["2401.00001"]])
def test_a_json_object_or_array_as_id_is_one_line(tmp_path, bad_id):
    config = make_instance(tmp_path / "inst", SUBSCRIBERS)
    records = jsonl(tmp_path / "r.jsonl", [{"id": bad_id, "title": "T", "abstract": "A"}])
    daily = tmp_path / "daily.json"
    daily.write_text(
        json.dumps(
            [
                {"paper": {"id": "2401.00001", "title": "Fine", "summary": "S"}},
                {"paper": {"id": bad_id, "title": "T", "summary": "S"}},
            ],
            indent=1,
        ),
        encoding="utf-8",
    )
    result = invoke(config, "ingest", "--date", "2024-01-05", str(records), str(daily))
    assert result.exit_code != 0 and "Traceback" not in result.output
    (line,) = [x for x in result.output.splitlines() if str(records) in x]
    assert f"{records}:1:" in line and '"id"' in line
    (line,) = [x for x in result.output.splitlines() if str(daily) in x]
    assert f"{daily}:" in line and "item 1" in line and '"paper.id"' in line
    assert rows(config) == []

"""Hostile and odd listing files: bad numbers, pathological strings, unreadable paths and
other encodings. Each fails (or is read) on its own, with one line; the rest goes on."""

from __future__ import annotations

import json
import shutil
import socket
import time
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import Config
from digest.errors import ListingError
from digest.ingest import decode_listing
from digest.sources import parse_listing
from digest.sources.values import split_authors

from .shared_data import shared_path

GOOD = {"id": "2305.07922", "title": "A good paper", "abstract": "It is fine."}


def paper_ids(config: Config) -> list[str]:
    return [row["id"] for row in sqlite_utils.Database(config.store.database)["papers"].rows]


def write_jsonl(path: Path, *items: dict) -> Path:
    path.write_text("".join(json.dumps(item) + "\n" for item in items), encoding="utf-8")
    return path


# --- numbers --------------------------------------------------------------------------------


def test_huge_upvotes_case_fails_its_file_and_the_good_file_is_ingested(
    run_cli, instance, tmp_path
):
    bad = tmp_path / "bad-huge-upvotes.jsonl"
    shutil.copy(shared_path("cases", "bad-huge-upvotes.jsonl"), bad)
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    result = run_cli("ingest", str(bad), str(good))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert (
        f'{bad}:1: "upvotes" must be a whole number from 0 to 9,223,372,036,854,775,807, '
        "not 99999999999999999999"
    ) in result.output
    assert paper_ids(instance) == ["2305.07922"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("99999999999999999999", "not 99999999999999999999"),
        ("9223372036854775808", "not 9223372036854775808"),
        ("-1", "not -1"),
        ("1e300", "not 100000000000…(301 digits)"),
        ("2.5", "must be a whole number, not a number"),
        ("true", "must be a whole number, not a boolean"),
        ('"99999999999999999999999"', "not 99999999999999999999999"),
    ],
)
def test_every_out_of_range_number_is_a_located_error(value: str, expected: str) -> None:
    jsonl = '{"title": "A", "abstract": "B"}\n{"title": "T", "abstract": "X", "upvotes": %s}\n'
    with pytest.raises(Exception) as info:
        parse_listing(jsonl % value, source="x.jsonl", today=_today(), fmt="records")
    assert type(info.value).__name__ == "ListingError"
    assert str(info.value).startswith('x.jsonl:2: "upvotes" must be a whole number')
    assert expected in str(info.value)
    daily = json.dumps([{"paper": {"id": "2305.07922", "title": "T", "summary": "S"}}])
    daily = daily.replace('"summary": "S"', f'"summary": "S", "upvotes": {value}')
    with pytest.raises(Exception) as info:
        parse_listing(daily, source="d.json", today=_today(), fmt="daily-papers-json")
    assert "item 0: paper.upvotes must be a whole number" in str(info.value)


def test_the_largest_64_bit_count_is_stored(run_cli, instance, tmp_path):
    path = write_jsonl(tmp_path / "max.jsonl", {**GOOD, "upvotes": 2**63 - 1})
    assert run_cli("ingest", str(path)).exit_code == 0
    rows = list(sqlite_utils.Database(instance.store.database)["papers"].rows)
    assert rows[0]["upvotes"] == 2**63 - 1


def test_a_boolean_daily_papers_id_is_an_error_naming_the_key() -> None:
    """As in the records format: an id that is no string or number (true, an object, a
    list) is a mistake in the file, not a paper to identify by its title."""
    daily = json.dumps([{"paper": {"id": True, "title": "T", "summary": "S"}}])
    with pytest.raises(ListingError, match=r'^d\.json:1: item 0: "paper\.id" must be a string'):
        parse_listing(daily, source="d.json", today=_today(), fmt="daily-papers-json")


def test_a_bad_number_in_the_inbox_goes_to_failed_and_the_run_goes_on(
    run_cli, instance, tmp_path, monkeypatch
):
    monkeypatch.setenv("DIGEST_SECRET", "test-secret-for-links-0123456789abcdef")
    inbox = instance.ingest.inbox
    write_jsonl(inbox / "a-bad.jsonl", {**GOOD, "upvotes": 10**20})
    write_jsonl(inbox / "b-good.jsonl", {**GOOD, "id": "2305.07923", "title": "Other"})
    result = run_cli("run", "--date", "2026-11-30")
    assert "Traceback" not in result.output
    assert (inbox / "failed" / "a-bad.jsonl").exists()
    error = (inbox / "failed" / "a-bad.jsonl.error.txt").read_text()
    assert ':1: "upvotes" must be a whole number from 0 to' in error
    assert (inbox / "processed" / "b-good.jsonl").exists()
    assert paper_ids(instance) == ["2305.07923"]
    assert result.exit_code == 0, result.output
    assert run_cli("run", "--date", "2026-12-01").exit_code == 0  # nothing left to block


# --- pathological strings: linear time -----------------------------------------------------


def _today():  # type: ignore[no-untyped-def]
    import datetime

    return datetime.date(2026, 11, 30)


def _rss(title: str, creator: str = "Ada") -> str:
    return (
        '<?xml version="1.0"?><rss xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">'
        "<channel><title>t</title><item>"
        f"<title>{title}</title><link>https://arxiv.org/abs/2305.07922</link>"
        f"<description>An abstract.</description><dc:creator>{creator}</dc:creator>"
        "</item></channel></rss>"
    )


PATHOLOGICAL = {
    "authors with runs of spaces": lambda: json.dumps(
        {**GOOD, "authors": "A" + " " * 30_000 + "x" + " " * 30_000 + ", B"}
    ),
    "authors: ' and' repeated": lambda: json.dumps({**GOOD, "authors": " and" * 15_000}),
    "authors: ' ,' with spaces": lambda: json.dumps({**GOOD, "authors": " ,  " * 15_000}),
    "rss title: runs of spaces before (arXiv:": lambda: _rss(
        "T" + " " * 60_000 + "(arXiv:2305.07922v1 [cs.CL])"
    ),
    "rss title: (arXiv: repeated": lambda: _rss("(arXiv:" * 8_600),
    "rss title: (arXiv:x [ repeated": lambda: _rss("(arXiv:x [" * 6_000),
    "rss creator: runs of spaces": lambda: _rss("T", "A" + " " * 60_000 + "and B"),
    "xml head: unclosed comments": lambda: "<!--" * 15_000 + _rss("T"),
}


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL))
def test_pathological_strings_parse_in_linear_time(name: str) -> None:
    text = PATHOLOGICAL[name]()
    assert len(text) >= 60_000
    started = time.perf_counter()
    try:
        parse_listing(text, source="x", today=_today())
    except Exception as exc:  # a refusal is fine too; only the time matters here
        assert type(exc).__name__ == "ListingError"
    assert time.perf_counter() - started < 1.0


def test_authors_spaces_case_ingests_in_linear_time(run_cli, instance, tmp_path):
    path = tmp_path / "bad-authors-spaces.jsonl"
    shutil.copy(shared_path("cases", "bad-authors-spaces.jsonl"), path)
    started = time.perf_counter()
    result = run_cli("ingest", str(path))
    assert time.perf_counter() - started < 2.0
    assert result.exit_code == 0, result.output


def test_author_splitting_keeps_its_meaning() -> None:
    assert split_authors("A ,  B;C and   D,  and E") == ("A", "B", "C", "D", "E")
    assert split_authors("Andrew Anderson, Sandra and Bob") == (
        "Andrew Anderson",
        "Sandra",
        "Bob",
    )


def test_old_style_rss_titles_still_lose_their_arxiv_tail() -> None:
    listing = parse_listing(
        _rss("A title about (arXiv:x) things. (arXiv:2305.07922v1 [cs.CL] UPDATED)"),
        source="x",
        today=_today(),
    )
    record = listing.records[0]
    assert record.title == "A title about (arXiv:x) things"
    assert record.categories == ("cs.CL",)


# --- paths and encodings -------------------------------------------------------------------


def test_an_unreadable_file_fails_alone(run_cli, instance, tmp_path):
    sock_path = tmp_path / "a-socket.jsonl"  # unreadable even for root
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(sock_path))
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    try:
        result = run_cli("ingest", str(sock_path), str(good))
    finally:
        server.close()
    assert result.exit_code == 1
    assert f"{sock_path}: cannot read the file" in result.output
    assert paper_ids(instance) == ["2305.07922"]


def test_a_folder_that_cannot_be_listed_fails_alone(run_cli, instance, tmp_path, monkeypatch):
    folder = tmp_path / "folder"
    folder.mkdir()
    good = write_jsonl(tmp_path / "good.jsonl", GOOD)
    real_iterdir = Path.iterdir

    def iterdir(self: Path):  # type: ignore[no-untyped-def]
        if self == folder:  # the folder vanishes between the check and the listing
            raise FileNotFoundError(2, "No such file or directory", str(self))
        return real_iterdir(self)

    monkeypatch.setattr(Path, "iterdir", iterdir)
    result = run_cli("ingest", str(folder), str(good))
    assert result.exit_code == 1
    assert f"{folder}: cannot list the folder (No such file or directory)" in result.output
    assert paper_ids(instance) == ["2305.07922"]


def test_utf16_bom_case_is_decoded_and_ingested(run_cli, instance, tmp_path):
    path = tmp_path / "utf16-bom.txt"
    shutil.copy(shared_path("cases", "utf16-bom.txt"), path)
    result = run_cli("ingest", str(path))
    assert result.exit_code == 0, result.output
    assert "binary" not in result.output
    assert len(paper_ids(instance)) >= 1


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-be", "utf-8-sig"])
def test_text_with_a_byte_order_mark_is_decoded(encoding: str) -> None:
    text = '{"title": "Ünïcode", "abstract": "B"}\n'
    data = text.encode(encoding)
    if encoding in ("utf-16-be", "utf-32-be"):
        data = ("\ufeff" + text).encode(encoding)
    assert decode_listing(data, source="x") == text


def test_a_broken_utf16_file_names_the_encoding() -> None:
    with pytest.raises(Exception) as info:
        decode_listing(b"\xff\xfeA\x00\x00\xd8", source="x.txt")
    assert str(info.value) == (
        "x.txt: starts with a UTF-16 byte-order mark but is not valid UTF-16 (at byte 4); "
        "save the listing as UTF-8"
    )


def test_the_inbox_leaves_symbolic_links_alone(run_cli, instance, tmp_path):
    secret = tmp_path / "outside.jsonl"
    write_jsonl(secret, GOOD)
    inbox = instance.ingest.inbox
    (inbox / "link.jsonl").symlink_to(secret)
    result = run_cli("ingest", "--inbox")
    assert result.exit_code == 0, result.output
    assert (inbox / "link.jsonl").is_symlink()  # not read, not moved
    assert secret.exists()
    assert paper_ids(instance) == []

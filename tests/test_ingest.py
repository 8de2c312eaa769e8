"""Ingesting listing files through the CLI into a real SQLite store."""

from __future__ import annotations

import codecs
import json
import shutil
from pathlib import Path

import pytest
import sqlite_utils

from digest.config import Config


def paper_rows(config: Config) -> list[dict]:
    return list(sqlite_utils.Database(config.store.database)["papers"].rows)


def listing_rows(config: Config) -> list[dict]:
    return list(sqlite_utils.Database(config.store.database)["listings"].rows)


def test_shared_listings_ingest_to_275_papers_once(run_cli, instance, shared_listings, tmp_path):
    result = run_cli("ingest", *map(str, shared_listings))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(": ", 1)[0] for line in lines] == [str(p) for p in shared_listings]
    assert ["90 listings" in lines[0], "119 listings" in lines[1], "100 listings" in lines[2]] == [
        True,
        True,
        True,
    ]
    assert len(paper_rows(instance)) == 275
    db = sqlite_utils.Database(instance.store.database)
    assert db["paper_listings"].count == 309

    again = run_cli("ingest", *map(str, shared_listings))
    assert again.exit_code == 0
    assert all("skipped, already ingested" in line for line in again.output.splitlines())
    assert len(paper_rows(instance)) == 275

    copy = tmp_path / "renamed-copy.txt"
    shutil.copy(shared_listings[0], copy)
    third = run_cli("ingest", str(copy))
    assert third.exit_code == 0
    assert f"already ingested (as {shared_listings[0]}" in third.output
    assert len(paper_rows(instance)) == 275


def test_listing_date_and_first_seen(run_cli, instance, shared_listings):
    result = run_cli("ingest", "--date", "2026-05-02", str(shared_listings[0]))
    assert result.exit_code == 0, result.output
    assert "(dated 2026-04-29)" in result.output  # "Apr 29" in the file, year from --date
    assert {row["first_seen"] for row in paper_rows(instance)} == {"2026-05-02"}


def bad_files(tmp_path: Path) -> dict[str, Path]:
    files = {
        "empty": tmp_path / "empty.txt",
        "binary": tmp_path / "binary.txt",
        "truncated": tmp_path / "truncated.json",
        "no_abstract": tmp_path / "no-abstract.txt",
        "huge_line": tmp_path / "huge.txt",
    }
    files["empty"].write_bytes(b"")
    files["binary"].write_bytes(bytes(range(256)) * 40)
    files["truncated"].write_text(
        '[{"id": "2301.00001", "title": "A paper", "abstract": "Text."},\n {"id": "23',
        encoding="utf-8",
    )
    files["no_abstract"].write_text(
        "Daily Papers\n\nA Good Title\n\nA long enough abstract. It has sentences in it. "
        "We show things work well.\n\nA Title With No Abstract\n",
        encoding="utf-8",
    )
    with files["huge_line"].open("w", encoding="utf-8") as out:
        out.write("x" * (50 * 1024 * 1024))
    return files


def test_bad_files_fail_alone_with_one_clear_line(run_cli, instance, shared_listings, tmp_path):
    files = bad_files(tmp_path)
    good = shared_listings[2]
    result = run_cli("ingest", *map(str, files.values()), str(good))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 5
    for _name, path in files.items():
        (line,) = [e for e in errors if e.startswith(f"Error: {path}")]
        assert len(line) < 300, line
    by_name = {name: next(e for e in errors if str(path) in e) for name, path in files.items()}
    assert "the file is empty" in by_name["empty"]
    assert "binary file" in by_name["binary"]
    assert f"Error: {files['truncated']}:2:" in by_name["truncated"]
    assert f"Error: {files['no_abstract']}:7:" in by_name["no_abstract"]
    assert "no abstract" in by_name["no_abstract"]
    assert f"Error: {files['huge_line']}:1:" in by_name["huge_line"]
    # The good file landed, the bad ones added nothing.
    assert len(paper_rows(instance)) == 100
    statuses = sorted(row["status"] for row in listing_rows(instance))
    assert statuses.count("ingested") == 1
    assert statuses.count("failed") == 5
    ingested = [r for r in listing_rows(instance) if r["status"] == "ingested"]
    assert ingested[0]["path"] == str(good)


def records_file(tmp_path: Path, name: str, records: list[dict]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def test_repeat_fills_in_id_authors_and_latest_upvotes(run_cli, instance, tmp_path):
    text = tmp_path / "page.txt"
    text.write_text(
        "Daily Papers\n\nNov 20\n\nGraph Code Models: Learning From Data Flow\n\n"
        "We learn code representations from data flow. It works well on clone detection.\n",
        encoding="utf-8",
    )
    assert run_cli("ingest", "--date", "2026-11-20", str(text)).exit_code == 0
    (row,) = paper_rows(instance)
    assert row["id"].startswith("t:") and row["authors"] == "[]"

    export = records_file(
        tmp_path,
        "export.jsonl",
        [
            {
                "id": "2009.08366v4",
                "title": "graph code models: learning from DATA FLOW",
                "abstract": "The abstract of version 4, which replaces the page's.",
                "authors": ["Daya Guo", "Shuo Ren"],
                "upvotes": 7,
            }
        ],
    )
    result = run_cli("ingest", "--date", "2026-11-22", str(export))
    assert result.exit_code == 0, result.output
    assert "0 new papers, 1 updated, 0 duplicates" in result.output
    (row,) = paper_rows(instance)
    assert row["id"] == "2009.08366"
    assert json.loads(row["authors"]) == ["Daya Guo", "Shuo Ren"]
    assert row["upvotes"] == 7
    assert row["first_seen"] == "2026-11-20"
    # The page named no version, so version 4 is newer: its text replaces the page's.
    assert row["version"] == 4
    assert row["title"] == "graph code models: learning from DATA FLOW"
    assert row["abstract"] == "The abstract of version 4, which replaces the page's."
    # The first listing's link followed the id change.
    db = sqlite_utils.Database(instance.store.database)
    assert {r["paper_id"] for r in db["paper_listings"].rows} == {"2009.08366"}

    newer = records_file(
        tmp_path,
        "later.jsonl",
        [{"id": "2009.08366v5", "title": "x", "abstract": "y", "upvotes": 9}],
    )
    assert run_cli("ingest", str(newer)).exit_code == 0
    assert [r["upvotes"] for r in paper_rows(instance)] == [9]


def test_duplicates_inside_one_file_make_one_row(run_cli, instance, tmp_path):
    export = records_file(
        tmp_path,
        "dupes.jsonl",
        [
            {"id": "a1", "title": "Same Paper", "abstract": "One."},
            {"id": "a2", "title": "SAME paper!", "abstract": "Two."},
            {"id": "a1", "title": "Renamed but same id", "abstract": "Three."},
        ],
    )
    result = run_cli("ingest", str(export))
    assert "1 new paper, 0 updated, 2 duplicates" in result.output
    assert [r["id"] for r in paper_rows(instance)] == ["a1"]


def test_inbox_moves_good_and_bad_files(run_cli, instance, shared_listings, tmp_path):
    inbox = instance.ingest.inbox
    shutil.copy(shared_listings[1], inbox / "good.txt")
    (inbox / "bad.json").write_text("[{", encoding="utf-8")
    result = run_cli("ingest", "--inbox")
    assert result.exit_code == 1
    assert (inbox / "processed" / "good.txt").exists()
    assert (inbox / "failed" / "bad.json").exists()
    error_text = (inbox / "failed" / "bad.json.error.txt").read_text(encoding="utf-8")
    assert str(inbox / "bad.json") in error_text and "JSON" in error_text
    assert not (inbox / "good.txt").exists() and not (inbox / "bad.json").exists()
    assert len(paper_rows(instance)) == 119


def test_json_output_for_programs(run_cli, shared_listings):
    result = run_cli("ingest", "--json", str(shared_listings[0]))
    data = json.loads(result.output)
    assert data[0]["status"] == "ingested"
    assert data[0]["found"] == 90 and data[0]["new"] == 90 and data[0]["format"] == "text"


def test_forced_format_that_does_not_fit_fails_cleanly(run_cli, instance, shared_listings):
    result = run_cli("ingest", "--format", "atom", str(shared_listings[0]))
    assert result.exit_code == 1
    assert result.output.startswith(f"Error: {shared_listings[0]}")
    assert paper_rows(instance) == []


def test_missing_path_is_reported(run_cli, tmp_path):
    result = run_cli("ingest", str(tmp_path / "nope.txt"))
    assert result.exit_code == 1
    assert f"Error: {tmp_path / 'nope.txt'}: no such file or folder" in result.output


def test_folder_ingests_its_listing_files(run_cli, instance, shared_listings, tmp_path):
    folder = tmp_path / "dumps"
    folder.mkdir()
    for p in shared_listings:
        shutil.copy(p, folder / p.name)
    (folder / "notes.md").write_text("not a listing", encoding="utf-8")
    result = run_cli("ingest", str(folder))
    assert result.exit_code == 0, result.output
    assert len(result.output.splitlines()) == 3
    assert len(paper_rows(instance)) == 275


def test_folders_take_every_registered_suffix_and_the_inbox_every_visible_file(
    run_cli, instance, tmp_path
):
    examples = Path(__file__).resolve().parents[1] / "examples"
    renamed = {  # one file per suffix a registered format comes in
        "daily-papers-page.txt": "page.txt",
        "daily-papers-api.json": "api.json",
        "records.jsonl": "records.ndjson",
        "arxiv-atom.xml": "feed.atom",
        "arxiv-rss.xml": "feed.rss",
    }
    folder = tmp_path / "dumps"
    folder.mkdir()
    for name, new_name in renamed.items():
        shutil.copy(examples / name, folder / new_name)
    (folder / "notes.md").write_text("not a listing", encoding="utf-8")
    result = run_cli("ingest", "--json", str(folder))
    assert sorted(Path(r["path"]).name for r in json.loads(result.output)) == sorted(
        renamed.values()
    )

    inbox = instance.ingest.inbox
    (inbox / "notes.md").write_text("not a listing", encoding="utf-8")
    (inbox / ".partial.txt").write_text("still downloading", encoding="utf-8")
    run_cli("ingest", "--inbox")
    assert (inbox / "failed" / "notes.md").exists()
    assert (inbox / ".partial.txt").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (codecs.BOM_UTF8, "the file is empty"),
        (codecs.BOM_UTF8 + b" \r\n\t\n", "the file is empty"),
        (b"\xc2\xa0\n\xe2\x80\x83\n", "the file is empty"),  # Unicode blanks
        # The byte and line past a UTF-8 byte-order mark are the file's own.
        (codecs.BOM_UTF8 + b'{"title": "A"}\ncaf\xe9\n', ":2: not UTF-8 text (byte 0xe9)"),
    ],
    ids=["bom-only", "bom-and-blanks", "unicode-blanks", "bad-byte-after-bom"],
)
def test_an_empty_or_undecodable_listing_is_one_line(run_cli, instance, tmp_path, content, message):
    path = tmp_path / "listing.jsonl"
    path.write_bytes(content)
    result = run_cli("ingest", str(path))
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert line.startswith(f"Error: {path}") and message in line, line
    assert paper_rows(instance) == []

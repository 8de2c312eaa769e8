"""`digest profile import-library`: a reference library in each format becomes liked
papers; bad entries are one line each and the rest is imported; papers not yet listed are
stored as reference papers that are never sent until a real listing carries them."""

from __future__ import annotations

import json
import sqlite3

import pytest

from digest.config import Config

DAY = "2026-11-20"
LATER = "2026-11-21"
LISTED = [
    {
        "id": "2611.00001",
        "title": "Energy-based models for self-supervised world models",
        "abstract": "Joint embedding predictive architectures for planning agents.",
        "authors": ["Yann LeCun"],
        "categories": ["cs.LG"],
    },
    {
        "id": "2611.00002",
        "title": "Speech recognition with self-supervised audio transformers",
        "abstract": "We pretrain transformers on unlabeled speech for recognition.",
        "authors": ["Ada Lovelace"],
        "categories": ["eess.AS", "cs.CL"],
    },
    {
        "id": "2611.00003",
        "title": "Graph neural networks for molecule property prediction",
        "abstract": "Message passing networks predict chemical properties of molecules.",
        "authors": ["Grace Hopper"],
        "categories": ["cs.LG"],
    },
]
# Not in any listing yet: imported as reference papers.
NEW_ID = "2601.01234"
NEW_TITLE = "Diffusion transformers for speech synthesis"

BIBTEX = f"""% exported by a reference manager
@article{{lecun2026,
  title = {{Energy-based models for self-supervised world models}},
  author = {{LeCun, Yann}},
  eprint = {{2611.00001}},
  archivePrefix = {{arXiv}},
}}

@misc{{synth,
  title = {{{NEW_TITLE}}},
  author = {{Jégou, Hervé and Noether, Emmy}},
  doi = {{10.48550/arXiv.{NEW_ID}}},
  abstract = {{Speech synthesis with diffusion transformers in the waveform domain.}},
}}

@misc{{nothing,
  year = {{2020}},
}}

@article{{broken,
  title = {{An entry whose braces never close
"""

RIS = f"""TY  - JOUR
TI  - Energy-based models for self-supervised world models
AU  - LeCun, Yann
UR  - https://arxiv.org/abs/2611.00001v2
ER  -

TY  - JOUR
TI  - {NEW_TITLE}
AU  - Jégou, Hervé
DO  - 10.48550/arXiv.{NEW_ID}
AB  - Speech synthesis with diffusion transformers in the waveform domain.
ER  -

TY  - JOUR
PY  - 2020
ER  -
"""

CSL_JSON = json.dumps(
    [
        {
            "id": "lecun",
            "type": "article",
            "title": "Energy-based models for self-supervised world models",
            "author": [{"family": "LeCun", "given": "Yann"}],
            "URL": "https://arxiv.org/abs/2611.00001",
        },
        {
            "id": "synth",
            "type": "article",
            "title": NEW_TITLE,
            "author": [{"family": "Jégou", "given": "Hervé"}],
            "number": f"arXiv:{NEW_ID}",
            "abstract": "Speech synthesis with diffusion transformers in the waveform domain.",
        },
        {"id": "bad-authors", "type": "article", "title": "Something", "author": "Nobody"},
        "not an item",
    ],
    indent=2,
)

IDS = f"""# my papers
2611.00001
https://arxiv.org/abs/{NEW_ID}v1
this is not an id
"""

LIBRARIES = {
    "library.bib": (
        BIBTEX,
        "bibtex",
        [
            "library.bib:16 (nothing): no arXiv id, DOI or title",
            "library.bib:20: not a valid BibTeX entry",
        ],
    ),
    "library.ris": (RIS, "ris", ["library.ris:14: no arXiv id, DOI or title"]),
    "library.json": (
        CSL_JSON,
        "csl-json",
        [
            "library.json: item [2] (id 'bad-authors'): author must be a list",
            "library.json: item [3]: not a CSL-JSON item",
        ],
    ),
    "library.txt": (IDS, "ids", ["library.txt:4: 'this is not an id' is not an arXiv id or DOI"]),
}


@pytest.fixture
def listed(run_cli, tmp_path):
    listing = tmp_path / "listing.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in LISTED) + "\n", encoding="utf-8")
    assert run_cli("ingest", "--date", DAY, str(listing)).exit_code == 0
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    assert run_cli("subscribers", "add", "bob@example.org", "--keyword", "speech").exit_code == 0
    return run_cli


def profile(run_cli, email="ada@example.org") -> dict:
    return json.loads(run_cli("profile", "show", email, "--json").output)


def reference_flags(instance: Config) -> dict[str, int]:
    with sqlite3.connect(instance.store.database) as conn:
        return dict(conn.execute("SELECT id, reference FROM papers"))


@pytest.mark.parametrize("name", sorted(LIBRARIES))
def test_each_format_imports_and_reports_bad_entries(listed, tmp_path, instance, name):
    text, fmt, problems = LIBRARIES[name]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    result = listed("profile", "import-library", "ada@example.org", str(path))
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(errors) == len(problems), result.output
    for line, expected in zip(errors, problems, strict=True):
        assert line.startswith(f"Error: {tmp_path / expected}"), (line, expected)
    assert f"{path}: {fmt}, 2 papers liked (2 new to the profile, 1 stored as reference" in (
        result.output
    )
    assert profile(listed)["liked"] == ["2611.00001", NEW_ID]
    assert reference_flags(instance) == {
        "2611.00001": 0,
        "2611.00002": 0,
        "2611.00003": 0,
        NEW_ID: 1,
    }


def test_a_clean_library_exits_zero_and_a_second_import_adds_nothing(listed, tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text(f"2611.00001\n10.48550/arXiv.{NEW_ID}\n", encoding="utf-8")
    first = listed("profile", "import-library", "ada@example.org", str(path), "--json")
    assert first.exit_code == 0, first.output
    assert json.loads(first.output) == {
        "format": "ids",
        "liked": 2,
        "new": 2,
        "stored": 1,
        "problems": [],
    }
    again = listed("profile", "import-library", "ada@example.org", str(path), "--json")
    assert json.loads(again.output)["new"] == 0 and json.loads(again.output)["stored"] == 0


@pytest.mark.parametrize(
    "content, message",
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00binary", "a binary file, not a library; export it as text"),
        (b"just some prose\nthat is no library\n", "not a library file digest reads"),
        (b"caf\xe9 2611.00001\n", "not UTF-8 text (byte 0xe9); save the library as UTF-8"),
        (b"", "the file is empty; nothing to import"),
        (b"[1, 2", "not valid JSON"),
    ],
)
def test_an_unreadable_file_is_one_line_and_imports_nothing(
    listed, tmp_path, instance, content, message
):
    path = tmp_path / "library.dat"
    path.write_bytes(content)
    before = reference_flags(instance)
    result = listed("profile", "import-library", "ada@example.org", str(path))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"Error: {path}") and message in lines[0]
    assert profile(listed)["liked"] == []
    assert reference_flags(instance) == before


def test_an_unknown_subscriber_is_one_line(listed, tmp_path):
    path = tmp_path / "ids.txt"
    path.write_text("2611.00001\n", encoding="utf-8")
    result = listed("profile", "import-library", "nobody@example.org", str(path))
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: no subscriber 'nobody@example.org'; see `digest subscribers list`"
    )


def test_reference_papers_are_never_sent_until_a_listing_carries_them(listed, tmp_path, instance):
    path = tmp_path / "library.bib"
    path.write_text(BIBTEX, encoding="utf-8")
    listed("profile", "import-library", "ada@example.org", str(path))
    # Bob follows "speech": the reference paper on speech synthesis matches, yet is never
    # a candidate, in `digest rank` or in the daily run.
    ranked = json.loads(listed("rank", "bob@example.org", "--date", DAY, "--json", "--all").output)
    assert "2611.00002" in {p["id"] for p in ranked}
    assert NEW_ID not in {p["id"] for p in ranked}
    run = listed("run", "--date", DAY)
    assert run.exit_code == 0, run.output
    with sqlite3.connect(instance.store.database) as conn:
        sent = set(conn.execute("SELECT subscriber_id, paper_id FROM sends"))
        listed_ids = {row[0] for row in conn.execute("SELECT paper_id FROM paper_listings")}
    assert sent and NEW_ID not in {paper for _, paper in sent}
    assert NEW_ID not in listed_ids
    assert NEW_ID not in listed("papers", "list", "--json").output

    # A real listing of the same arXiv id makes it a normal paper, first seen that day,
    # with the listing's text: Bob gets it, Ada (who keeps it) is never sent it.
    later = tmp_path / "later.jsonl"
    later.write_text(
        json.dumps(
            {
                "id": f"{NEW_ID}v2",
                "title": NEW_TITLE,
                "abstract": "A listed abstract about speech synthesis with diffusion.",
                "authors": ["Hervé Jégou"],
                "categories": ["eess.AS"],
            }
        )
        + "\n",
        encoding="utf-8",
    )
    ingest = listed("ingest", "--date", LATER, str(later), "--json")
    assert ingest.exit_code == 0, ingest.output
    assert json.loads(ingest.output)[0]["new"] == 1
    assert reference_flags(instance)[NEW_ID] == 0
    shown = json.loads(listed("papers", "show", NEW_ID, "--json").output)
    assert shown["first_seen"] == LATER
    assert shown["abstract"] == "A listed abstract about speech synthesis with diffusion."
    assert listed("subscribers", "edit", "ada@example.org", "--max-papers", "10").exit_code == 0
    listed("profile", "set", "ada@example.org", "--keyword", "speech")
    run = listed("run", "--date", LATER)
    assert run.exit_code == 0, run.output
    with sqlite3.connect(instance.store.database) as conn:
        got = {
            email
            for (email,) in conn.execute(
                "SELECT s.email FROM sends JOIN subscribers s ON s.id = sends.subscriber_id "
                "WHERE paper_id = ?",
                [NEW_ID],
            )
        }
    assert got == {"bob@example.org"}


def test_a_failed_listing_leaves_a_reference_paper_a_reference(listed, tmp_path, instance):
    path = tmp_path / "ids.txt"
    path.write_text(f"{NEW_ID}\n", encoding="utf-8")
    listed("profile", "import-library", "ada@example.org", str(path))
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        json.dumps({"id": NEW_ID, "title": NEW_TITLE, "abstract": "x"})
        + '\n{"id": "2611.09999", "title": "No abstract", "upvotes": -5}\n',
        encoding="utf-8",
    )
    result = listed("ingest", "--date", LATER, str(bad))
    assert result.exit_code != 0
    assert reference_flags(instance)[NEW_ID] == 1
    with sqlite3.connect(instance.store.database) as conn:
        assert conn.execute("SELECT count(*) FROM staged_references").fetchone() == (0,)


def test_toml_import_reads_a_library_relative_to_the_toml_file(run_cli, tmp_path, instance):
    listing = tmp_path / "listing.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in LISTED) + "\n", encoding="utf-8")
    assert run_cli("ingest", "--date", DAY, str(listing)).exit_code == 0
    folder = tmp_path / "team"
    folder.mkdir()
    (folder / "ada.bib").write_text(BIBTEX, encoding="utf-8")
    (folder / "team.toml").write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nlibrary = "ada.bib"\n'
        'authors = ["Y. LeCun"]\ncategories = ["cs.LG"]\n',
        encoding="utf-8",
    )
    result = run_cli("subscribers", "import", str(folder / "team.toml"))
    assert result.exit_code == 1  # two bad entries in the library, reported
    assert "Error: ada.bib:16 (nothing): no arXiv id, DOI or title" in result.output
    shown = profile(run_cli)
    assert shown["liked"] == ["2611.00001", NEW_ID]
    assert shown["authors"] == ["Y. LeCun"] and shown["categories"] == ["cs.LG"]


def test_toml_import_with_a_missing_library_imports_nothing(run_cli, tmp_path):
    toml = tmp_path / "team.toml"
    toml.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\nlibrary = "missing.bib"\n', encoding="utf-8"
    )
    result = run_cli("subscribers", "import", str(toml))
    assert result.exit_code == 1
    assert result.output.strip().startswith(
        "Error: ada@example.org: library missing.bib: cannot read the file"
    )
    assert run_cli("subscribers", "list", "--json").output.strip() == "[]"


@pytest.mark.parametrize(
    "content, message",
    [
        ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply to be CSL JSON"),
        ("@article{x, title={" + "{" * 100_000, None),
    ],
)
def test_hostile_libraries_are_one_clear_outcome(listed, tmp_path, content, message):
    path = tmp_path / "hostile.txt"
    path.write_text(content, encoding="utf-8")
    result = listed("profile", "import-library", "ada@example.org", str(path))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    if message:
        assert lines == [f"Error: {path}: {message}; export the library again"]
    else:  # a broken BibTeX block: its one line, and nothing liked
        assert lines[0] == f"Error: {path}:1: not a valid BibTeX entry; check its braces"
        assert "Parsing of" not in result.output
    assert profile(listed)["liked"] == []


def test_bibtex_latex_accents_are_decoded_for_author_matching():
    from digest.follows import parse_author, same_person
    from digest.sources.library import parse_library

    text = (
        r"@article{k, title={On J\'{e}gou's {M}ethod}, author={J\'{e}gou, Herv\'e}, "
        r"eprint={2305.07922}}"
    )
    (entry,) = parse_library(text, source="x.bib").entries
    assert entry.title == "On Jégou's Method" and entry.authors == ("Jégou, Hervé",)
    a, b = parse_author(entry.authors[0]), parse_author("Herve Jegou")
    assert a is not None and b is not None and same_person(a, b)


def test_a_title_only_entry_finds_the_listed_paper_and_a_doi_keeps_its_own_id(
    listed, tmp_path, instance
):
    path = tmp_path / "lib.ris"
    path.write_text(
        "TY  - JOUR\nTI  - GRAPH neural networks for molecule-property prediction!\nER  -\n\n"
        "TY  - JOUR\nTI  - A journal paper\nDO  - https://doi.org/10.1145/ABC.123\nER  -\n",
        encoding="utf-8",
    )
    result = listed("profile", "import-library", "ada@example.org", str(path), "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["stored"] == 1
    assert profile(listed)["liked"] == ["2611.00003", "10.1145/abc.123"]
    assert reference_flags(instance)["10.1145/abc.123"] == 1

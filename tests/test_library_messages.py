"""Library import messages (issue 13): a duplicate BibTeX key says so, a UTF-16 .bib with
its byte-order mark reads, a TOML `library` with bad entries exits 1 as import-library
does, and `subscribers add` takes authors and categories as `profile set` does."""

from __future__ import annotations

import json

import pytest

DUPLICATE = """@article{fish,
  title = {Another study of fish in warm lakes},
  eprint = {2611.00001},
  archivePrefix = {arXiv},
}

@article{fish,
  title = {A second paper given the same key},
  eprint = {2611.00002},
  archivePrefix = {arXiv},
}
"""
GOOD = """@article{reef,
  title = {Coral reef acoustics under warming oceans},
  eprint = {2611.00003},
  archivePrefix = {arXiv},
}
"""


def liked(run_cli, email="ada@example.org") -> list[str]:
    return json.loads(run_cli("profile", "show", email, "--json").output)["liked"]


def test_a_duplicate_bibtex_key_is_named_and_the_first_imported(run_cli, tmp_path):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    path = tmp_path / "lib.bib"
    path.write_text(DUPLICATE, encoding="utf-8")
    result = run_cli("profile", "import-library", "ada@example.org", str(path))
    assert result.exit_code == 1
    assert f"{path}:7: duplicate key fish (first at line 1); the first was imported" in (
        result.output
    )
    assert "check its braces" not in result.output
    assert liked(run_cli) == ["2611.00001"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32"])
def test_a_bib_file_in_utf16_or_utf32_with_a_bom_reads(run_cli, tmp_path, encoding):
    assert run_cli("subscribers", "add", "ada@example.org").exit_code == 0
    path = tmp_path / "lib.bib"
    bom = {"utf-16": b"", "utf-16-be": b"\xfe\xff", "utf-32": b""}[encoding]
    path.write_bytes(bom + GOOD.replace("Coral", "Corál").encode(encoding))
    result = run_cli("profile", "import-library", "ada@example.org", str(path))
    assert result.exit_code == 0, result.output
    assert liked(run_cli) == ["2611.00003"]


def test_a_toml_library_with_bad_entries_exits_1_with_the_lines(run_cli, tmp_path):
    (tmp_path / "ada.bib").write_text(DUPLICATE, encoding="utf-8")
    toml = tmp_path / "team.toml"
    toml.write_text('[[subscribers]]\nemail = "ada@example.org"\nlibrary = "ada.bib"\n')
    result = run_cli("subscribers", "import", str(toml))
    assert result.exit_code == 1
    assert "ada.bib:7: duplicate key fish" in result.output
    assert liked(run_cli) == ["2611.00001"]  # the rest imported


def test_subscribers_add_takes_authors_and_categories(run_cli):
    result = run_cli(
        "subscribers", "add", "ada@example.org", "--author", "Yann LeCun",
        "--category", "cs.cl", "--exclude-category", "CS.CV",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    shown = json.loads(run_cli("profile", "show", "ada@example.org", "--json").output)
    assert shown["authors"] == ["Yann LeCun"]
    assert shown["categories"] == ["cs.CL"] and shown["exclude_categories"] == ["cs.CV"]


@pytest.mark.parametrize(
    "option, value, line",
    [
        ("--category", "cs.CLL", "category 'cs.CLL' is not an arXiv category; did you mean cs.CL?"),
        ("--exclude-category", "", "a category is empty"),
    ],
)
def test_subscribers_add_refuses_a_bad_category_and_adds_nobody(run_cli, option, value, line):
    result = run_cli("subscribers", "add", "ada@example.org", option, value)
    assert result.exit_code == 1
    (only,) = result.output.strip().splitlines()
    assert only.startswith("Error: add (ada@example.org): ") and line in only
    assert "ada@example.org" not in run_cli("subscribers", "list").output

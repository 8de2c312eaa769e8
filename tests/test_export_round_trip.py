"""`subscribers export` then `subscribers import` into a fresh instance: liked papers are
written by references another instance resolves (arXiv id, else DOI, else title), and
those not in the new store are stored as reference papers, as a library import does."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from pathlib import Path

from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.instance import init_instance

BIBTEX = """@misc{onlytitle,
  title = {Coral reef acoustics under warming oceans},
  abstract = {Hydrophone recordings of reef soundscapes across bleaching events.},
}
@article{bydoi,
  title = {Kelp forest carbon burial measured by sediment cores},
  doi = {10.1234/Kelp.2020.7},
}
@misc{byarxiv,
  title = {Diffusion transformers for speech synthesis},
  eprint = {2601.01234},
  archivePrefix = {arXiv},
}
"""
LISTED = {
    "id": "2611.00001",
    "title": "Energy-based models for self-supervised world models",
    "abstract": "Joint embedding predictive architectures for planning agents.",
}


def make_instance(folder: Path):
    config = load_config(init_instance(folder))

    def invoke(*args: str):
        return CliRunner().invoke(cli, ["--config", str(config.path), *args])

    return config, invoke


def liked_titles(config) -> list[str]:
    with sqlite3.connect(config.store.database) as conn:
        (liked,) = conn.execute("SELECT liked FROM profiles").fetchone()
        titles = dict(conn.execute("SELECT id, title FROM papers"))
    return [titles[paper_id] for paper_id in json.loads(liked)]


def test_export_of_a_library_import_round_trips_into_a_fresh_instance(tmp_path):
    old, run_old = make_instance(tmp_path / "old")
    listing = tmp_path / "listing.jsonl"
    listing.write_text(json.dumps(LISTED) + "\n", encoding="utf-8")
    assert run_old("ingest", "--date", "2026-11-20", str(listing)).exit_code == 0
    assert run_old("subscribers", "add", "ada@example.org").exit_code == 0
    library = tmp_path / "ada.bib"
    library.write_text(BIBTEX, encoding="utf-8")
    imported = run_old("profile", "import-library", "ada@example.org", str(library))
    assert imported.exit_code == 0, imported.output
    assert run_old("profile", "set", "ada@example.org", "--like", "2611.00001").exit_code == 0
    before = liked_titles(old)
    assert len(before) == 4

    export = tmp_path / "backup.toml"
    assert run_old("subscribers", "export", "-o", str(export)).exit_code == 0
    (entry,) = tomllib.loads(export.read_text(encoding="utf-8"))["subscribers"]
    assert not any(ref.startswith("t:") for ref in entry["liked"]), entry["liked"]
    assert sorted(entry["liked"]) == sorted(
        [
            "Coral reef acoustics under warming oceans",
            "doi:10.1234/kelp.2020.7",
            "2601.01234",
            "2611.00001",
        ]
    )

    new, run_new = make_instance(tmp_path / "new")  # an empty store: no paper known
    result = run_new("subscribers", "import", str(export))
    assert result.exit_code == 0, result.output
    assert "4 liked or disliked papers not in the store stored as reference papers" in (
        result.output
    )
    after = liked_titles(new)
    assert after[0] == "Coral reef acoustics under warming oceans"
    assert "Kelp forest carbon burial measured by sediment cores" not in after  # by DOI only
    assert len(after) == 4

    # and the new instance exports the same references again
    again = tmp_path / "again.toml"
    assert run_new("subscribers", "export", "-o", str(again)).exit_code == 0
    (entry_again,) = tomllib.loads(again.read_text(encoding="utf-8"))["subscribers"]
    assert entry_again["liked"][0] == "Coral reef acoustics under warming oceans"
    assert "doi:10.1234/kelp.2020.7" in entry_again["liked"]


def test_a_second_import_of_the_same_export_stores_nothing_new(tmp_path):
    config, run = make_instance(tmp_path / "inst")
    toml = tmp_path / "team.toml"
    toml.write_text(
        '[[subscribers]]\nemail = "ada@example.org"\n'
        'liked = ["Coral reef acoustics under warming oceans", "doi:10.1234/kelp.2020.7"]\n',
        encoding="utf-8",
    )
    first = run("subscribers", "import", str(toml))
    assert first.exit_code == 0 and "2 liked or disliked papers" in first.output
    second = run("subscribers", "import", str(toml))
    assert second.exit_code == 0 and "reference papers" not in second.output
    with sqlite3.connect(config.store.database) as conn:
        assert conn.execute("SELECT count(*) FROM papers").fetchone() == (2,)
    assert len(liked_titles(config)) == 2

"""Benchmark library import: parse a generated library in each format, then import one
into a fresh store as a subscriber's liked papers (reference papers for the unknown ones).

Each entry has a title, two authors, an abstract and an arXiv id (a DOI for every fifth).
Prints seconds and peak memory per format, and per 10,000 entries, so the growth with the
file's size shows (it should be linear).

    python benchmarks/bench_library.py [--entries 5000 20000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.config import load_config
from digest.instance import init_instance
from digest.libraries import import_library
from digest.sources.library import parse_library
from digest.store import Store, SubscriberUpdate

NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


def fields(n: int) -> dict[str, str]:
    ident = f"2401.{n % 100000:05d}"
    return {
        "title": f"Paper number {n} on topic {n % 97} with method {n % 31}",
        "abstract": f"We study topic {n % 97} using method {n % 31} and report results " * 3,
        "arxiv": ident,
        "doi": f"10.1000/journal.{n}" if n % 5 == 0 else "",
    }


def bibtex(n: int) -> str:
    f = fields(n)
    ident = f"  doi = {{{f['doi']}}},\n" if f["doi"] else f"  eprint = {{{f['arxiv']}}},\n"
    return (
        f"@article{{k{n},\n  title = {{{f['title']}}},\n  author = {{Doe, Jane and Roe, R.}},\n"
        f"{ident}  abstract = {{{f['abstract']}}},\n}}\n\n"
    )


def ris(n: int) -> str:
    f = fields(n)
    ident = f"DO  - {f['doi']}\n" if f["doi"] else f"UR  - https://arxiv.org/abs/{f['arxiv']}\n"
    return (
        f"TY  - JOUR\nTI  - {f['title']}\nAU  - Doe, Jane\nAU  - Roe, R.\n{ident}"
        f"AB  - {f['abstract']}\nER  - \n\n"
    )


def csl(n: int) -> dict[str, object]:
    f = fields(n)
    item: dict[str, object] = {
        "id": f"k{n}",
        "type": "article",
        "title": f["title"],
        "author": [{"family": "Doe", "given": "Jane"}, {"family": "Roe", "given": "R."}],
        "abstract": f["abstract"],
    }
    item.update({"DOI": f["doi"]} if f["doi"] else {"URL": f"https://arxiv.org/abs/{f['arxiv']}"})
    return item


MAKERS: dict[str, Callable[[int], str]] = {
    "bibtex": lambda n: "".join(bibtex(i) for i in range(n)),
    "ris": lambda n: "".join(ris(i) for i in range(n)),
    "csl-json": lambda n: json.dumps([csl(i) for i in range(n)]),
    "ids": lambda n: "".join(f"2401.{i % 100000:05d}\n" for i in range(n)),
}


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--entries", type=int, nargs="+", default=[5000, 20000])
    args = parser.parse_args(argv)
    for n in args.entries:
        for name, make in MAKERS.items():
            text = make(n)
            started = time.perf_counter()
            parsed = parse_library(text, source=name)
            seconds = time.perf_counter() - started
            assert parsed.format == name and len(parsed.entries) == n, (name, parsed.problems[:3])
            print(
                f"parse  {name:<8} {n:>6} entries {len(text) / 1e6:6.1f} MB  {seconds:6.2f} s  "
                f"({seconds / n * 10000:5.2f} s per 10,000)  peak so far {peak_mib():5.0f} MiB"
            )
        with tempfile.TemporaryDirectory() as tmp:
            config = load_config(init_instance(Path(tmp) / "inst"))
            store = Store.open(config.store.database)
            store.save_subscribers(
                [SubscriberUpdate(email="ada@example.org")], who="bench", now=NOW
            )
            text = MAKERS["bibtex"](n)
            started = time.perf_counter()
            result = import_library(
                store, "ada@example.org", text, source="lib.bib", who="bench", now=NOW
            )
            seconds = time.perf_counter() - started
            store.close()
            print(
                f"import bibtex   {n:>6} entries into a fresh store  {seconds:6.2f} s  "
                f"({result.stored} reference papers, {result.liked} liked)  "
                f"peak so far {peak_mib():5.0f} MiB"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

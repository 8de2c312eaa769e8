"""Benchmark the ranker: fit on a 50,000-paper corpus, then rank for many subscribers.

The corpus is synthetic: titles and abstracts of random words drawn with the word
frequencies of the arXiv dataset (a natural Zipf law), or of a generated Zipf vocabulary if
the dataset is missing. The newest 2,000 papers are the candidates; every subscriber has 5
keywords (from a shared pool of 3,000 words and phrases, as real interests overlap) and 5
liked papers from the rest of the corpus, which are also their seen papers.

Each measurement runs in its own process, so its peak memory (``ru_maxrss``) is its own:
the fit (which writes the model cache), then for each subscriber count one ranking: load the
cached model, rank every subscriber → top 10 with reasons. Corpus and profile generation is
not timed but is part of the peak (the daily run holds its papers too).

    python benchmarks/bench_rank.py [--subscribers 10000 100000] [--repeat 3] [--follows]

With ``--follows`` every paper also has 6 authors (from 20,000 names, written "Given
Surname", "G. Surname" or "Surname, Given") and 2 arXiv categories (of 150), and every
subscriber follows 2 authors and 2 categories and excludes 1 category (issue 13).

Targets: 100,000 subscribers < 60 s and < 2 GiB; 10,000 subscribers < 10 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from digest.rank import Interest, load_or_fit, rank
from digest.records import Keyword, Paper

REPO = Path(__file__).resolve().parents[1]
DATASET = REPO.parent / "shared" / "datasets" / "arxiv_categories_1000.csv"
KEYWORD_POOL = 3000
AUTHOR_POOL = 20_000
CATEGORY_POOL = [
    f"{a}.{c}{d}" for a in ("cs", "math", "stat") for c in "ABCDEFGHIJ" for d in "ABCDE"
]


def author_names(seed: int) -> list[tuple[str, str]]:
    """(given, surname) pairs: surnames shared by several people, as in real author lists."""
    rng = np.random.default_rng(seed + 7)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))

    def word() -> str:
        return "".join(rng.choice(letters, int(rng.integers(3, 9)))).capitalize()

    surnames = [word() for _ in range(AUTHOR_POOL // 4)]
    return [(word(), surnames[int(rng.integers(len(surnames)))]) for _ in range(AUTHOR_POOL)]


def written(given: str, surname: str, style: int) -> str:
    return (f"{given} {surname}", f"{given[0]}. {surname}", f"{surname}, {given}")[style % 3]


def vocabulary(seed: int) -> tuple[list[str], np.ndarray]:
    """Words and their probabilities: the dataset's, or a generated Zipf vocabulary."""
    if DATASET.exists():
        counts: Counter[str] = Counter()
        with DATASET.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                counts.update(
                    re.findall(r"[A-Za-z][A-Za-z-]+", f"{row['titles']} {row['summaries']}")
                )
        words = sorted(counts, key=lambda w: (-counts[w], w))
        freq = np.array([counts[w] for w in words], dtype=float)
    else:
        rng = np.random.default_rng(seed)
        letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
        words = sorted({"".join(rng.choice(letters, rng.integers(3, 11))) for _ in range(20000)})
        freq = 1 / np.arange(1, len(words) + 1)
    return words, freq / freq.sum()


def corpus(n_papers: int, seed: int, follows: bool = False) -> list[Paper]:
    words, p = vocabulary(seed)
    rng = np.random.default_rng(seed)
    names = author_names(seed) if follows else []
    extra = np.random.default_rng(seed + 11)
    lengths = rng.integers(110, 230, n_papers)
    drawn = rng.choice(len(words), int(lengths.sum()), p=p)
    upvotes = rng.zipf(2.0, n_papers)
    papers, at = [], 0
    for n, length in enumerate(lengths):
        text = [words[i] for i in drawn[at : at + length]]
        at += length
        papers.append(
            Paper(
                id=f"2401.{n:05d}",
                title=" ".join(text[:10]).capitalize(),
                abstract=" ".join(text[10:]).capitalize() + ".",
                upvotes=int(upvotes[n]),
                authors=tuple(
                    written(*names[int(a)], int(a))
                    for a in (extra.integers(len(names), size=6) if names else ())
                ),
                categories=tuple(
                    CATEGORY_POOL[int(c)]
                    for c in (extra.choice(len(CATEGORY_POOL), 2, replace=False) if names else ())
                ),
            )
        )
    return papers


def interests(
    papers: Sequence[Paper], n_candidates: int, n: int, seed: int, follows: bool = False
) -> list[Interest]:
    words, _ = vocabulary(seed)
    names = author_names(seed) if follows else []
    rng = np.random.default_rng(seed + 1)
    # Topic words: neither the commonest (stop-like) nor the rarest.
    topical = words[200:5000]
    pool = [
        " ".join(rng.choice(topical, 2)) if k % 3 == 0 else str(rng.choice(topical))
        for k in range(KEYWORD_POOL)
    ]
    older = len(papers) - n_candidates
    out = []
    for s in range(n):
        kws = rng.choice(len(pool), 5, replace=False)
        liked = tuple(papers[int(i)] for i in rng.choice(older, 5, replace=False))
        out.append(
            Interest(
                key=s,
                keywords=tuple(Keyword(pool[int(k)], float(rng.integers(1, 3))) for k in kws),
                liked=liked,
                seen=frozenset(p.id for p in liked),
                authors=tuple(written(*names[int(a)], 0) for a in rng.choice(len(names), 2))
                if follows
                else (),
                categories=tuple(CATEGORY_POOL[int(c)] for c in rng.choice(75, 2))
                if follows
                else (),
                exclude_categories=(CATEGORY_POOL[int(rng.integers(75, 150))],) if follows else (),
            )
        )
    return out


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def child(args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in this process: ``fit`` or ``rank``."""
    papers = corpus(args.papers, args.seed, args.follows)
    fingerprint = f"{len(papers)}:{args.seed}"
    if args.child == "fit":
        started = time.perf_counter()
        model = load_or_fit(args.cache, fingerprint, lambda: [p.text for p in papers])
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "peak_mib": peak_mib(), "vocabulary": len(model.vocabulary_)}
    profiles = interests(papers, args.candidates, args.n, args.seed, args.follows)
    candidates = papers[-args.candidates :]
    started = time.perf_counter()
    model = load_or_fit(args.cache, fingerprint, lambda: [p.text for p in papers])
    loaded = time.perf_counter()
    picks = rank(model, candidates, profiles)
    seconds = time.perf_counter() - loaded
    counts = [len(v) for v in picks.values()]
    if not all(p.reasons for v in picks.values() for p in v):
        raise SystemExit("a pick without a reason")
    return {
        "seconds": seconds,
        "load_seconds": loaded - started,
        "peak_mib": peak_mib(),
        "picks": sum(counts),
        "empty": sum(c == 0 for c in counts),
    }


def measure(args: argparse.Namespace, what: str, n: int = 0) -> dict[str, Any]:
    command = [
        sys.executable, __file__, "--child", what, "--n", str(n), "--cache", str(args.cache),
        "--papers", str(args.papers), "--candidates", str(args.candidates),
        "--seed", str(args.seed), *(["--follows"] if args.follows else []),
    ]  # fmt: skip
    out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, Any] = json.loads(out.splitlines()[-1])
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--papers", type=int, default=50_000)
    parser.add_argument("--candidates", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=1, help="runs per figure; median shown")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--follows", action="store_true", help="authors and categories too")
    parser.add_argument("--child", choices=("fit", "rank"), help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0

    print(
        f"# {platform.python_implementation()} {platform.python_version()}, "
        f"scikit-learn {sklearn.__version__}, numpy {np.__version__}, {platform.machine()}, "
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"# corpus {args.papers} synthetic papers ({'dataset' if DATASET.exists() else 'Zipf'}"
        f" vocabulary), {args.candidates} candidates, 5 keywords + 5 liked per subscriber"
        f"{' + 2 authors, 2 categories, 1 excluded category' if args.follows else ''}, "
        f"top 10 with reasons; median of {args.repeat}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        fits: list[dict[str, Any]] = []
        for _ in range(args.repeat):
            args.cache = Path(tmp) / f"cache{len(fits)}"
            fits.append(measure(args, "fit"))
        print(
            f"fit      {args.papers:>7} papers      "
            f"{statistics.median(f['seconds'] for f in fits):7.1f} s  "
            f"peak {statistics.median(f['peak_mib'] for f in fits):6.0f} MiB  "
            f"vocabulary {fits[0]['vocabulary']} terms"
        )
        for n in args.subscribers:
            runs = [measure(args, "rank", n) for _ in range(args.repeat)]
            print(
                f"rank     {n:>7} subscribers "
                f"{statistics.median(r['seconds'] for r in runs):7.1f} s  "
                f"peak {statistics.median(r['peak_mib'] for r in runs):6.0f} MiB  "
                f"(model load {statistics.median(r['load_seconds'] for r in runs):.1f} s, "
                f"{runs[0]['picks']} picks, {runs[0]['empty']} subscribers with none)"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

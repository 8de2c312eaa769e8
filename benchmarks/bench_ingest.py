"""Ingest throughput and peak memory for a large JSON Lines listing.

Generates 100,000 papers plus 10% repeats of earlier papers (under a new id, or the same
id with the title's case changed), ingests the file into a fresh store, and prints papers
per second and peak memory. Each run is a separate process so peaks do not mix.

    python benchmarks/bench_ingest.py            # 3 runs, prints the median
    python benchmarks/bench_ingest.py --papers 20000 --repeat 5

Target (issue "Foundation"): >= 10,000 papers/s and < 1 GiB peak on the 2-core machine.

Where the time goes (CPU seconds for the 110,000 records, measured with process_time):
read + sha256 ~0.4, parse ~2.2, identity and merge in Python ~2.4, SQLite inserts and
indexes ~2.5, the FTS5 index over title and abstract ~5. Two things tried did not help:
a writer thread (the GIL hands over too rarely while Python work runs) and a forked
parsing worker streaming records (unpickling them cost what the overlap saved).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = [
    "learning",
    "model",
    "language",
    "neural",
    "network",
    "transformer",
    "graph",
    "code",
    "program",
    "synthesis",
    "vision",
    "retrieval",
    "speech",
    "diffusion",
    "reinforcement",
    "policy",
    "agent",
    "benchmark",
    "dataset",
    "robust",
    "efficient",
    "sparse",
    "attention",
    "embedding",
    "contrastive",
    "generative",
    "pretraining",
    "finetuning",
    "alignment",
    "reasoning",
    "multimodal",
    "segmentation",
    "detection",
    "translation",
    "summarization",
]


def make_listing(path: Path, papers: int, seed: int = 7) -> int:
    """Write ``papers`` records plus 10% repeats; return the number of lines written."""
    rng = random.Random(seed)
    lines = 0
    titles: list[tuple[str, str]] = []
    with path.open("w", encoding="utf-8") as out:
        for i in range(papers):
            title = " ".join(rng.choice(WORDS) for _ in range(8)).title() + f" {i}"
            arxiv = f"{2311 + i // 90000}.{i % 90000:05d}"  # valid arXiv ids: 2311.*, 2312.*
            record = {
                "id": f"{arxiv}v{rng.randint(1, 3)}",
                "title": title,
                "abstract": " ".join(rng.choice(WORDS) for _ in range(150)) + ".",
                "authors": [f"Author {rng.randint(1, 5000)}" for _ in range(4)],
                "published": "2026-11-20",
                "upvotes": rng.randint(0, 200),
            }
            titles.append((arxiv, title))
            out.write(json.dumps(record) + "\n")
            lines += 1
            if i % 10 == 9:  # a repeat of an earlier paper
                old_id, old_title = titles[rng.randrange(len(titles))]
                if rng.random() < 0.5:
                    repeat = {"id": f"other-{i}", "title": old_title, "abstract": "again"}
                else:
                    repeat = {"id": old_id, "title": old_title.upper(), "abstract": "again"}
                out.write(json.dumps(repeat) + "\n")
                lines += 1
    return lines


def run_once(listing: Path) -> dict[str, float]:
    """Ingest ``listing`` into a new store in this process; return figures."""
    from digest.ingest import ingest_file
    from digest.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "bench.db", create=True)
        now = dt.datetime.now(dt.UTC)
        start = time.perf_counter()
        result = ingest_file(store, listing, today=now.date(), now=now)
        seconds = time.perf_counter() - start
        if result.failed:
            raise SystemExit(result.message)
        count = store.paper_count()
        store.close()
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "records": result.found,
        "papers": count,
        "seconds": seconds,
        "records_per_second": result.found / seconds,
        "peak_mib": peak_kib / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--papers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return

    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "papers.jsonl"
        lines = make_listing(listing, args.papers)
        size = listing.stat().st_size / 1e6
        print(
            f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}"
        )
        print(f"listing: {lines:,} records ({args.papers:,} papers + repeats), {size:.0f} MB")
        runs = []
        for n in range(args.repeat):
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(listing)],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(out.stdout)
            runs.append(figures)
            print(
                f"run {n + 1}: {figures['seconds']:.2f} s, "
                f"{figures['records_per_second']:,.0f} records/s, "
                f"{figures['papers']:,} papers stored, peak {figures['peak_mib']:.0f} MiB"
            )
        rate = statistics.median(r["records_per_second"] for r in runs)
        peak = statistics.median(r["peak_mib"] for r in runs)
        print(
            f"median of {len(runs)}: {rate:,.0f} records/s, peak {peak:.0f} MiB "
            f"(target >= 10,000/s, < 1024 MiB)"
        )


if __name__ == "__main__":
    main()

"""How long an ingest keeps everyone else from writing.

Generates a large JSON Lines listing (200,000 records with 40-word abstracts, ~90 MB),
ingests it in a child process, and meanwhile takes the write lock
from this process again and again (``BEGIN IMMEDIATE``, as a run or a web click would),
printing the longest and the 99th-percentile wait beside the ingest's duration.

    python benchmarks/bench_ingest_lock.py
    python benchmarks/bench_ingest_lock.py --records 50000

Target (issue 11): no write waits more than about a second (it was the whole ingest,
~45 s for 200,000 records, when a file was one transaction).
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_ingest import WORDS
from machine_info import machine_line

CHILD = """
import datetime as dt, sys
from pathlib import Path
from digest.ingest import ingest_file
from digest.store import Store
store = Store.open(Path(sys.argv[1]))
now = dt.datetime.now(dt.UTC)
result = ingest_file(store, Path(sys.argv[2]), today=now.date(), now=now)
print(result.status, result.found, result.new, result.message)
"""


def make_listing(path: Path, records: int, seed: int = 7) -> int:
    """``records`` distinct papers with 40-word abstracts; the number written."""
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            record = {
                "id": f"{2311 + i // 90000}.{i % 90000:05d}",
                "title": " ".join(rng.choice(WORDS) for _ in range(8)).title() + f" {i}",
                "abstract": " ".join(rng.choice(WORDS) for _ in range(40)) + ".",
                "authors": [f"Author {rng.randint(1, 5000)}" for _ in range(3)],
                "upvotes": rng.randint(0, 200),
            }
            out.write(json.dumps(record) + "\n")
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=200_000)
    args = parser.parse_args()
    from digest.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        listing, database = Path(tmp) / "papers.jsonl", Path(tmp) / "bench.db"
        lines = make_listing(listing, args.records)
        Store.open(database, create=True).close()
        print(machine_line())
        size = listing.stat().st_size / 1e6
        print(f"listing: {lines:,} records, {size:.0f} MB")
        probe = sqlite3.connect(database, timeout=300)
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(database), str(listing)],
            stdout=subprocess.PIPE,
            text=True,
        )
        waits = []
        while child.poll() is None:
            before = time.perf_counter()
            probe.execute("BEGIN IMMEDIATE")
            waits.append(time.perf_counter() - before)
            probe.rollback()
            time.sleep(0.02)
        seconds = time.perf_counter() - started
        out, _ = child.communicate()
        waits.sort()
        p99 = waits[int(len(waits) * 0.99)] if waits else 0.0
        print(f"ingest: {out.strip()} in {seconds:.1f} s")
        if not out.startswith("ingested"):
            sys.exit("the ingest failed")
        print(
            f"write lock taken {len(waits):,} times meanwhile: longest wait {waits[-1]:.2f} s, "
            f"p99 {p99:.2f} s, median {statistics.median(waits) * 1000:.0f} ms"
        )
        met = waits[-1] < 1.5
        print(f"target (no wait over ~1 s): {'met' if met else 'NOT met'}")
        sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

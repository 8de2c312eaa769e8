"""Peak memory of ingesting many tiny records: it must not grow with the record count.

Generates 1,000,000 tiny JSON Lines records (~35 MB), ingests them into a fresh store in a
child process, and prints the child's peak RSS (``ru_maxrss``) beside the limit.

    python benchmarks/bench_ingest_memory.py                 # 1,000,000 records
    python benchmarks/bench_ingest_memory.py --records 200000

Target (issue 11): under 300 MiB for 1,000,000 records (it was 1.1 GB when the ingest
held every record's merge state until the end of the file).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_ingest import run_once  # the same measured ingest, in this process
from machine_info import machine_line

LIMIT_MIB = 300


def make_listing(path: Path, records: int) -> None:
    """``records`` tiny records, each a distinct paper (identified by its title)."""
    with path.open("w", encoding="utf-8") as out:
        for i in range(records):
            record = {"title": f"T{i}", "abstract": "ab"}  # ~35 bytes a line
            out.write(json.dumps(record, separators=(",", ":")) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        listing = Path(tmp) / "tiny.jsonl"
        make_listing(listing, args.records)
        print(machine_line())
        print(f"listing: {args.records:,} tiny records, {listing.stat().st_size / 1e6:.0f} MB")
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(listing)],
            check=True,
            capture_output=True,
            text=True,
        )
        figures = json.loads(out.stdout)
        met = figures["peak_mib"] < LIMIT_MIB
        print(
            f"{figures['papers']:,} papers in {figures['seconds']:.1f} s; "
            f"peak RSS {figures['peak_mib']:.0f} MiB (limit {LIMIT_MIB} MiB): "
            f"{'met' if met else 'NOT met'}"
        )
        sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()

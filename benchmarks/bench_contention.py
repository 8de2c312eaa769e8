"""A daily run and 100 web clicks while a 200,000-record ingest is going (issue 11).

Builds an instance in its own temporary folder: --subscribers daily subscribers with
keywords, and --papers papers ingested beforehand (first seen on the run's day), so every
subscriber has picks. Then, all as separate processes on loopback:

1. ``digest serve`` on a free port (started first, and answering, before anything else);
2. ``digest ingest FILE`` of a generated 200,000-record JSON Lines file (~116 MB, the
   generator of ``bench_ingest_lock.py``);
3. --run-after seconds later, ``digest run --date DAY --json`` for every subscriber;
4. meanwhile --clicks feedback POSTs ("more"/"less like this", each a distinct signed
   token for a subscriber and an earlier paper), spread evenly over --spread seconds from
   the ingest's start and fired by --clients concurrent clients, each click on a fresh
   connection, as a person's browser would.

It prints the ingest's duration, the run's exit status and digests sent against the
subscribers due, the clicks' latency (p50/p95/p99/max, measured by the clients, a click
that failed counted as an error), how many answered 2xx and how many feedback rows were
stored (must be equal), and whether the targets were met.

    python benchmarks/bench_contention.py
    python benchmarks/bench_contention.py --records 50000 --spread 3   # a quicker look

Target (issue 11): the run finishes with every digest sent; every click answers, p99 under
2 s, with its vote stored. Loopback only; every child process is killed at the end,
whatever happens, and the whole thing gives up after --deadline seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from bench_ingest_lock import make_listing
from bench_run import TOPICS, paper_record
from bench_web import SECRET, free_port, percentile
from machine_info import machine_line

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.config import load_config  # noqa: E402
from digest.ingest import ingest_file  # noqa: E402
from digest.instance import init_instance  # noqa: E402
from digest.profiles import SubscriberEntry  # noqa: E402
from digest.records import Keyword  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import save_entries  # noqa: E402
from digest.tokens import LinkSigner  # noqa: E402

CLICK_TIMEOUT = 60.0  # seconds a client waits for an answer before it calls the click failed


@dataclass
class Clicks:
    latencies: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the Server-Timing app;dur= values
    ok: int = 0
    errors: list[str] = field(default_factory=list)
    during_ingest: int = 0  # clicks answered while the ingest was still running


def build_instance(root: Path, subscribers: int, papers: int, day: dt.date) -> Path:
    """`digest init`, the subscribers and the earlier papers; returns the config path."""
    rng = random.Random(11)
    config_path = init_instance(root)
    config = load_config(config_path)
    now = dt.datetime.combine(day, dt.time(5), tzinfo=dt.UTC)
    earlier = root / "earlier.jsonl"
    with earlier.open("w", encoding="utf-8") as out:
        for n in range(papers):
            out.write(json.dumps(paper_record(rng, n, "2610")) + "\n")
    store = Store.open(config.store.database)
    try:
        result = ingest_file(store, earlier, today=day, now=now)
        if result.failed:
            raise SystemExit(result.message)
        entries = [
            SubscriberEntry(
                email=f"reader{n}@example.org",
                keywords=tuple(Keyword(t) for t in rng.sample(TOPICS, 5)),
                max_papers=10,
            )
            for n in range(subscribers)
        ]
        save_entries(store, entries, who="bench", now=now)
    finally:
        store.close()
    return config_path


def spawn(config_path: Path, *args: str, log: Path | None = None) -> subprocess.Popen[str]:
    """``digest --config … ARGS`` in its own process group (so it can be killed whole);
    stderr to ``log`` when given (a server's, which may say more than a pipe holds)."""
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_ADMIN_PASSWORD": "bench-contention"}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", "--config", str(config_path), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log.open("w") if log else subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def kill(proc: subprocess.Popen[str]) -> None:
    """Kill a child started by :func:`spawn` (its own process group), if it still runs."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.communicate(timeout=10)


def wait_until_up(proc: subprocess.Popen[str], port: int, timeout: float = 60.0) -> None:
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if proc.poll() is not None:
            raise SystemExit(f"digest serve exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"digest serve did not answer on port {port} within {timeout:.0f} s")


async def click(port: int, path: str) -> tuple[int, str]:
    """One feedback click on a fresh connection: POST, read the whole answer, close.
    Returns the status and the Server-Timing header."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(
            (
                f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 0\r\n\r\n"
            ).encode("ascii")
        )
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
        await reader.readexactly(int(headers.get("content-length", "0")))
        return int(lines[0].split(" ", 2)[1]), headers.get("server-timing", "")
    finally:
        writer.close()


async def fire_clicks(
    port: int,
    paths: list[str],
    clients: int,
    spread: float,
    started: float,
    ingest: subprocess.Popen[str],
) -> Clicks:
    """Click ``paths`` from ``clients`` concurrent clients, click i due at i/len × spread
    seconds after ``started`` (a client late from a slow answer clicks at once)."""
    results = Clicks()

    async def client(mine: list[tuple[int, str]]) -> None:
        for n, path in mine:
            await asyncio.sleep(
                max(0.0, started + 1.0 + n * spread / len(paths) - time.monotonic())
            )
            begun = time.perf_counter()
            try:
                status, timing = await asyncio.wait_for(click(port, path), CLICK_TIMEOUT)
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                results.errors.append(f"{type(exc).__name__}: {exc}")
                continue
            results.latencies.append(time.perf_counter() - begun)
            if timing.startswith("app;dur="):
                results.server_ms.append(float(timing[8:]))
            if ingest.poll() is None:
                results.during_ingest += 1
            if 200 <= status < 300:
                results.ok += 1
            else:
                results.errors.append(f"HTTP {status}")

    numbered = list(enumerate(paths))
    await asyncio.gather(*(client(numbered[c::clients]) for c in range(clients)))
    return results


def click_paths(config_path: Path, count: int) -> list[str]:
    """``count`` feedback links, each for a distinct (subscriber, earlier paper) pair."""
    store = Store.open(load_config(config_path).store.database)
    try:
        sub_ids = [s.id for s in store.subscribers()]
        paper_ids = [p.id for p in store.papers()]
    finally:
        store.close()
    rng = random.Random(3)
    signer = LinkSigner(SECRET)
    pairs = rng.sample([(s, p) for s in sub_ids[:50] for p in paper_ids[:50]], count)
    return [f"/feedback/{signer.sign(s, rng.choice(('more', 'less')), p)}" for s, p in pairs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=200_000, help="records in the big file")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--papers", type=int, default=2_000, help="papers ingested before")
    parser.add_argument("--clicks", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clicking clients")
    parser.add_argument("--spread", type=float, default=10.0, help="seconds the clicks span")
    parser.add_argument("--run-after", type=float, default=1.0, help="seconds into the ingest")
    parser.add_argument("--deadline", type=float, default=600.0, help="give up after (s)")
    args = parser.parse_args()
    day = dt.datetime.now(dt.UTC).date()
    print(machine_line(), f"· load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    procs: list[subprocess.Popen[str]] = []
    with tempfile.TemporaryDirectory(prefix="digest-contention-") as tmp:
        root = Path(tmp)
        try:
            config_path = build_instance(root / "inst", args.subscribers, args.papers, day)
            listing = root / "big.jsonl"
            make_listing(listing, args.records)
            paths = click_paths(config_path, args.clicks)
            size = listing.stat().st_size / 1e6
            print(
                f"instance: {args.subscribers} subscribers, {args.papers:,} earlier papers; "
                f"big listing: {args.records:,} records, {size:.0f} MB"
            )
            port = free_port()
            serve_log = root / "serve.log"
            serve = spawn(
                config_path, "serve", "--host", "127.0.0.1", "--port", str(port), log=serve_log
            )
            procs.append(serve)
            wait_until_up(serve, port)

            deadline = time.monotonic() + args.deadline
            started = time.monotonic()
            ingest = spawn(config_path, "-q", "ingest", "--json", "--date", str(day), str(listing))
            procs.append(ingest)

            async def until_done(proc: subprocess.Popen[str], since: float) -> float:
                while proc.poll() is None and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
                return time.monotonic() - since

            async def scenario() -> tuple[Clicks, subprocess.Popen[str], float, float]:
                ingesting = asyncio.create_task(until_done(ingest, started))
                clicking = asyncio.create_task(
                    fire_clicks(port, paths, args.clients, args.spread, started, ingest)
                )
                await asyncio.sleep(args.run_after)
                run = spawn(config_path, "-q", "run", "--date", str(day), "--json")
                procs.append(run)
                run_seconds = await until_done(run, time.monotonic())
                remaining = max(1.0, deadline - time.monotonic())
                clicks = await asyncio.wait_for(clicking, remaining)
                return clicks, run, run_seconds, await ingesting

            clicks, run, run_seconds, ingest_seconds = asyncio.run(scenario())
            if ingest.poll() is None or run.poll() is None:
                raise SystemExit(f"gave up after {args.deadline:.0f} s (--deadline)")
            ingest_out, ingest_err = ingest.communicate()
            run_out, run_err = run.communicate()
        finally:
            for proc in reversed(procs):
                kill(proc)

        store = Store.open(load_config(config_path).store.database)
        try:
            rows = store.feedback_count(source="email")
            sent_rows = store.db.execute(
                "SELECT count(*) FROM digests WHERE digest_date = ? AND status = 'sent'",
                [day.isoformat()],
            ).fetchone()[0]
        finally:
            store.close()

    ingest_result = json.loads(ingest_out)[0] if ingest.returncode == 0 else {}
    print(
        f"ingest: exit {ingest.returncode}, {ingest_result.get('status', ingest_err.strip())}, "
        f"{ingest_result.get('new', '?')} new papers in {ingest_seconds:.1f} s"
    )
    overlap = max(0.0, min(ingest_seconds, args.run_after + run_seconds) - args.run_after)
    report = json.loads(run_out) if run.returncode == 0 else {}
    due, sent = report.get("subscribers_due", 0), report.get("sent", 0)
    print(
        f"run (started {args.run_after:.0f} s into the ingest): exit {run.returncode} in "
        f"{run_seconds:.1f} s, sent {sent} of {due} due ({sent_rows} digests marked sent), "
        f"failed {report.get('failed', '?')}; {overlap:.1f} s of it during the ingest"
        + (f"; {run_err.strip()}" if run.returncode else "")
    )
    lat = [x * 1000 for x in clicks.latencies]
    print(
        f"clicks: {len(lat)} answered ({clicks.during_ingest} while the ingest ran) by "
        f"{args.clients} clients over {args.spread:.0f} s: p50 {percentile(lat, 50):.0f} ms · "
        f"p95 {percentile(lat, 95):.0f} ms · p99 {percentile(lat, 99):.0f} ms · "
        f"max {max(lat, default=float('nan')):.0f} ms; 2xx {clicks.ok}, errors "
        f"{len(clicks.errors)}{' (' + clicks.errors[0] + ')' if clicks.errors else ''}"
    )
    print(
        f"        in the server (Server-Timing): p50 {percentile(clicks.server_ms, 50):.0f} ms · "
        f"p99 {percentile(clicks.server_ms, 99):.0f} ms · "
        f"max {max(clicks.server_ms, default=float('nan')):.0f} ms"
    )
    print(
        f"feedback rows stored: {rows} ({'equal to' if rows == clicks.ok else 'NOT equal to'} "
        "the 2xx count)"
    )
    checks = {
        "run exit 0 and every digest sent": run.returncode == 0 and due == sent == args.subscribers,
        f"every click answered 2xx ({args.clicks})": clicks.ok == args.clicks,
        "click p99 < 2 s": percentile(lat, 99) < 2000,
        "every vote stored": rows == clicks.ok,
        "ingest succeeded": ingest.returncode == 0,
    }
    for name, met in checks.items():
        print(f"  {'PASS' if met else 'FAIL'}  {name}")
    print("PASS" if all(checks.values()) else "FAIL")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()

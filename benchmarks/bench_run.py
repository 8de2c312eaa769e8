"""The daily run at scale, and SMTP throughput.

1. A full daily run (``run_digests``, as ``digest run`` calls it) for 100,000 subscribers
   against 2,000 new papers (plus an older corpus) into the outbox, rendering in
   ``--workers`` processes (0: one per core): wall time, CPU time over wall time, peak
   memory of the run and its render workers together (their resident sets summed, sampled
   from /proc every 0.2 s), messages per second.
   Its floor, measured in the same repeat: the same number of messages of the run's own
   median size written to a folder as one file each, atomically, by one process (what
   delivery to the outbox cannot avoid), plus the run's ranking time (preparing the day
   and composing each slice of subscribers, in the run's process, while the workers
   render the slice before); the ratio is wall / floor.
2. SMTP delivery of rendered digests to a loopback aiosmtpd (a separate process with the
   ``Sink`` handler) over one reused connection: messages per second.

    python benchmarks/bench_run.py                 # 100,000 subscribers, 3 repeats, medians
    python benchmarks/bench_run.py --subscribers 10000
    python benchmarks/bench_run.py --subscribers 2000 --repeat 1 --workers 1

Targets (issue 16): 100,000 subscribers × 2,000 new papers < 180 s, peak < 2 GiB, CPU/wall
> 1.6 on the 2-core machine; 10,000 < 20 s. SMTP >= 200 messages per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from machine_info import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

T = TypeVar("T")
DAY = dt.date(2026, 11, 22)
TOPICS = (
    "code generation",
    "program synthesis",
    "retrieval",
    "question answering",
    "speech recognition",
    "image segmentation",
    "diffusion models",
    "reinforcement learning",
    "graph neural networks",
    "machine translation",
    "summarization",
    "robotics",
    "protein folding",
    "time series",
    "federated learning",
    "adversarial robustness",
    "knowledge distillation",
    "tokenization",
    "mixture of experts",
    "contrastive learning",
    "object detection",
    "recommender systems",
)
FILLER_TEXT = (
    "we propose a method that improves results on several benchmarks while using less "
    "compute and we analyse why it works with ablations on data model size and "
    "training schedule showing consistent gains over strong baselines in both "
    "accuracy and efficiency"
)
FILLER = FILLER_TEXT.split()


def paper_record(rng: random.Random, n: int, prefix: str) -> dict[str, object]:
    topic, other = rng.sample(TOPICS, 2)
    words = [rng.choice(FILLER) for _ in range(120)]
    for _ in range(4):
        words.insert(rng.randrange(len(words)), rng.choice((topic, other)))
    return {
        "id": f"{prefix}.{n:05d}",
        "title": f"{topic.title()} meets {other}: study {n}",
        "abstract": " ".join(words).capitalize() + ".",
        "authors": [f"Author {rng.randint(1, 999)}" for _ in range(rng.randint(1, 6))],
        "upvotes": rng.randint(0, 120),
    }


def build_instance(root: Path, subscribers: int, new_papers: int) -> Path:
    """An instance with an older corpus, ``new_papers`` first seen on DAY, and subscribers."""
    from digest.config import load_config
    from digest.ingest import ingest_file
    from digest.instance import init_instance
    from digest.profiles import SubscriberEntry
    from digest.records import Keyword
    from digest.store import Store
    from digest.subscriptions import save_entries

    rng = random.Random(11)
    config_path = init_instance(root)
    config = load_config(config_path)
    store = Store.open(config.store.database)
    now = dt.datetime.combine(DAY, dt.time(6), tzinfo=dt.UTC)
    for name, count, prefix, day in (
        ("older.jsonl", 8_000, "2610", DAY - dt.timedelta(days=30)),
        ("new.jsonl", new_papers, "2611", DAY),
    ):
        path = root / name
        with path.open("w", encoding="utf-8") as out:
            for n in range(count):
                out.write(json.dumps(paper_record(rng, n, prefix)) + "\n")
        result = ingest_file(store, path, today=day, now=now)
        if result.failed:
            raise SystemExit(result.message)
    entries = [
        SubscriberEntry(
            email=f"reader{n}@example.org",
            name=f"Reader {n}",
            keywords=tuple(Keyword(t, float(rng.randint(1, 3))) for t in rng.sample(TOPICS, 5)),
            max_papers=10,
        )
        for n in range(subscribers)
    ]
    save_entries(store, entries, who="bench", now=now)
    store.close()
    return config_path


def run_once(config_path: Path, workers: int) -> dict[str, float]:
    """One full run in this process; figures for the parent."""
    from digest import run as run_module
    from digest.config import load_config
    from digest.render import make_renderer
    from digest.run import RunContext, render_workers, run_digests
    from digest.store import Store
    from digest.transports import make_transport

    config = load_config(config_path)
    store = Store.open(config.store.database)
    moment = dt.datetime.combine(DAY, dt.time(7), tzinfo=dt.UTC)
    ctx = RunContext(
        transport=make_transport(config, "outbox"),
        renderer=make_renderer(config, secret="bench-secret-bench-secret-bench-secret"),
        now=lambda: moment,
        workers=render_workers(workers),
    )
    # The ranking: preparing the day, then composing each slice of subscribers.
    compose_seconds: list[float] = []
    prepare, compose = run_module.prepare_day, run_module.compose

    def timed(function: Callable[..., T]) -> Callable[..., T]:
        def call(*args: object, **kwargs: object) -> T:
            begin = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                compose_seconds.append(time.perf_counter() - begin)

        return call

    run_module.prepare_day = timed(prepare)  # type: ignore[assignment]
    run_module.compose = timed(compose)  # type: ignore[assignment]
    start = time.perf_counter()
    report = run_digests(store, config, ctx, date_override=DAY)
    seconds = time.perf_counter() - start
    store.close()
    return {
        "seconds": seconds,
        "compose_seconds": sum(compose_seconds),
        "workers": ctx.workers,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
    }


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (the forkserver and the render workers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


class TreeSampler(threading.Thread):
    """Samples a process tree every 0.2 s: peak summed RSS, CPU seconds of every process."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root = root
        self.peak_bytes = 0
        self.cpu: dict[int, float] = {}
        self.done = threading.Event()

    def run(self) -> None:
        page, tick = os.sysconf("SC_PAGE_SIZE"), os.sysconf("SC_CLK_TCK")
        while not self.done.wait(0.2):
            rss = 0
            for pid in descendants(self.root):
                try:
                    rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
                    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / tick
            self.peak_bytes = max(self.peak_bytes, rss)


def measured_run(config_path: Path, workers: int) -> dict[str, float]:
    """The run in a child process (a fresh interpreter, as ``digest run`` would be)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", str(config_path), "--workers", str(workers)],
        stdout=subprocess.PIPE,
        text=True,
    )
    sampler = TreeSampler(child.pid)
    sampler.start()
    out, _ = child.communicate()
    wall = time.perf_counter() - start
    sampler.done.set()
    sampler.join()
    if child.returncode:
        raise SystemExit(f"the run failed (exit {child.returncode})")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    # The run's own CPU exactly (it was waited for); its workers' as last sampled.
    own = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    workers_cpu = sum(cpu for pid, cpu in sampler.cpu.items() if pid != child.pid)
    figures = json.loads(out)
    figures.update(
        process_seconds=wall,
        cpu_seconds=own + workers_cpu,
        run_cpu_seconds=own,
        peak_mib=sampler.peak_bytes / 2**20,
    )
    return figures


def write_floor(folder: Path, count: int, size: int) -> float:
    """Seconds to write ``count`` files of ``size`` bytes, each atomically (the outbox's
    open, write, close, rename), in one process: the I/O no outbox delivery avoids."""
    from digest.files import write_atomically

    data = b"x" * size
    folder.mkdir()
    start = time.perf_counter()
    for n in range(count):
        write_atomically(folder / f"reader{n}_at_example.org.eml", data)
    return time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def smtp_throughput(config_path: Path, messages: int) -> float:
    """Messages per second to a loopback aiosmtpd (separate process) over one connection."""
    from digest.config import SmtpConfig, load_config
    from digest.transports import OutgoingMessage, SmtpTransport

    outbox = load_config(config_path).delivery.outbox
    emls = sorted(outbox.glob("*/*.eml"))[:messages]
    if not emls:
        raise SystemExit("no messages in the outbox to send; run the full run first")
    payloads = [(p.read_bytes(), p.stem.replace("_at_", "@")) for p in emls]
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            f"127.0.0.1:{port}",
            "-c",
            "aiosmtpd.handlers.Sink",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        config = SmtpConfig(
            host="127.0.0.1", port=port, security="none", rate_per_second=100_000.0, retries=0
        )
        transport = SmtpTransport(config)
        start = time.perf_counter()
        sent = 0
        while sent < messages:
            data, recipient = payloads[sent % len(payloads)]
            transport.send(OutgoingMessage(data, "digest@example.org", recipient, DAY))
            sent += 1
        seconds = time.perf_counter() - start
        transport.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    return sent / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--workers", type=int, default=0, help="render processes; 0: per core")
    parser.add_argument("--smtp-messages", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child, args.workers)))
        return

    print(machine_line())
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    n_subs = args.subscribers
    runs, rates, floors = [], [], []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            config_path = build_instance(Path(tmp) / "inst", n_subs, args.papers)
            figures = measured_run(config_path, args.workers)
            runs.append(figures)
            sizes = sorted(
                p.stat().st_size
                for p in list((Path(tmp) / "inst" / "outbox").glob("*/*.eml"))[:500]
            )
            size = sizes[len(sizes) // 2] if sizes else 50_000
            floor = write_floor(Path(tmp) / "floor", n_subs, size) + figures["compose_seconds"]
            floors.append(floor)
            rate = smtp_throughput(config_path, args.smtp_messages)
            rates.append(rate)
            wall = figures["seconds"]
            print(
                f"run {n + 1}: {n_subs:,} subscribers x {args.papers:,} new papers, "
                f"{figures['workers']:.0f} workers: {wall:.1f} s "
                f"({figures['sent']:,.0f} sent, {figures['skipped']:,.0f} skipped, "
                f"{figures['failed']:,.0f} failed; ranking {figures['compose_seconds']:.1f} s), "
                f"CPU {figures['cpu_seconds']:.0f} s "
                f"(run process {figures['run_cpu_seconds']:.0f} s, workers "
                f"{figures['cpu_seconds'] - figures['run_cpu_seconds']:.0f} s), "
                f"CPU/wall {figures['cpu_seconds'] / figures['process_seconds']:.2f}, "
                f"peak {figures['peak_mib']:.0f} MiB, {figures['sent'] / wall:,.0f} messages/s; "
                f"floor {floor:.1f} s (ratio {wall / floor:.2f}); SMTP {rate:,.0f} messages/s"
            )
    walls = [r["seconds"] for r in runs]
    print(
        f"median of {len(runs)}: {n_subs:,} subscribers x {args.papers:,} papers: "
        f"run {statistics.median(walls):.1f} s, "
        f"CPU {statistics.median(r['cpu_seconds'] for r in runs):.0f} s, "
        f"CPU/wall {statistics.median(r['cpu_seconds'] / r['process_seconds'] for r in runs):.2f}, "
        f"peak {statistics.median(r['peak_mib'] for r in runs):.0f} MiB (target < 2048), "
        f"{statistics.median(r['sent'] / r['seconds'] for r in runs):,.0f} messages/s; "
        f"floor {statistics.median(floors):.1f} s, "
        f"ratio {statistics.median(w / f for w, f in zip(walls, floors, strict=True)):.2f}; "
        f"SMTP {statistics.median(rates):,.0f} messages/s (target >= 200)"
    )
    print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()

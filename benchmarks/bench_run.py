"""The daily run at scale, and SMTP throughput.

1. A full ``digest run`` for 10,000 subscribers against 2,000 new papers (plus an older
   corpus) into the outbox: wall time and peak memory of the run's own process.
2. SMTP delivery of rendered digests to a loopback aiosmtpd (a separate process with the
   ``Sink`` handler) over one reused connection: messages per second.

    python benchmarks/bench_run.py                 # 3 repeats, prints medians
    python benchmarks/bench_run.py --subscribers 2000 --repeat 1

Targets (issue "The daily run"): 10,000 subscribers × 2,000 new papers < 60 s and < 2 GiB;
SMTP >= 200 messages per second.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine_info import machine_line

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

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


def run_once(config_path: Path) -> dict[str, float]:
    """One full run in this process; figures for the parent."""
    from digest.config import load_config
    from digest.render import make_renderer
    from digest.run import RunContext, run_digests
    from digest.store import Store
    from digest.transports import make_transport

    config = load_config(config_path)
    store = Store.open(config.store.database)
    moment = dt.datetime.combine(DAY, dt.time(7), tzinfo=dt.UTC)
    ctx = RunContext(
        transport=make_transport(config, "outbox"),
        renderer=make_renderer(config, secret="bench-secret-bench-secret-bench-secret"),
        now=lambda: moment,
    )
    start = time.perf_counter()
    report = run_digests(store, config, ctx, date_override=DAY)
    seconds = time.perf_counter() - start
    store.close()
    return {
        "seconds": seconds,
        "sent": report.sent,
        "skipped": report.skipped,
        "failed": report.failed,
        "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


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
    parser.add_argument("--subscribers", type=int, default=10_000)
    parser.add_argument("--papers", type=int, default=2_000)
    parser.add_argument("--smtp-messages", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.child)))
        return

    print(machine_line())
    runs, rates = [], []
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            config_path = build_instance(Path(tmp) / "inst", args.subscribers, args.papers)
            out = subprocess.run(
                [sys.executable, __file__, "--child", str(config_path)],
                check=True,
                capture_output=True,
                text=True,
            )
            figures = json.loads(out.stdout)
            runs.append(figures)
            rate = smtp_throughput(config_path, args.smtp_messages)
            rates.append(rate)
            print(
                f"run {n + 1}: {figures['seconds']:.1f} s for {args.subscribers:,} subscribers "
                f"({figures['sent']:,} sent, {figures['skipped']:,} skipped), "
                f"peak {figures['peak_mib']:.0f} MiB; SMTP {rate:,.0f} messages/s"
            )
    print(
        f"median of {len(runs)}: run {statistics.median(r['seconds'] for r in runs):.1f} s "
        f"(target < 60 s), peak {statistics.median(r['peak_mib'] for r in runs):.0f} MiB "
        f"(target < 2048), SMTP {statistics.median(rates):,.0f} messages/s (target >= 200)"
    )


if __name__ == "__main__":
    main()

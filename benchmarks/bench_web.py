"""Load on `digest serve`'s subscriber links: many people clicking feedback and unsubscribe.

Starts a real `digest serve` process on a free loopback port against a generated instance
(--subscribers subscribers with keywords, the bundled sample listings as papers), then runs
--clients concurrent clients (asyncio; each its own keep-alive connection) for --seconds.
Each client POSTs a link from an email with a valid signed token (a feedback link, "more"
or "less like this", 4 times in 5; an unsubscribe link, RFC 8058 one-click, 1 in 5) and,
by default, sends the next one as soon as the answer is in: 200 clients back to back, the
hardest reading of the target. ``--think 0.5 1.5`` makes each client a person who reads
the page for a random 0.5-1.5 s before the next click (200 clients then offer about 200
requests per second). Afterwards it checks that every feedback POST that got a 2xx has its
row in the feedback table (the counts must be equal) and that every subscriber whose
unsubscribe POST got a 2xx is unsubscribed.

Latency is measured by the clients, so it includes their own scheduling on this machine;
the time inside the app (the server's Server-Timing header) is reported beside it. The
clients speak minimal HTTP/1.1 over asyncio streams by default, because httpx costs more
CPU per request than the server does (``--client httpx`` uses httpx.AsyncClient instead).

    python benchmarks/bench_web.py                 # 200 clients back to back, 30 s, 1 run
    python benchmarks/bench_web.py --runs 3        # the median of three runs
    python benchmarks/bench_web.py --think 0.5 1.5 # people reading between clicks
    python benchmarks/bench_web.py --clients 50 --seconds 10

Target (issue "The web side"): no error and p99 < 200 ms on the 2-core machine.
Loopback only; the server is stopped at the end of each run, whatever happens.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from machine_info import machine_line

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from digest.config import load_config  # noqa: E402
from digest.ingest import ingest_paths  # noqa: E402
from digest.instance import init_instance  # noqa: E402
from digest.profiles import entry_from_mapping  # noqa: E402
from digest.resources import examples_dir  # noqa: E402
from digest.store import Store  # noqa: E402
from digest.subscriptions import save_entries  # noqa: E402
from digest.tokens import LinkSigner  # noqa: E402

SECRET = "bench-web-secret-bench-web-secret-0123"
PASSWORD = "bench-web-password"
THINK_SECONDS = (0.0, 0.0)  # uniform between clicks; 0 0: each client clicks back to back
FEEDBACK_SHARE = 0.8
TOPICS = [
    "code generation",
    "program synthesis",
    "retrieval",
    "question answering",
    "vision",
    "speech",
    "reinforcement learning",
    "diffusion",
    "graph neural network",
    "language model",
]


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    server_ms: list[float] = field(default_factory=list)  # the Server-Timing app;dur= values
    errors: list[str] = field(default_factory=list)
    feedback_ok: int = 0
    unsubscribed: set[int] = field(default_factory=set)
    requests: int = 0


def make_instance(root: Path, subscribers: int) -> tuple[Path, list[int], list[str]]:
    """`digest init`, the subscribers and the sample listings; returns ids for the tokens."""
    config_path = init_instance(root)
    config = load_config(config_path)
    store = Store.open(config.store.database)
    try:
        rng = random.Random(7)
        entries = [
            entry_from_mapping(
                {
                    "email": f"reader{n:04d}@example.org",
                    "keywords": rng.sample(TOPICS, 3),
                    "max_papers": 5,
                },
                where="bench",
            )
            for n in range(subscribers)
        ]
        now = dt.datetime.now(dt.UTC)
        save_entries(store, entries, who="bench", now=now)
        ingest_paths(store, [examples_dir()], today=now.date(), now=now)
        sub_ids = [s.id for s in store.subscribers()]
        paper_ids = [p.id for p in store.papers()]
    finally:
        store.close()
    return config_path, sub_ids, paper_ids


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(config_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_ADMIN_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "digest", "--config", str(config_path), "serve"]
    return subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def wait_until_up(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"digest serve exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit(f"digest serve did not answer on {base} within {timeout} s")


class RawConnection:
    """One person's keep-alive HTTP/1.1 connection, with just enough of the protocol for
    this load: one request at a time, responses framed by Content-Length.

    The default client. httpx costs about 2 ms of CPU per request here, more than the
    server itself; on a 2-core machine that the server shares with the clients, that
    measures the clients. (A person's browser runs on their own machine.)
    """

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, str]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        )
        try:
            writer.write(head.encode("ascii") + body)
            raw = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10.0)
            lines = raw.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines[1:])
            }
            await reader.readexactly(int(headers.get("content-length", "0")))
        except BaseException:
            await self.close()
            raise
        if headers.get("connection", "").lower() == "close":
            await self.close()
        return int(lines[0].split(" ", 2)[1]), headers.get("server-timing", "")

    async def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None


class HttpxPoster:
    """The same requests through a shared httpx.AsyncClient (``--client httpx``)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def post(self, path: str, body: bytes) -> tuple[int, str]:
        response = await self.client.post(
            path, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )
        return response.status_code, response.headers.get("server-timing", "")

    async def close(self) -> None:
        pass


async def person(
    poster: RawConnection | HttpxPoster,
    rng: random.Random,
    signer: LinkSigner,
    sub_ids: list[int],
    paper_ids: list[str],
    deadline: float,
    results: Results,
    think: tuple[float, float] = THINK_SECONDS,
) -> None:
    """One subscriber clicking links in their emails until the deadline."""
    await asyncio.sleep(rng.uniform(0, think[1]))  # people do not start in step
    while time.monotonic() < deadline:
        sub_id = rng.choice(sub_ids)
        if rng.random() < FEEDBACK_SHARE:
            action = rng.choice(("more", "less"))
            url = "/feedback/" + signer.sign(sub_id, action, rng.choice(paper_ids))
            body = b""
        else:
            url = "/unsubscribe/" + signer.sign(sub_id, "unsubscribe")
            body = b"List-Unsubscribe=One-Click"
        started = time.perf_counter()
        try:
            status, timing = await poster.post(url, body)
        except (OSError, asyncio.IncompleteReadError, TimeoutError, httpx.HTTPError) as exc:
            results.errors.append(f"{type(exc).__name__}: {exc}")
        else:
            results.latencies.append(time.perf_counter() - started)
            if timing.startswith("app;dur="):
                results.server_ms.append(float(timing[8:]))
            if 200 <= status < 300:
                if url.startswith("/feedback/"):
                    results.feedback_ok += 1
                else:
                    results.unsubscribed.add(sub_id)
            else:
                results.errors.append(f"HTTP {status} for {url[:30]}…")
        results.requests += 1
        await asyncio.sleep(rng.uniform(*think))
    await poster.close()


async def load(
    base: str,
    port: int,
    args: argparse.Namespace,
    sub_ids: list[int],
    paper_ids: list[str],
) -> tuple[Results, float]:
    signer = LinkSigner(SECRET)
    results = Results()
    # Idle connections expire on the client first (30 s < the server's 75 s keep-alive),
    # as browsers and proxies do; the other way round races the server's close.
    limits = httpx.Limits(
        max_connections=args.clients, max_keepalive_connections=args.clients, keepalive_expiry=30.0
    )
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=10.0) as client:
        posters = [
            RawConnection("127.0.0.1", port) if args.client == "raw" else HttpxPoster(client)
            for _ in range(args.clients)
        ]
        started = time.monotonic()
        deadline = started + args.seconds
        await asyncio.gather(
            *(
                person(
                    poster,
                    random.Random(n),
                    signer,
                    sub_ids,
                    paper_ids,
                    deadline,
                    results,
                    think=tuple(args.think),
                )
                for n, poster in enumerate(posters)
            )
        )
        elapsed = time.monotonic() - started
    return results, elapsed


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def one_run(args: argparse.Namespace) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        config_path, sub_ids, paper_ids = make_instance(Path(tmp) / "inst", args.subscribers)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        proc = start_server(config_path, port)
        try:
            wait_until_up(proc, base)
            server_cpu, client_cpu = process_cpu(proc.pid), time.process_time()
            results, elapsed = asyncio.run(load(base, port, args, sub_ids, paper_ids))
            server_cpu = process_cpu(proc.pid) - server_cpu
            client_cpu = time.process_time() - client_cpu
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        store = Store.open(load_config(config_path).store.database)
        try:
            rows = store.feedback_count(source="email")
            still_active = [
                s.id
                for s in store.subscribers()
                if s.id in results.unsubscribed and s.status != "unsubscribed"
            ]
        finally:
            store.close()
    lat = [x * 1000 for x in results.latencies]
    figures = {
        "requests": results.requests,
        "errors": len(results.errors),
        "throughput": results.requests / elapsed,
        "p50": percentile(lat, 50),
        "p95": percentile(lat, 95),
        "p99": percentile(lat, 99),
        "max": max(lat, default=float("nan")),
        "feedback_2xx": results.feedback_ok,
        "feedback_rows": rows,
        "unsubscribed": len(results.unsubscribed),
        "not_unsubscribed": len(still_active),
    }
    f = figures
    print(
        f"  {f['requests']:>6} requests in {elapsed:.1f} s · {f['throughput']:.0f} req/s"
        f" · errors {f['errors']} · p50 {f['p50']:.1f} ms · p95 {f['p95']:.1f} ms"
        f" · p99 {f['p99']:.1f} ms · max {f['max']:.1f} ms"
    )
    print(
        f"         feedback POSTs with 2xx: {results.feedback_ok}, rows in feedback: {rows}"
        f" ({'equal' if rows == results.feedback_ok else 'MISMATCH'}); "
        f"unsubscribed {len(results.unsubscribed)}, of which still active: {len(still_active)}"
    )
    per_request = server_cpu / max(results.requests, 1) * 1000
    print(
        f"         in the server (Server-Timing): p50 {percentile(results.server_ms, 50):.1f} ms"
        f" · p99 {percentile(results.server_ms, 99):.1f} ms"
        f" · max {max(results.server_ms, default=float('nan')):.1f} ms"
    )
    print(
        f"         CPU: server {server_cpu:.1f} s ({per_request:.2f} ms per request), "
        f"clients {client_cpu:.1f} s, over {elapsed:.1f} s on {os.cpu_count()} CPUs"
    )
    for error, count in Counter(results.errors).most_common(5):
        print(f"         error ×{count}: {error}")
    return figures


def machine() -> str:
    import starlette
    import uvicorn

    versions = (
        f"starlette {starlette.__version__}, uvicorn {uvicorn.__version__}, "
        f"httpx {httpx.__version__}"
    )
    return f"{machine_line()}; {versions}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--subscribers", type=int, default=300)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument(
        "--think",
        type=float,
        nargs=2,
        default=THINK_SECONDS,
        metavar=("MIN", "MAX"),
        help="think time between one client's clicks, seconds (default 0 0: back to back)",
    )
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: one lean keep-alive connection per person (default); httpx: AsyncClient",
    )
    args = parser.parse_args()
    print(machine())
    print(
        f"load: {args.clients} clients for {args.seconds:.0f} s, think time uniform "
        f"{args.think[0]}-{args.think[1]} s, {FEEDBACK_SHARE:.0%} feedback / "
        f"{1 - FEEDBACK_SHARE:.0%} unsubscribe POSTs, {args.subscribers} subscribers, "
        f"{args.client} client"
    )
    runs = []
    for n in range(1, args.runs + 1):
        print(f"run {n}:")
        runs.append(one_run(args))
    ok = all(r["errors"] == 0 and r["feedback_rows"] == r["feedback_2xx"] for r in runs)
    ok = ok and all(r["not_unsubscribed"] == 0 for r in runs)
    med = {k: statistics.median(r[k] for r in runs) for k in ("throughput", "p50", "p95", "p99")}
    print(
        f"median of {len(runs)}: {med['throughput']:.0f} req/s · p50 {med['p50']:.1f} ms · "
        f"p95 {med['p95']:.1f} ms · p99 {med['p99']:.1f} ms · "
        f"{'no errors, counts equal' if ok else 'ERRORS OR COUNT MISMATCH'}"
    )
    target = ok and med["p99"] < 200
    print(f"target (no error, p99 < 200 ms): {'met' if target else 'NOT met'}")
    sys.exit(0 if target else 1)


if __name__ == "__main__":
    main()

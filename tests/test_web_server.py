"""`digest serve` as a real process on loopback: the sign-in limit across workers and
against forged proxy headers, and slow-header clients dropped while others are served."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.run_helpers import TEST_SECRET, set_config, setup_instance

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "server test password"
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(config: Path, *args: str) -> Iterator[str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DIGEST_SECRET": TEST_SECRET, "DIGEST_ADMIN_PASSWORD": PASSWORD}
    command = [sys.executable, "-m", "digest", "--config", str(config), "serve"]
    proc = subprocess.Popen(
        [*command, "--port", str(port), *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()[1].decode()
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).text == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "digest serve did not come up"
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def instance(tmp_path: Path) -> Path:
    return setup_instance(tmp_path / "inst")


def _failed_sign_ins(base: str, count: int, headers: list[dict[str, str]]) -> list[int]:
    """``count`` wrong passwords, each on a new connection (so workers take turns)."""
    statuses = []
    cookies = httpx.Cookies()
    for n in range(count):
        with httpx.Client(base_url=base, cookies=cookies, headers=headers[n]) as client:
            token = CSRF.search(client.get("/login").text)
            assert token, "no CSRF token"
            response = client.post("/login", data={"csrf": token.group(1), "password": "nope"})
            statuses.append(response.status_code)
            cookies = client.cookies
    return statuses


def test_the_sign_in_limit_holds_across_two_workers(instance):
    for base in _serve(instance, "--workers", "2"):
        assert _failed_sign_ins(base, 7, [{}] * 7) == [401] * 5 + [429, 429]


def test_forwarded_for_headers_do_not_bypass_the_sign_in_limit(instance):
    headers = [{"X-Forwarded-For": f"203.0.113.{n}"} for n in range(7)]
    for base in _serve(instance):
        assert _failed_sign_ins(base, 7, headers) == [401] * 5 + [429, 429]


async def _slow_client(port: int, results: list[float]) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    try:
        for byte in request:
            writer.write(bytes([byte]))
            await writer.drain()
            if reader.at_eof():
                break
            try:
                if await asyncio.wait_for(reader.read(1), timeout=0.5) == b"":
                    break
            except TimeoutError:
                pass
    except ConnectionError:
        pass
    results.append(time.monotonic() - started)
    writer.close()


async def _slowloris(base: str) -> tuple[list[float], int]:
    """200 slow-header clients, and meanwhile one normal request: its status."""
    port = int(base.rsplit(":", 1)[1])
    results: list[float] = []
    slow = [asyncio.create_task(_slow_client(port, results)) for _ in range(200)]
    await asyncio.sleep(1.0)  # all 200 connected and trickling
    async with httpx.AsyncClient() as client:
        status = (await client.get(f"{base}/healthz", timeout=5)).status_code
    await asyncio.wait_for(asyncio.gather(*slow), timeout=30)
    return results, status


def test_slow_header_clients_are_dropped_while_a_normal_request_succeeds(instance):
    set_config(instance, "web", "header_timeout", "2.0")
    for base in _serve(instance):
        results, status = asyncio.run(_slowloris(base))
        assert status == 200
        assert len(results) == 200
        # Each was cut off near the 2 s header deadline, not left hanging (1000+ bytes at
        # one per 0.5 s would take over 8 minutes).
        assert max(results) < 6.0, max(results)

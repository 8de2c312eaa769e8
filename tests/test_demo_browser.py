"""`digest demo`, then the README's one command to serve it: the demo emails' links work in
a real browser (Debian's chromium through Playwright) with no secret in the environment."""

from __future__ import annotations

import html
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from digest.cli import cli
from digest.config import load_config
from digest.store import Store
from tests.browser import launch_chromium

REPO = Path(__file__).resolve().parents[1]
DEMO_BASE = "http://127.0.0.1:8000"  # the demo config's email.base_url
LINK = re.compile(r'href="(http://127\.0\.0\.1:8000/(feedback|unsubscribe)/[^"]+)"')


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_demo_links_work_when_the_demo_is_served(browser, tmp_path, monkeypatch):
    monkeypatch.delenv("DIGEST_SECRET", raising=False)
    target = tmp_path / "digest-demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(target)])
    assert result.exit_code == 0, result.output
    # The command the demo and the README give, on a free port instead of 8000.
    assert f"DIGEST_ADMIN_PASSWORD=demo digest --config {target / 'config.toml'} serve" in (
        result.output
    )
    mail = sorted((target / "outbox").glob("*/ada_at_example.org*.html"))[-1]
    links: dict[str, list[str]] = {}
    for url, kind in LINK.findall(mail.read_text(encoding="utf-8")):
        links.setdefault(kind, []).append(html.unescape(url))
    assert links.keys() == {"feedback", "unsubscribe"}, mail

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if k != "DIGEST_SECRET"}
    env["DIGEST_ADMIN_PASSWORD"] = "demo"
    command = [sys.executable, "-m", "digest", "--config", str(target / "config.toml")]
    proc = subprocess.Popen(
        [*command, "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.communicate()
            try:
                if httpx.get(f"{base}/healthz", timeout=1.0).text == "ok":
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "digest serve did not come up"
            time.sleep(0.2)
        page = browser.new_context().new_page()
        page.goto(links["feedback"][0].replace(DEMO_BASE, base))
        page.wait_for_selector("text=Thanks!")
        page.goto(links["unsubscribe"][0].replace(DEMO_BASE, base))
        page.wait_for_selector("text=Unsubscribe?")
        page.click("button:has-text('Unsubscribe')")
        page.wait_for_selector("text=You are unsubscribed")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    store = Store.open(load_config(target / "config.toml").store.database)
    ada = store.subscriber("ada@example.org")
    assert ada.status == "unsubscribed"
    assert store.feedback_count(source="email") == 1
    store.close()

"""Issue 15 end to end in headless Chromium against a real `digest serve` process.

A visitor signs up on the day's page, reads the confirmation email from the outbox, opens
its link and confirms; a real `digest run` then sends them a digest whose "view in browser"
link shows the HTML that was sent. The same sign-up for a known address shows the same page
and makes no second subscriber; a fourth sign-up for one address within a day sends no
email; a filled honeypot sends nothing. The limits are checked again against
`digest serve --workers 2`. Screenshots of every new page at 375 and 1280 px go to
test-artifacts/ (or $DIGEST_ARTIFACTS).
"""

from __future__ import annotations

import datetime as dt
import email
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlite_utils

from digest.config import load_config
from digest.transports.outbox import html_body
from tests.browser import artifacts_dir, launch_chromium
from tests.run_helpers import TEST_SECRET, invoke, set_config, setup_instance
from tests.test_web_browser import PASSWORD, _free_port, _login, _wait_until_up, _watch_console
from tests.test_web_signup import write_listings

REPO = Path(__file__).resolve().parents[1]
WIDTHS = (375, 1280)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def _serve(root: Path, workers: int) -> Iterator[tuple[Path, str]]:
    config = setup_instance(root)
    today = dt.datetime.now(dt.UTC).date().isoformat()  # the server's clock (config: UTC)
    for path in write_listings(root.parent):
        assert invoke(config, "ingest", "--date", today, str(path)).exit_code == 0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    set_config(config, "email", "base_url", json.dumps(base))
    set_config(config, "web", "signup", '"open"')
    env = {**os.environ, "DIGEST_SECRET": TEST_SECRET, "DIGEST_ADMIN_PASSWORD": PASSWORD}
    command = [
        sys.executable,
        "-m",
        "digest",
        "--config",
        str(config),
        "serve",
        "--port",
        str(port),
    ]
    command += ["--workers", str(workers)]
    proc = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        _wait_until_up(proc, base)
        yield config, base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    yield from _serve(tmp_path / "inst", workers=1)


@pytest.fixture
def served_two_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, str]]:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    yield from _serve(tmp_path / "inst2", workers=2)


def signup_mails(config: Path) -> list[Any]:
    outbox = load_config(config).delivery.outbox
    paths = sorted(
        outbox.rglob("*+signup-*.eml"),
        key=lambda p: int(p.name.rsplit("signup-", 1)[1].split(".")[0]),
    )
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default) for p in paths]


def link_in(message: Any, route: str) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(rf"(https?://\S+/{route}/\S+)", text)
    assert match, text
    return match.group(1)


def subscribers_with(config: Path, address: str) -> list[dict[str, Any]]:
    db = sqlite_utils.Database(load_config(config).store.database)
    return list(db.query("SELECT * FROM subscribers WHERE email = ?", [address]))


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots of the current page at each width."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(artifacts_dir() / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 800})


def fill_signup(page: Any, address: str, *, honeypot: str = "") -> None:
    page.fill("#email", address)
    page.fill("#name", "Ina")
    page.fill("#keywords", "program synthesis\ncode generation")
    page.select_option("#frequency", "daily")
    if honeypot:
        page.locator("#website").fill(honeypot, force=True)  # hidden from people, not bots
    page.click("form.subscribe-form button[type=submit]")
    page.wait_for_selector("h1")


def no_horizontal_scroll(page: Any) -> None:
    page.set_viewport_size({"width": 375, "height": 800})
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{page.url} scrolls sideways at 375 px by {overflow} px"
    page.set_viewport_size({"width": 1280, "height": 800})


def test_sign_up_confirm_and_view_the_digest_in_the_browser(
    browser: Any, served: tuple[Path, str]
) -> None:
    config, base = served
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    problems = _watch_console(page)

    # The day's papers with the Subscribe form, at /.
    page.goto(f"{base}/")
    assert page.locator("ol.day-list li").count() == 30  # one page
    box = page.locator(".subscribe-form .hp").bounding_box()
    assert box is not None and box["x"] < 0  # the honeypot is off screen for people
    no_horizontal_scroll(page)
    shoot(page, "signup-papers-day")
    page.goto(f"{base}/subscribe")
    no_horizontal_scroll(page)
    shoot(page, "signup-form")

    fill_signup(page, "ina@example.org")
    assert page.locator("h1").inner_text() == "Check your inbox"
    shoot(page, "signup-check-inbox")
    sent_page = page.content()

    (mail,) = signup_mails(config)
    confirm_url = link_in(mail, "confirm")
    assert subscribers_with(config, "ina@example.org") == []
    page.goto(confirm_url)
    assert page.locator("h1").inner_text() == "Confirm your subscription"
    assert subscribers_with(config, "ina@example.org") == []  # opening the link is not enough
    no_horizontal_scroll(page)
    shoot(page, "signup-confirm")
    page.click("button[type=submit]")
    page.wait_for_selector("text=You are subscribed")
    (sub,) = subscribers_with(config, "ina@example.org")
    assert sub["status"] == "active"
    assert page.locator("ol.preview-picks li").count() >= 1
    no_horizontal_scroll(page)
    shoot(page, "signup-confirmed")

    # The next run sends Ina a digest; its "view in browser" link shows that HTML.
    env = {**os.environ, "DIGEST_SECRET": TEST_SECRET}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "digest",
            "--config",
            str(config),
            "run",
            "--only",
            "ina@example.org",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr + run.stdout
    outbox = load_config(config).delivery.outbox
    (eml,) = [p for p in outbox.rglob("ina_at_example.org.eml")]
    sent_html = html_body(eml.read_bytes())  # the HTML part as it was sent
    assert sent_html is not None
    view = re.search(rb'href="([^"]*/d/[^"]+)"[^>]*>View in browser', sent_html)
    assert view, "the digest has no view-in-browser link"
    response = page.goto(view.group(1).decode())
    assert response is not None and response.status == 200
    assert response.body() == sent_html
    assert page.get_by_text("Picked for you", exact=True).count() == 1
    shoot(page, "signup-view-in-browser")

    # The same sign-up again: the same page, and no second subscriber.
    page.goto(f"{base}/subscribe")
    fill_signup(page, "ina@example.org")
    assert page.locator("h1").inner_text() == "Check your inbox"
    assert _main_text(page.content()) == _main_text(sent_page)
    assert len(subscribers_with(config, "ina@example.org")) == 1
    known = signup_mails(config)[-1]
    assert known["Subject"] == "Your digest subscription"
    assert "/preferences/" in link_in(known, "preferences")

    # Four sign-ups for one address within a day: three emails.
    before = len(signup_mails(config))
    for _ in range(4):
        page.goto(f"{base}/subscribe")
        fill_signup(page, "quota@example.org")
        assert page.locator("h1").inner_text() == "Check your inbox"
    after = signup_mails(config)[before:]
    assert [m["To"].addresses[0].addr_spec for m in after] == ["quota@example.org"] * 3

    # A bot fills the honeypot: the same page, nothing sent.
    before = len(signup_mails(config))
    page.goto(f"{base}/subscribe")
    fill_signup(page, "bot@example.org", honeypot="http://spam.example")
    assert page.locator("h1").inner_text() == "Check your inbox"
    assert len(signup_mails(config)) == before

    # The admin sees the sign-ups waiting for confirmation.
    _login(page, base)
    page.goto(f"{base}/admin/signups")
    assert page.locator("td", has_text="quota@example.org").count() == 1
    assert page.locator("td", has_text="bot@example.org").count() == 0
    shoot(page, "signup-admin-pending")
    assert problems == []
    context.close()


def _main_text(html: str) -> str:
    return re.sub(r"\s+", " ", html.split("<main", 1)[1])


def test_limits_hold_across_two_worker_processes(
    served_two_workers: tuple[Path, str],
) -> None:
    config, base = served_two_workers
    for _ in range(4):
        # A new connection each time, so the kernel spreads them over both workers.
        with httpx.Client(base_url=base, timeout=30) as client:
            form = client.get("/subscribe")
            token = CSRF.search(form.text)
            assert token
            posted = client.post(
                "/subscribe",
                data={
                    "csrf": token.group(1),
                    "email": "two@example.org",
                    "keywords": "retrieval",
                    "frequency": "daily",
                },
            )
            assert posted.status_code == 200 and "Check your inbox" in posted.text
    assert len(signup_mails(config)) == 3

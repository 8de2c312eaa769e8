"""The web UI in headless Chromium against a real `digest serve` process on loopback.

An admin signs in, edits a profile and watches the preview change before saving; then a
subscriber opens their digest email, clicks "Less like this" (its near-duplicates leave
their ranking) and unsubscribes (the next run sends them nothing). Drives Debian's chromium
through Playwright; screenshots go to test-artifacts/ (or $DIGEST_ARTIFACTS).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from digest.config import load_config
from digest.store import Store
from tests.browser import artifacts_dir, launch_chromium
from tests.run_helpers import TEST_SECRET, extra_listings, invoke, set_config, setup_instance

REPO = Path(__file__).resolve().parents[1]
SECRET = TEST_SECRET
PASSWORD = "browser test password"
# Compared in lowercase: day 5 of extra_listings brings v2 of some of these papers, whose
# lowercase titles replace day 4's (their first sighting named no version).
NEAR_DUPLICATE = "program synthesis with code generation models"
# The visible form fields that no <label for=...> (or wrapping label) names.
UNLABELLED = """[...document.querySelectorAll('input, select, textarea')]
    .filter(e => e.type !== 'hidden' && !e.hidden && e.labels.length === 0)
    .map(e => e.name || e.id)"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_until_up(proc: subprocess.Popen[bytes], base: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            out, err = proc.communicate()
            pytest.fail(f"digest serve exited with {proc.returncode}: {err.decode()}{out.decode()}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1.0).text == "ok":
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"digest serve did not answer on {base} within {timeout} s")


@pytest.fixture
def served(
    tmp_path: Path, shared_listings: list[Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, str]]:
    """A real instance (five days of listings, up to today) and `digest serve` on it."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    config = setup_instance(tmp_path / "inst")
    today = dt.datetime.now(dt.UTC).date()  # the server's clock (config: UTC)
    listings = [*shared_listings, *extra_listings(shared_listings, tmp_path)]
    for age, path in zip(range(len(listings) - 1, -1, -1), listings, strict=True):
        day = (today - dt.timedelta(days=age)).isoformat()  # all within the lookback window
        assert invoke(config, "ingest", "--date", day, str(path)).exit_code == 0
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    set_config(config, "email", "base_url", json.dumps(base))  # links in emails lead here
    env = {**os.environ, "DIGEST_SECRET": SECRET, "DIGEST_ADMIN_PASSWORD": PASSWORD}
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


def _watch_console(page: Any) -> list[str]:
    """Console errors (CSP violations among them) of a page."""
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    return problems


def _login(page: Any, base: str) -> None:
    page.goto(f"{base}/admin")
    page.wait_for_url("**/login?next=/admin")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/admin")


def _picks(page: Any) -> list[str]:
    return [t.strip() for t in page.locator("#preview-picks .pick-title").all_inner_texts()]


def _ranked(config: Path, email: str) -> list[dict[str, Any]]:
    result = invoke(config, "rank", email, "--json")
    assert result.exit_code == 0, result.output
    rows: list[dict[str, Any]] = json.loads(result.output)
    return rows


def test_admin_and_subscriber_journeys(browser, served, tmp_path):
    config, base = served
    loaded = load_config(config)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    problems = _watch_console(page)

    # The admin signs in and opens Grace from the subscriber list.
    _login(page, base)
    assert page.locator("h1").inner_text() == "Dashboard"
    page.click("nav >> text=Subscribers")
    page.click("text=grace@example.org")
    page.wait_for_selector("#preview-picks .pick-title")
    before = _picks(page)
    assert before, "the editor shows the next digest's picks"
    frame = page.frame_locator("#preview-frame")
    frame.locator("text=Picked for you").first.wait_for()
    assert before[0] in frame.locator("body").inner_text()

    # A keyword is added: the preview follows before anything is saved.
    keywords = page.input_value("#keywords")
    page.fill("#keywords", keywords + "\ncode generation^5\nprogram synthesis^5")
    page.wait_for_function(
        "before => [...document.querySelectorAll('#preview-picks .pick-title')]"
        ".map(e => e.textContent.trim()).join('|') !== before",
        arg="|".join(before),
    )
    after = _picks(page)
    assert after != before and any(NEAR_DUPLICATE in t.lower() for t in after)
    assert page.is_visible("#preview-state")  # marked unsaved
    frame.locator(".card-title", has_text=after[0]).first.wait_for()
    store = Store.open(loaded.store.database)
    grace = store.subscriber("grace@example.org")
    assert "code generation^5" not in [str(k) for k in store.profile(grace.id).keywords]

    # Paper search adds a liked paper (and the preview follows again).
    page.fill("#paper-search", "dense passage retrieval")
    page.locator("#paper-results button[data-add=liked]").first.click()
    page.wait_for_selector("#rated-papers .badge.ok")
    liked_id = page.input_value("#liked").strip()
    assert liked_id
    previewed = _picks(page)  # the rated list and the picks arrive in one response
    _artifact_shot(page, "web-editor-1280.png")

    # Saving writes the profile and its history.
    page.click("#save")
    page.wait_for_url(f"**/admin/subscribers/{grace.id}?notice=saved")
    assert page.locator(".alert.ok").inner_text().startswith("Profile saved")
    profile = store.profile(grace.id)
    assert "code generation^5" in [str(k) for k in profile.keywords]
    assert profile.liked == (liked_id,)
    change = store.profile_history(grace.id)[0]
    assert change.changed_by == "web:admin" and "+keyword code generation^5" in change.change
    assert _picks(page) == previewed  # saved, the profile ranks as its preview did

    # Ada opens her digest email and says "less like this" about the first pick.
    ranked = _ranked(config, "ada@example.org")
    near = [r for r in ranked if r["title"].lower().startswith(NEAR_DUPLICATE)]
    assert len(near) >= 3, ranked
    email_html = tmp_path / "ada.html"
    result = invoke(config, "preview", "ada@example.org", "--out", str(email_html))
    assert result.exit_code == 0, result.output
    mail = context.new_page()
    problems += _watch_console(mail)
    mail.goto(email_html.as_uri())
    first_title = mail.locator(".card-title a").first.inner_text().strip()
    assert first_title == ranked[0]["title"]
    mail.locator("text=Less like this").first.click()
    mail.wait_for_selector("text=Thanks! Fewer papers like this one.")
    assert mail.url.startswith(f"{base}/feedback/")
    ada = store.subscriber("ada@example.org")
    assert store.feedback_votes([ada.id]) == {ada.id: {ranked[0]["id"]: -1}}
    assert store.feedback_count(source="email") == 1  # one click, one vote
    still = [r["title"] for r in _ranked(config, "ada@example.org")]
    assert not [t for t in still if t.lower().startswith(NEAR_DUPLICATE)], still

    # Her preferences page (from the same email) is a labelled form too.
    mail.goto(email_html.as_uri())
    mail.locator("text=Manage preferences").first.click()
    mail.wait_for_selector("text=Your digest")
    assert mail.evaluate(UNLABELLED) == []
    assert mail.input_value("#max_papers") == "5"

    # Then she unsubscribes from the same email and confirms.
    mail.goto(email_html.as_uri())
    mail.locator("text=Unsubscribe").last.click()
    mail.wait_for_selector("text=Unsubscribe?")
    assert store.subscriber_by_id(ada.id).status == "active"  # the link alone changes nothing
    mail.click("button:has-text('Unsubscribe')")
    mail.wait_for_selector("text=You are unsubscribed")
    assert store.subscriber_by_id(ada.id).status == "unsubscribed"

    run = invoke(config, "run", "--date", dt.datetime.now(dt.UTC).date().isoformat(), "--json")
    assert run.exit_code == 0, run.output
    report = json.loads(run.output)
    recipients = {Path(p).stem for p in report["delivered"]}
    assert "ada_at_example.org" not in recipients
    assert recipients == {"grace_at_example.org", "alan_at_example.org"}

    page.goto(f"{base}/admin")  # the run is on the dashboard now
    assert page.locator("td .badge.ok").first.inner_text() == "ok"
    _artifact_shot(page, "web-dashboard-1280.png")
    _phone_shots(browser, base, grace.id)
    assert problems == []
    context.close()


def _artifact_shot(page: Any, name: str) -> None:
    # A viewport as tall as the page rather than full_page=True: Chromium leaves the
    # sandboxed (cross-origin) preview iframe unpainted below the fold in full-page captures.
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(300)  # let the iframe paint at its new place
    page.screenshot(path=str(artifacts_dir() / name))
    page.set_viewport_size(size)


def _phone_shots(browser: Any, base: str, subscriber_id: int) -> None:
    """The dashboard and the editor at phone width, where nothing may overflow sideways."""
    context = browser.new_context(viewport={"width": 375, "height": 812})
    page = context.new_page()
    _login(page, base)
    for path, name in ((f"/admin/subscribers/{subscriber_id}", "editor"), ("/admin", "dashboard")):
        page.goto(base + path)
        if name == "editor":
            page.wait_for_selector("#preview-picks .pick-title")
            page.frame_locator("#preview-frame").locator("text=Picked for you").first.wait_for()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide at 375 px"
        assert page.evaluate(UNLABELLED) == [], f"form fields without a <label> on {path}"
        _artifact_shot(page, f"web-{name}-375.png")
    context.close()

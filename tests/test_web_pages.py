"""The day's papers (/papers/DATE, /) and "view in browser" (/d/TOKEN), in process, on a
real instance: a real `digest run` into the outbox, then the page against the sent HTML."""

# The fixtures come from test_web_signup (one instance set-up for both files).
# ruff: noqa: F811

from __future__ import annotations

import datetime as dt
import email
import json
import re
from email import policy
from pathlib import Path
from typing import Any

import pytest

from digest.config import Config, load_config
from digest.tokens import LinkSigner
from digest.transports.outbox import html_body
from digest.web import create_app
from tests.run_helpers import TEST_SECRET, invoke, set_config
from tests.test_web_signup import (  # noqa: F401 - fixtures
    DAY,
    HOSTILE,
    PASSWORD,
    Clock,
    TestClient,
    client,
    clock,
    config,
    prepared,
    rows,
)


def test_day_page_lists_the_day_trending_first_escaped_and_cached(client: TestClient) -> None:
    page = client.get(f"/papers/{DAY}")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert "script-src 'self'" in page.headers["content-security-policy"]
    # The hostile listing is text, never markup; its javascript: link is not a link.
    assert HOSTILE not in page.text and "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page.text
    assert "<img src=x" not in page.text and "<i>Eve</i>" not in page.text
    assert 'href="javascript:' not in page.text
    # Most upvoted first.
    upvotes = [int(n) for n in re.findall(r"&#9650; (\d+)", page.text)]
    assert upvotes and upvotes == sorted(upvotes, reverse=True)
    assert 'action="/subscribe"' in page.text and 'name="website"' in page.text
    # Cached by the browser: an ETag, and 304 when it still has this page.
    assert page.headers["cache-control"] == "private, max-age=300"
    again = client.get(f"/papers/{DAY}", headers={"If-None-Match": page.headers["etag"]})
    assert again.status_code == 304 and again.content == b""
    # `/` shows the latest day with papers.
    home = client.get("/")
    assert home.status_code == 200 and "Monday, November 16, 2026" in home.text


def test_day_page_is_paged(client: TestClient, config: Config) -> None:
    count = rows(config, "SELECT count(*) AS n FROM papers WHERE first_seen = ?", [DAY])[0]["n"]
    assert count > 30
    first, second = client.get(f"/papers/{DAY}"), client.get(f"/papers/{DAY}?page=2")
    titles = re.compile(r'class="day-title" href="[^"]*" rel="noopener">([^<]+)<')
    one, two = titles.findall(first.text), titles.findall(second.text)
    assert len(one) == 30 and len(two) == count - 30 and not set(one) & set(two)
    assert 'href="?page=2"' in first.text and 'href="?page=3"' not in second.text


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/papers/2026-02-30", 400),
        ("/papers/yesterday", 400),
        ("/papers/0000-01-01", 400),
        ("/papers/2026-11-16?page=0", 400),
        ("/papers/2026-11-16?page=99999999999999999999999", 400),
        ("/papers/%3Cscript%3E", 400),
    ],
)
def test_bad_dates_and_pages_are_error_pages(client: TestClient, path: str, status: int) -> None:
    response = client.get(path)
    assert response.status_code == status
    assert "<script>" not in response.text and "Error" in response.text


DAY_LINKS = re.compile(r'<a href="/papers/([0-9-]+)">[^<]*(Previous|Next) day')


def day_links(html: str) -> dict[str, str]:
    """ "Previous"/"Next" → the day that link leads to."""
    return {which: day for day, which in DAY_LINKS.findall(html)}


def test_days_outside_the_store_and_pages_past_the_last_are_404(
    client: TestClient, clock: Clock
) -> None:
    # The store's only day is DAY, and it is today: nowhere to go either way.
    page = client.get(f"/papers/{DAY}")
    assert page.status_code == 200 and day_links(page.text) == {}
    for path in (
        "/papers/2026-11-17",
        "/papers/9999-12-31",
        "/papers/2026-11-15",
        "/papers/0001-01-01",
    ):
        missing = client.get(path)
        assert missing.status_code == 404, path
        assert "No such day" in missing.text and "from 2026-11-16 up to today" in missing.text
        assert "default-src 'self'" in missing.headers["content-security-policy"]
        assert 'action="/subscribe"' not in missing.text  # an error page, not a listing
    assert client.get(f"/papers/{DAY}?page=2").status_code == 200  # 31 papers: two pages
    past = client.get(f"/papers/{DAY}?page=500")
    assert past.status_code == 404 and "start at page 1" in past.text
    assert client.get(f"/papers/{DAY}?page=3").status_code == 404


def test_day_links_lead_only_to_days_with_papers(
    client: TestClient, clock: Clock, config: Config, tmp_path: Path
) -> None:
    later = tmp_path / "later.jsonl"
    later.write_text(
        json.dumps(
            {"id": "2611.97001", "title": "A later paper", "abstract": "On sparse retrieval."}
        ),
        encoding="utf-8",
    )
    result = invoke(config.path, "ingest", "--date", "2026-11-18", str(later))  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    clock.moment += dt.timedelta(days=1)  # today is 2026-11-17: the 18th is not public yet
    assert day_links(client.get(f"/papers/{DAY}").text) == {}
    assert client.get("/papers/2026-11-18").status_code == 404
    clock.moment += dt.timedelta(days=3)  # today is 2026-11-20
    assert day_links(client.get(f"/papers/{DAY}").text) == {"Next": "2026-11-18"}
    assert day_links(client.get("/papers/2026-11-18").text) == {"Previous": DAY}
    # An empty day inside the range says so, and links to the days around it with papers.
    empty = client.get("/papers/2026-11-17")
    assert empty.status_code == 200
    assert "No papers were first seen on Tuesday, November 17, 2026." in empty.text
    assert day_links(empty.text) == {"Previous": DAY, "Next": "2026-11-18"}
    today = client.get("/papers/2026-11-20")
    assert today.status_code == 200 and day_links(today.text) == {"Previous": "2026-11-18"}
    assert client.get("/papers/2026-11-21").status_code == 404
    assert client.get("/papers/2026-11-17?page=2").status_code == 404


def test_today_is_the_instance_time_zone(config: Config, clock: Clock) -> None:
    clock.moment = dt.datetime(2026, 11, 16, 23, 0, tzinfo=dt.UTC)  # the 17th east of +01:00
    for zone, status in (("UTC", 404), ("Pacific/Kiritimati", 200)):
        set_config(config.path, "schedule", "timezone", f'"{zone}"')  # type: ignore[arg-type]
        app = create_app(
            load_config(config.path),  # type: ignore[arg-type]
            secret=TEST_SECRET,
            admin_password=PASSWORD,
            now=clock,
        )
        with TestClient(app) as zoned:
            assert zoned.get("/papers/2026-11-17").status_code == status, zone


def _sent_digest(config: Config) -> tuple[Path, Any]:
    result = invoke(config.path, "run", "--date", DAY)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    eml = config.delivery.outbox / DAY / "ada_at_example.org.eml"
    return eml, email.message_from_bytes(eml.read_bytes(), policy=policy.default)  # type: ignore[arg-type]


def test_view_in_browser_shows_exactly_the_html_sent(client: TestClient, config: Config) -> None:
    eml, message = _sent_digest(config)
    html = message.get_body(("html",)).get_content()
    token = re.search(r'href="[^"]*/d/([^"]+)"[^>]*>View in browser', html)
    assert token, "no view-in-browser link in the HTML part"
    text = message.get_body(("plain",)).get_content()
    assert f"/d/{token.group(1)}" in text  # the text part carries it too
    page = client.get(f"/d/{token.group(1)}")
    assert page.status_code == 200
    assert page.content == html_body(eml.read_bytes())  # byte for byte, as it was sent
    assert page.text.splitlines() == html.splitlines()  # the same HTML the reader got
    csp = page.headers["content-security-policy"]
    assert "sandbox" in csp and "script-src" not in csp and "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer"
    assert len(page.content) < 98_000
    # The hostile listing was picked (it matches "program synthesis"), as text.
    assert "Program synthesis &lt;img src=x onerror=alert(1)&gt;" in page.text
    assert "<script>alert" not in page.text and "<img src=x" not in page.text


def test_view_tokens_cannot_be_swapped_tampered_or_outlive_a_purge(
    client: TestClient, config: Config
) -> None:
    _sent_digest(config)
    signer = LinkSigner(TEST_SECRET)
    digests = {
        r["email"]: (r["subscriber_id"], r["id"])
        for r in rows(
            config,
            "SELECT d.id, d.subscriber_id, s.email FROM digests d "
            "JOIN subscribers s ON s.id = d.subscriber_id WHERE d.status = 'sent'",
        )
    }
    (ada_sub, ada_digest), (grace_sub, grace_digest) = (
        digests["ada@example.org"],
        digests["grace@example.org"],
    )
    own = signer.sign(ada_sub, "view", str(ada_digest))
    assert client.get(f"/d/{own}").status_code == 200
    # Ada's id with Grace's digest: signed, but not hers.
    assert client.get(f"/d/{signer.sign(ada_sub, 'view', str(grace_digest))}").status_code == 403
    assert client.get(f"/d/{own[:-3]}abc").status_code == 403  # tampered
    assert (
        client.get(f"/d/{LinkSigner('x' * 40).sign(ada_sub, 'view', str(ada_digest))}").status_code
        == 403
    )
    # Another action's token (made for the same subscriber) opens nothing here.
    assert client.get(f"/d/{signer.sign(ada_sub, 'preferences')}").status_code == 403
    assert client.get(f"/d/{signer.sign(ada_sub, 'more', 'x')}").status_code == 403
    # A digest that was not sent has no page.
    assert client.get(f"/d/{signer.sign(ada_sub, 'view', str(10**6))}").status_code == 403
    purged = invoke(config.path, "subscribers", "remove", "grace@example.org", "--purge", "--yes")  # type: ignore[arg-type]
    assert purged.exit_code == 0, purged.output
    gone = client.get(f"/d/{signer.sign(grace_sub, 'view', str(grace_digest))}")
    assert gone.status_code == 410
    assert rows(config, "SELECT * FROM digest_pages WHERE digest_id = ?", [grace_digest]) == []


def test_digest_pages_are_pruned_after_their_retention(config: Config) -> None:
    _sent_digest(config)
    stored = rows(config, "SELECT count(*) AS n FROM digest_pages")[0]["n"]
    assert stored >= 2
    from digest.store import DIGEST_PAGE_DAYS, Store

    store = Store.open(config.store.database)
    try:
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=DIGEST_PAGE_DAYS + 1)
        assert store.prune_digest_pages(later - dt.timedelta(days=DIGEST_PAGE_DAYS)) == stored
    finally:
        store.close()

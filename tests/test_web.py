"""`digest serve` in process: every route over HTTP (Starlette's TestClient), on a real
instance, checking the real SQLite rows after each request."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shutil
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils
from markupsafe import escape

from digest.compose import rank_subscribers
from digest.config import Config, load_config
from digest.store import Store
from digest.tokens import LinkSigner
from digest.web import create_app
from digest.web.auth import AdminPassword, hash_password
from tests.run_helpers import TEST_SECRET, invoke, setup_instance

with warnings.catch_warnings():
    # Starlette would rather use the httpx2 fork; httpx works the same for these tests.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SECRET = TEST_SECRET
PASSWORD = "correct horse battery staple"
DAY = "2026-11-16"
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


class Clock:
    """The app's clock; tests move it."""

    def __init__(self) -> None:
        self.moment = NOW

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture(scope="module")
def instances(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Builds the instance once per module: three subscribers and the shared listings."""
    made: dict[str, Path] = {}

    def make(listings: list[Path]) -> Path:
        if "root" not in made:
            root = tmp_path_factory.mktemp("web") / "inst"
            config = setup_instance(root)
            for path in listings:
                assert invoke(config, "ingest", "--date", DAY, str(path)).exit_code == 0
            made["root"] = root
        return made["root"]

    return make


@pytest.fixture
def config(
    instances: Any, shared_listings: list[Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Config:
    """A fresh copy of the prepared instance (the fitted ranking model included)."""
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    shutil.copytree(instances(shared_listings), tmp_path / "inst")
    return load_config(tmp_path / "inst" / "config.toml")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(config: Config, clock: Clock) -> Iterator[TestClient]:
    app = create_app(config, secret=SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """The client, signed in."""
    response = login(client, PASSWORD)
    assert response.status_code == 303, response.text
    return client


@pytest.fixture
def signer() -> LinkSigner:
    return LinkSigner(SECRET)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient, password: str, next_url: str = "/admin") -> Any:
    token = csrf_of(client.get("/login").text)
    return client.post(
        "/login",
        data={"csrf": token, "password": password, "next": next_url},
        follow_redirects=False,
    )


def db_of(config: Config) -> sqlite_utils.Database:
    return sqlite_utils.Database(config.store.database)


def sub_id(config: Config, email: str) -> int:
    rows = list(db_of(config).query("SELECT id FROM subscribers WHERE email = ?", [email]))
    return int(rows[0]["id"])


def snapshot(config: Config) -> dict[str, list[dict[str, Any]]]:
    """Every row a web request could change."""
    db = db_of(config)
    return {
        table: list(db.query(f"SELECT * FROM {table} ORDER BY rowid"))
        for table in ("subscribers", "profiles", "profile_history", "feedback", "sends")
    }


def some_paper(config: Config, title_word: str = "code") -> str:
    store = Store.open(config.store.database)
    try:
        return store.search_papers(title_word, limit=1)[0].id
    finally:
        store.close()


# --- sign-in ----------------------------------------------------------------------------------


ADMIN_GETS = [
    "/admin",
    "/admin/subscribers",
    "/admin/subscribers/new",
    "/admin/subscribers/1",
    "/admin/subscribers/1/purge",
    "/admin/subscribers/1/history",
    "/admin/preview/somekey",
    "/admin/papers",
    "/admin/papers/search?q=code",
    "/admin/papers/2305.07922",
    "/admin/listings",
]
ADMIN_POSTS = [
    ("/logout", {}),
    ("/admin/subscribers/new", {"email": "eve@example.org"}),
    ("/admin/subscribers/1", {"keywords": "nothing", "max_papers": "3"}),
    ("/admin/subscribers/1/preview", {"keywords": "x", "max_papers": "3"}),
    ("/admin/subscribers/1/status", {"action": "unsubscribe"}),
    ("/admin/subscribers/1/purge", {"confirm_email": "ada@example.org"}),
    ("/admin/subscribers/1/history/1/restore", {}),
]


@pytest.mark.parametrize("path", ADMIN_GETS)
def test_admin_pages_redirect_to_login_when_logged_out(client, path):
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login?next=/admin") or path == "/logout"


def test_admin_posts_when_logged_out_redirect_and_change_nothing(client, config):
    before = snapshot(config)
    for path, data in ADMIN_POSTS:
        response = client.post(path, data=data, follow_redirects=False)
        assert (response.status_code, response.headers["location"]) == (303, "/login"), path
    assert snapshot(config) == before


def test_login_then_pages_open_and_next_is_honoured(client):
    response = login(client, PASSWORD, next_url="/admin/listings")
    assert (response.status_code, response.headers["location"]) == (303, "/admin/listings")
    assert client.get("/admin/listings").status_code == 200
    # Signed in, the login page sends the admin on.
    assert client.get("/login", follow_redirects=False).headers["location"] == "/admin"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/admin", "/unsubscribe/x"]
)
def test_login_next_only_goes_to_admin_pages(client, target):
    response = login(client, PASSWORD, next_url=target)
    assert response.headers["location"] == "/admin"


def test_login_without_csrf_token_is_refused(client):
    client.get("/login")
    response = client.post("/login", data={"csrf": "forged", "password": PASSWORD})
    assert response.status_code == 403
    assert client.get("/admin", follow_redirects=False).status_code == 303


def test_failed_logins_are_rate_limited_per_client(client, clock):
    for _ in range(5):
        response = login(client, "wrong")
        assert response.status_code == 401
        assert "Wrong password." in response.text
    limited = login(client, PASSWORD)  # even the right password, while limited
    assert limited.status_code == 429
    assert int(limited.headers["Retry-After"]) == 300
    assert "Too many failed sign-ins; try again in 300 seconds." in limited.text
    clock.moment += dt.timedelta(seconds=120)
    assert login(client, PASSWORD).headers["Retry-After"] == "180"
    clock.moment += dt.timedelta(seconds=181)
    assert login(client, PASSWORD).status_code == 303


def test_a_pbkdf2_hash_is_accepted_as_the_admin_password(config, clock):
    hashed = hash_password(PASSWORD, iterations=1000)
    with TestClient(create_app(config, secret=SECRET, admin_password=hashed, now=clock)) as c:
        assert login(c, hashed).status_code == 401  # the hash itself is not the password
        assert login(c, PASSWORD).status_code == 303


def test_the_hash_helper_prints_a_hash_that_signs_in(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "digest.web.auth"],
        input="s3cret passphrase\ns3cret passphrase\n",
        capture_output=True,
        text=True,
        start_new_session=True,  # no terminal: getpass reads stdin
        timeout=60,
        check=True,
    )
    hashed = result.stdout.strip()
    assert hashed.startswith("pbkdf2_sha256$600000$")
    password = AdminPassword.parse(hashed, env_name="DIGEST_ADMIN_PASSWORD")
    assert password.check("s3cret passphrase") and not password.check("s3cret passphras")
    short = subprocess.run(
        [sys.executable, "-m", "digest.web.auth"],
        input="s3cret pass\ns3cret pass\n",
        capture_output=True,
        text=True,
        start_new_session=True,
        timeout=60,
    )
    assert short.returncode == 1 and short.stdout == ""
    assert short.stderr.splitlines()[-1] == "a password of at least 12 characters, please"


def test_the_session_cookie_is_strict_and_secure_behind_https(config, clock):
    with TestClient(create_app(config, secret=SECRET, admin_password=PASSWORD, now=clock)) as c:
        cookie = c.get("/login").headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    https = dataclasses.replace(
        config, email=dataclasses.replace(config.email, base_url="https://digest.example.org")
    )
    with TestClient(create_app(https, secret=SECRET, admin_password=PASSWORD, now=clock)) as c:
        response = c.get("/login")
        assert "; secure" in response.headers["set-cookie"].lower()
        assert response.headers["strict-transport-security"] == "max-age=31536000"


def test_logout_ends_the_session(admin):
    token = csrf_of(admin.get("/admin").text)
    response = admin.post("/logout", data={"csrf": token}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert admin.get("/admin", follow_redirects=False).status_code == 303


def test_serve_needs_both_secrets_and_says_which(config, monkeypatch):
    monkeypatch.delenv("DIGEST_ADMIN_PASSWORD", raising=False)
    result = invoke(config.path, "serve", "--port", "1")
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {config.path}: web.admin_password_env names the environment variable "
        "DIGEST_ADMIN_PASSWORD, which is not set; export DIGEST_ADMIN_PASSWORD=... before "
        "running this command\n"
    )
    monkeypatch.setenv("DIGEST_ADMIN_PASSWORD", "pw")
    monkeypatch.setenv("DIGEST_SECRET", "a")
    result = invoke(config.path, "serve")
    assert result.exit_code == 1
    assert result.output == (
        "Error: the environment variable DIGEST_SECRET: the link secret is 1 byte, too short "
        "to be safe; use 32 or more, e.g. the output of "
        '`python -c "import secrets; print(secrets.token_urlsafe(32))"`\n'
    )
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("DIGEST_ADMIN_PASSWORD", "pbkdf2_sha256$x$salt$hash")
    result = invoke(config.path, "serve")
    assert result.exit_code == 1
    assert "DIGEST_ADMIN_PASSWORD looks like a pbkdf2_sha256 hash but is malformed" in result.output


# --- dashboard, papers, listings -----------------------------------------------------------------


def test_dashboard_shows_a_run_whose_process_is_gone_as_interrupted(admin, config):
    """A run recorded as running while nobody holds the run lock (killed, say) is shown
    as interrupted, not as running until the next run."""
    store = Store.open(config.store.database)
    try:
        store.start_run(
            digest_date=dt.date(2026, 11, 16),
            trigger="cli",
            transport="outbox",
            dry_run=False,
            now=NOW,
            pid=999999,
        )
    finally:
        store.close()
    page = admin.get("/admin").text
    assert '<span class="badge interrupted">interrupted</span>' in page
    assert "the process is gone (killed or crashed); the next run finishes its work" in page
    assert "badge running" not in page


def test_dashboard_papers_and_paper_page_show_runs_sends_and_feedback(admin, config, signer):
    assert invoke(config.path, "run", "--date", DAY).exit_code == 0
    db = db_of(config)
    page = admin.get("/admin").text
    assert "#1" in page and DAY in page
    assert f"{db['papers'].count}</div>" in page  # papers stored
    assert re.search(r"badge active\">active</span></a><span class=\"count\">3<", page)
    sent = next(iter(db.query("SELECT paper_id, subscriber_id FROM sends LIMIT 1")))
    token = signer.sign(sent["subscriber_id"], "less", sent["paper_id"], issued_at=NOW)
    assert admin.post(f"/feedback/{token}").status_code == 200

    paper = admin.get(f"/admin/papers/{sent['paper_id']}").text
    email = next(
        iter(db.query("SELECT email FROM subscribers WHERE id = ?", [sent["subscriber_id"]]))
    )
    assert paper.count(email["email"]) == 2  # in "Sent to" and in "Feedback"
    assert "less like this" in paper

    listing = admin.get("/admin/papers").text
    assert listing.count('<a href="/admin/papers/') == 50 and "Older →" in listing
    assert "Page 2" in admin.get("/admin/papers?page=2").text
    found = admin.get("/admin/papers?q=program+synthesis").text
    assert "Best matches for “program synthesis”" in found
    assert admin.get("/admin/papers/no-such-paper").status_code == 404


def test_paper_search_fragment_offers_like_and_dislike(admin):
    html = admin.get("/admin/papers/search?q=retrieval").text
    assert 'data-add="liked"' in html and 'data-add="disliked"' in html
    assert "No paper matches “zzzqqq”." in admin.get("/admin/papers/search?q=zzzqqq").text


def test_listings_page_shows_failed_files_with_their_error(admin, config, tmp_path):
    bad = tmp_path / "broken.json"
    bad.write_text("[{]", encoding="utf-8")
    invoke(config.path, "ingest", str(bad))
    page = admin.get("/admin/listings?status=failed").text
    assert "broken.json" in page and "failed-row" in page
    error = next(iter(db_of(config).query("SELECT error FROM listings WHERE status = 'failed'")))
    assert str(escape(error["error"])) in page
    assert page.count("<tr") == 2  # the header and the one failed file
    assert admin.get("/admin/listings").text.count("badge ingested") == 3


# --- subscribers --------------------------------------------------------------------------------


def test_subscribers_list_searches_and_filters(admin, config):
    page = admin.get("/admin/subscribers").text
    assert all(e in page for e in ("ada@example.org", "grace@example.org", "alan@example.org"))
    page = admin.get("/admin/subscribers?q=grac").text
    assert "grace@example.org" in page and "ada@example.org" not in page
    Store.open(config.store.database).set_status_by_id(1, "paused", now=NOW)
    page = admin.get("/admin/subscribers?status=paused").text
    assert "ada@example.org" in page and "grace@example.org" not in page


def test_add_subscriber_validates_and_records_history(admin, config):
    token = csrf_of(admin.get("/admin/subscribers/new").text)
    bad = admin.post("/admin/subscribers/new", data={"csrf": token, "email": "not-an-email"})
    assert bad.status_code == 422
    assert "&#39;not-an-email&#39; is not a valid email address" in bad.text
    again = admin.post("/admin/subscribers/new", data={"csrf": token, "email": "ADA@example.org"})
    assert again.status_code == 422 and "ada@example.org is already a subscriber" in again.text
    response = admin.post(
        "/admin/subscribers/new",
        data={
            "csrf": token,
            "email": "Eve@Example.org",
            "name": "Eve",
            "keywords": "rag^2\nagents",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    new_id = sub_id(config, "eve@example.org")
    assert response.headers["location"] == f"/admin/subscribers/{new_id}?notice=added"
    history = list(
        db_of(config).query("SELECT * FROM profile_history WHERE subscriber_id = ?", [new_id])
    )
    assert [h["changed_by"] for h in history] == ["web:admin"]
    assert "+keyword rag^2" in history[0]["change"]


def _editor_form(page: str, **changes: str) -> dict[str, str]:
    """The editor's fields as the page shows them, with ``changes``."""
    form = {"csrf": csrf_of(page)}
    for name in ("name", "timezone", "max_papers", "min_score", "preview_date"):
        form[name] = re.search(rf'name="{name}" [^>]*value="([^"]*)"', page).group(1)
    for name in ("keywords", "exclude", "liked", "disliked", "description"):
        form[name] = re.search(rf'name="{name}"[^>]*>([^<]*)</textarea>', page).group(1)
    for name in ("frequency", "quiet_day"):
        block = re.search(rf'name="{name}">(.*?)</select>', page, re.S).group(1)
        form[name] = re.search(r'value="([^"]+)" selected', block).group(1)
    form.update(changes)
    return form


def _pick_titles(html: str) -> list[str]:
    return re.findall(r'class="pick-title" href="[^"]+">([^<]+)</a>', html)


def test_editor_shows_the_rankers_picks_and_the_rendered_email(admin, config):
    page = admin.get("/admin/subscribers/1")
    assert page.status_code == 200
    store = Store.open(config.store.database)
    ada = store.subscriber("ada@example.org")
    ranking = rank_subscribers(store, config, [ada], today=dt.date.fromisoformat(DAY))
    expected = [str(escape(p.title)) for p, _ in ranking.papers_for(ada.id)]
    assert _pick_titles(page.text) == expected and len(expected) == 5
    frame_url = re.search(r'id="preview-frame"[^>]* src="(/admin/preview/[^"]+)"', page.text).group(
        1
    )
    frame = admin.get(frame_url)
    assert frame.status_code == 200
    assert expected[0] in frame.text and "Less like this" in frame.text
    assert "frame-ancestors 'self'" in frame.headers["content-security-policy"]
    assert "sandbox" in frame.headers["content-security-policy"]
    assert frame.headers["x-frame-options"] == "SAMEORIGIN"
    assert admin.get("/admin/preview/unknown").status_code == 404
    assert admin.get("/admin/subscribers/999").status_code == 404


def test_preview_ranks_the_unsaved_profile_and_saves_nothing(admin, config):
    page = admin.get("/admin/subscribers/1").text
    before = snapshot(config)
    form = _editor_form(page, keywords="question answering^3\ndense passage retrieval")
    response = admin.post("/admin/subscribers/1/preview", data=form)
    assert response.status_code == 200
    data = response.json()
    assert data["ok"] is True
    titles = _pick_titles(data["picks_html"])
    assert titles and titles != _pick_titles(page)
    assert any("retriev" in t.lower() or "question" in t.lower() for t in titles)
    assert data["summary"].endswith(f"candidate papers for {DAY}")
    assert data["frame_url"].startswith("/admin/preview/")
    assert snapshot(config) == before

    bad = admin.post("/admin/subscribers/1/preview", data={**form, "keywords": "rag^99"})
    assert bad.status_code == 422
    assert bad.json() == {
        "ok": False,
        "error": "profile (ada@example.org): keyword 'rag^99': weight must be above 0 and at most "
        "10, e.g. rag^2",
    }
    unknown = admin.post("/admin/subscribers/1/preview", data={**form, "liked": "no such paper"})
    assert "liked paper 'no such paper' is not in the store" in unknown.json()["error"]


def test_editor_summary_agrees_with_the_preview_on_a_quiet_day(admin, config):
    """Issue 14, item 10: with quiet_day "note" the summary says a note is sent, as shown."""
    page = admin.get("/admin/subscribers/1").text
    nothing = {"keywords": "zzzunmatchable", "liked": "", "min_score": "0.99"}
    for quiet_day, said in (
        ("note", "a short note is sent that day."),
        ("skip", "no email that day."),
    ):
        form = _editor_form(page, quiet_day=quiet_day, **nothing)
        data = admin.post("/admin/subscribers/1/preview", data=form).json()
        assert data["ok"] is True and _pick_titles(data["picks_html"]) == []
        assert said in data["picks_html"]
        assert "Nothing above the threshold among " in data["picks_html"]
        frame = admin.get(data["frame_url"]).text
        assert "Nothing matched today" in frame


def test_save_writes_history_and_restore_brings_the_old_profile_back(admin, config):
    page = admin.get("/admin/subscribers/1").text
    liked = some_paper(config, "retrieval")
    form = _editor_form(page, keywords="agents^2", liked=liked, max_papers="7", min_score="")
    response = admin.post("/admin/subscribers/1", data=form, follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (
        303,
        "/admin/subscribers/1?notice=saved",
    )
    store = Store.open(config.store.database)
    assert [str(k) for k in store.profile(1).keywords] == ["agents^2"]
    assert store.profile(1).liked == (liked,)
    assert store.subscriber_by_id(1).max_papers == 7
    history = store.profile_history(1)
    assert history[0].changed_by == "web:admin" and "+keyword agents^2" in history[0].change

    page = admin.get("/admin/subscribers/1/history").text
    assert "+keyword agents^2" in page
    first = history[-1].version
    token = csrf_of(page)
    restored = admin.post(
        f"/admin/subscribers/1/history/{first}/restore",
        data={"csrf": token},
        follow_redirects=False,
    )
    assert restored.headers["location"] == "/admin/subscribers/1?notice=restored"
    assert [str(k) for k in store.profile(1).keywords] == [
        "code generation",
        "program synthesis^2",
        "code representation",
    ]
    assert store.profile_history(1)[0].changed_by == "web:admin"
    missing = admin.post("/admin/subscribers/1/history/9999/restore", data={"csrf": token})
    assert missing.status_code == 404

    invalid = admin.post("/admin/subscribers/1", data={**form, "max_papers": "lots"})
    assert invalid.status_code == 422
    assert "papers per email must be a whole number" in invalid.text
    assert store.subscriber_by_id(1).max_papers == 7


def test_a_bad_csrf_token_is_refused_and_changes_nothing(admin, config):
    before = snapshot(config)
    for path, data in ADMIN_POSTS:
        for token in ("", "not-the-token"):
            response = admin.post(path, data={**data, "csrf": token}, follow_redirects=False)
            assert response.status_code == 403, path
            assert "nothing was changed" in response.text
    assert snapshot(config) == before
    assert admin.get("/admin", follow_redirects=False).status_code == 200  # still signed in


def test_resuming_someone_who_unsubscribed_asks_first(admin, config):
    """Issue 14, item 8: the admin's resume does not silently undo an unsubscribe."""
    store = Store.open(config.store.database)
    on = dt.datetime(2026, 11, 2, 9, tzinfo=dt.UTC)
    store.set_status_by_id(2, "unsubscribed", now=on, by="web:subscriber")
    email = store.subscriber_by_id(2).email
    token = csrf_of(admin.get("/admin/subscribers/2").text)
    asked = admin.post(
        "/admin/subscribers/2/status",
        data={"csrf": token, "action": "resume"},
        follow_redirects=False,
    )
    assert asked.status_code == 200
    assert (
        f"{email} unsubscribed on 2026-11-02 (their own choice via the unsubscribe link)."
        in asked.text
    )
    assert 'name="confirm" value="yes"' in asked.text
    assert store.subscriber_by_id(2).status == "unsubscribed"

    confirmed = admin.post(
        "/admin/subscribers/2/status",
        data={"csrf": csrf_of(asked.text), "action": "resume", "confirm": "yes"},
        follow_redirects=False,
    )
    assert confirmed.headers["location"] == "/admin/subscribers/2?notice=active"
    assert store.status_change(2).status == "active"
    assert store.status_change(2).changed_by == "web:admin"


def test_pause_resume_unsubscribe_and_purge(admin, config):
    token = csrf_of(admin.get("/admin/subscribers/2").text)
    store = Store.open(config.store.database)
    for action, status in (
        ("pause", "paused"),
        ("resume", "active"),
        ("unsubscribe", "unsubscribed"),
    ):
        response = admin.post(
            "/admin/subscribers/2/status",
            data={"csrf": token, "action": action},
            follow_redirects=False,
        )
        assert response.headers["location"] == f"/admin/subscribers/2?notice={status}"
        assert store.subscriber_by_id(2).status == status
    odd = admin.post("/admin/subscribers/2/status", data={"csrf": token, "action": "delete"})
    assert odd.status_code == 400

    email = store.subscriber_by_id(2).email
    assert "Type the email address to confirm" in admin.get("/admin/subscribers/2/purge").text
    wrong = admin.post("/admin/subscribers/2/purge", data={"csrf": token, "confirm_email": "x"})
    assert wrong.status_code == 422 and store.subscriber_by_id(2).email == email
    gone = admin.post(
        "/admin/subscribers/2/purge",
        data={"csrf": token, "confirm_email": email.upper()},
        follow_redirects=False,
    )
    assert gone.headers["location"] == "/admin/subscribers?notice=purged"
    assert list(db_of(config).query("SELECT * FROM subscribers WHERE id = 2")) == []
    assert list(db_of(config).query("SELECT * FROM profile_history WHERE subscriber_id = 2")) == []


def test_everything_shown_is_escaped(admin, config):
    evil = "<script>alert(1)</script>"
    store = Store.open(config.store.database)
    store.update_subscriber("ada@example.org", now=NOW, name=evil)
    for path in ("/admin/subscribers", "/admin/subscribers/1"):
        html = admin.get(path).text
        assert evil not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert evil not in admin.get(f"/admin/subscribers?q={evil}").text

    paper_id = some_paper(config)
    db_of(config).execute("UPDATE papers SET url = 'javascript:alert(1)' WHERE id = ?", [paper_id])
    page = admin.get(f"/admin/papers/{paper_id}").text
    assert "javascript:alert(1)" in page and 'href="javascript:' not in page


# --- subscriber links ---------------------------------------------------------------------------


def test_unsubscribe_get_asks_and_the_one_click_post_unsubscribes(client, config, signer):
    token = signer.sign(1, "unsubscribe", issued_at=NOW - dt.timedelta(days=3000))
    page = client.get(f"/unsubscribe/{token}")
    assert page.status_code == 200
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    store = Store.open(config.store.database)
    assert store.subscriber_by_id(1).status == "active"  # a GET (a scanner) changes nothing

    refused = client.post(f"/unsubscribe/{token}", data={"something": "else"})
    assert refused.status_code == 400 and store.subscriber_by_id(1).status == "active"

    # RFC 8058: what a mailbox provider sends, with no cookie and no CSRF token.
    response = client.post(
        f"/unsubscribe/{token}",
        content=b"List-Unsubscribe=One-Click",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200 and "You are unsubscribed" in response.text
    assert store.subscriber_by_id(1).status == "unsubscribed"
    again = client.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and store.subscriber_by_id(1).status == "unsubscribed"
    assert "You are already unsubscribed" in client.get(f"/unsubscribe/{token}").text
    assert store.subscriber_by_id(2).status == "active"

    # RFC 8058 prefers multipart/form-data for the same one field.
    other = signer.sign(2, "unsubscribe", issued_at=NOW)
    multipart = client.post(
        f"/unsubscribe/{other}", files={"List-Unsubscribe": (None, "One-Click")}
    )
    assert multipart.status_code == 200 and "You are unsubscribed" in multipart.text
    assert store.subscriber_by_id(2).status == "unsubscribed"


def test_feedback_get_records_nothing_and_each_post_records_the_tokens_vote(client, config, signer):
    paper_id = some_paper(config)
    token = signer.sign(1, "less", paper_id, issued_at=NOW)
    page = client.get(f"/feedback/{token}")
    assert page.status_code == 200
    assert '<script src="/static/feedback.js" defer></script>' in page.text
    assert "data-autosubmit" in page.text and "<noscript>" in page.text
    assert db_of(config)["feedback"].count == 0

    for _ in range(2):  # the same link twice: two rows, one effective vote
        done = client.post(f"/feedback/{token}")
        assert done.status_code == 200 and "Thanks! Fewer papers like this one." in done.text
        assert "feedback.js" not in done.text
    rows = list(db_of(config).query("SELECT subscriber_id, paper_id, vote, source FROM feedback"))
    assert rows == [{"subscriber_id": 1, "paper_id": paper_id, "vote": -1, "source": "email"}] * 2
    store = Store.open(config.store.database)
    assert store.feedback_votes([1]) == {1: {paper_id: -1}}

    more = signer.sign(1, "more", paper_id, issued_at=NOW)
    assert "More papers like this one." in client.post(f"/feedback/{more}").text
    assert store.feedback_votes([1]) == {1: {paper_id: 1}}


def test_preferences_change_delivery_and_topics(client, config, signer):
    token = signer.sign(2, "preferences", issued_at=NOW)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and "retrieval^2" in page.text
    form = {
        "csrf": csrf_of(page.text),
        "frequency": "weekly:fri",
        "max_papers": "3",
        "keywords": "dense retrieval^2\nreranking",
        "exclude": "vision",
        "quiet_day": "note",
        "pause": "1",
    }
    response = client.post(f"/preferences/{token}", data=form)
    assert response.status_code == 200 and "Saved." in response.text
    store = Store.open(config.store.database)
    grace = store.subscriber_by_id(2)
    assert (grace.frequency, grace.max_papers, grace.quiet_day, grace.status) == (
        "weekly:fri",
        3,
        "note",
        "paused",
    )
    assert [str(k) for k in store.profile(2).keywords] == ["dense retrieval^2", "reranking"]
    assert store.profile(2).exclude == ("vision",)
    assert store.profile_history(2)[0].changed_by == "web:subscriber"

    invalid = client.post(f"/preferences/{token}", data={**form, "max_papers": "0"})
    assert invalid.status_code == 422
    assert "max_papers is 0; expected 1 to 50" in invalid.text
    resumed = client.post(
        f"/preferences/{token}", data={k: v for k, v in form.items() if k != "pause"}
    )
    assert resumed.status_code == 200 and store.subscriber_by_id(2).status == "active"


def test_preferences_csrf_is_tied_to_the_link(client, config, signer):
    mine = signer.sign(1, "preferences", issued_at=NOW)
    theirs = signer.sign(2, "preferences", issued_at=NOW)
    their_csrf = csrf_of(client.get(f"/preferences/{theirs}").text)
    before = snapshot(config)
    form = {"frequency": "weekly:mon", "max_papers": "1", "keywords": "x", "quiet_day": "skip"}
    for csrf in (their_csrf, "", "made-up"):
        response = client.post(f"/preferences/{mine}", data={**form, "csrf": csrf})
        assert response.status_code == 403
    assert snapshot(config) == before


def _tampered(token: str) -> str:
    return token[:-2] + ("AA" if token[-2:] != "AA" else "BB")


def _spliced(token_a: str, token_b: str) -> str:
    """A's payload with B's signature."""
    return token_a.rsplit(".", 1)[0] + "." + token_b.rsplit(".", 1)[1]


def test_bad_tokens_get_4xx_and_change_nothing(client, config, signer):
    paper_id = some_paper(config)
    unsub_a = signer.sign(1, "unsubscribe", issued_at=NOW)
    unsub_b = signer.sign(2, "unsubscribe", issued_at=NOW)
    less_a = signer.sign(1, "less", paper_id, issued_at=NOW)
    prefs_a = signer.sign(1, "preferences", issued_at=NOW)
    old = NOW - dt.timedelta(days=181)
    cases = [
        ("/unsubscribe/", _tampered(unsub_a), 403),
        ("/unsubscribe/", _spliced(unsub_b, unsub_a), 403),  # B's id, A's signature
        ("/unsubscribe/", less_a, 403),  # a feedback token is not an unsubscribe token
        ("/unsubscribe/", prefs_a, 403),
        ("/feedback/", unsub_a, 403),
        ("/feedback/", _tampered(less_a), 403),
        ("/feedback/", LinkSigner("another-instance").sign(1, "less", paper_id), 403),
        ("/feedback/", signer.sign(1, "less", paper_id, issued_at=old), 410),  # too old
        ("/feedback/", signer.sign(1, "less", "no-such-paper", issued_at=NOW), 410),
        ("/preferences/", unsub_a, 403),
        (
            "/preferences/",
            signer.sign(1, "preferences", issued_at=old - dt.timedelta(days=200)),
            410,
        ),
        (
            "/unsubscribe/",
            signer.sign(999, "unsubscribe", issued_at=NOW),
            410,
        ),  # no such subscriber
        ("/feedback/", "garbage", 403),
    ]
    before = snapshot(config)
    body = {"List-Unsubscribe": "One-Click", "frequency": "weekly:mon", "max_papers": "1"}
    for prefix, token, status in cases:
        for method in ("GET", "POST"):
            response = client.request(
                method, prefix + token, data=body if method == "POST" else None
            )
            assert response.status_code == status, (prefix, token, method, response.text[:300])
            assert response.headers["referrer-policy"] == "no-referrer"
    assert snapshot(config) == before


def test_links_of_a_purged_subscriber_are_gone(client, config, signer):
    token = signer.sign(3, "unsubscribe", issued_at=NOW)
    feedback = signer.sign(3, "more", some_paper(config), issued_at=NOW)
    Store.open(config.store.database).remove_subscriber("alan@example.org", purge=True, now=NOW)
    for url in (f"/unsubscribe/{token}", f"/feedback/{feedback}"):
        response = client.post(url, data={"List-Unsubscribe": "One-Click"})
        assert response.status_code == 410
        assert "This subscription no longer exists" in response.text
    assert db_of(config)["feedback"].count == 0


# --- headers, static files, odds and ends ---------------------------------------------------------


def test_security_headers_on_every_kind_of_response(admin, signer):
    token = signer.sign(1, "preferences", issued_at=NOW)
    for path in ("/admin", "/login", f"/preferences/{token}", "/static/style.css", "/nope"):
        response = admin.get(path)
        headers = response.headers
        csp = headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, path
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["server-timing"].startswith("app;dur=")
        expected = "no-referrer" if path.startswith("/preferences/") else "same-origin"
        assert headers["referrer-policy"] == expected, path
    assert "<script>" not in admin.get("/admin/subscribers/1").text  # no inline scripts


def test_static_files_health_and_home(client):
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    js = client.get("/static/feedback.js")
    assert "javascript" in js.headers["content-type"] and "form.submit()" in js.text
    assert "fetch(" in client.get("/static/admin.js").text
    assert client.get("/healthz").text == "ok"
    assert client.get("/", follow_redirects=False).headers["location"] == "/admin"
    assert client.get("/static/../digest.db").status_code == 404
    wrong_method = client.get("/logout")
    assert wrong_method.status_code == 405 and "Method not allowed" in wrong_method.text


def test_oversized_bodies_are_refused(admin):
    token = csrf_of(admin.get("/admin").text)
    response = admin.post(
        "/admin/subscribers/1/preview", data={"csrf": token, "description": "x" * 400_000}
    )
    assert response.status_code == 413


def test_pages_are_usable_on_phones(client):
    html = client.get("/login").text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert '<label for="password">' in html


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/admin/papers?page=99999999999999999999", 400),
        ("/admin/papers?page=-1", 400),
        ("/admin/subscribers/99999999999999999999999", 404),
        ("/admin/subscribers/9223372036854775807", 404),
        ("/admin/subscribers/abc", 404),
        ("/admin/subscribers/99999999999999999999999/history", 404),
    ],
)
def test_huge_numbers_in_urls_are_not_500(admin: TestClient, path: str, status: int) -> None:
    assert admin.get(path).status_code == status


def test_forms_offer_the_server_limit_of_papers(admin: TestClient, config: Config) -> None:
    from digest.records import MAX_PAPERS

    page = admin.get(f"/admin/subscribers/{sub_id(config, 'ada@example.org')}").text
    assert f'name="max_papers" min="1" max="{MAX_PAPERS}"' in page


def test_serve_on_a_taken_port_is_one_line_before_listening(config, monkeypatch):
    import socket

    monkeypatch.setenv("DIGEST_ADMIN_PASSWORD", "pw")
    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        result = invoke(config.path, "serve", "--host", "127.0.0.1", "--port", str(port))
    finally:
        taken.close()
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use); stop what uses it "
        "or choose another port with --port\n"
    )


def test_serving_beyond_loopback_needs_a_long_admin_password(config, monkeypatch):
    """A short clear-text password is fine on 127.0.0.1 (the demo's "demo"), but refused,
    before anything listens, on an address others can reach."""
    from digest.web.auth import hash_password, short_password_problem
    from digest.web.server import is_loopback

    monkeypatch.setenv("DIGEST_SECRET", SECRET)
    monkeypatch.setenv("DIGEST_ADMIN_PASSWORD", "pw")
    result = invoke(config.path, "serve", "--host", "0.0.0.0", "--port", "1")
    assert result.exit_code == 1
    assert result.output == (
        "Error: DIGEST_ADMIN_PASSWORD is 2 characters: serving beyond this machine needs an "
        "admin password of at least 12 (or serve on 127.0.0.1)\n"
    )
    assert [is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "127.3.4.5")] == [True] * 4
    assert [is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.2", "example.org")] == [False] * 4
    env = "DIGEST_ADMIN_PASSWORD"
    assert short_password_problem("eleven char", env_name=env) is not None
    assert short_password_problem("twelve chars", env_name=env) is None
    assert short_password_problem(hash_password("pw", iterations=1), env_name=env) is None


def test_the_papers_list_labels_a_library_imports_reference_papers(admin, config):
    """A reference paper (stored by a library import, never sent) says so in the list."""
    from digest.records import PaperRecord

    store = Store.open(config.store.database)
    (stored,) = store.store_reference_papers(
        [PaperRecord("Diffusion transformers for speech synthesis", "", arxiv_id="2601.01234")],
        day=dt.date(2099, 1, 1),  # newest first: on the first page
        now=dt.datetime(2099, 1, 1, tzinfo=dt.UTC),
    )
    store.close()
    assert stored == "2601.01234"
    rows = admin.get("/admin/papers").text.split("<tr>")[2:]
    labelled = [row for row in rows if ">reference</span>" in row]
    assert len(labelled) == 1 and "2601.01234" in labelled[0]
    assert len(rows) > 1  # the listed papers beside it carry no label
    assert "from a library import: used to rank" in admin.get("/admin/papers/2601.01234").text


def test_a_feedback_link_to_a_paper_that_got_its_arxiv_id_still_records_the_vote(
    client, config, signer, tmp_path
):
    """Found by a fresh tester: an email links a title-only paper by its title hash; once a
    listing gives the paper its arXiv id, the link answered 410 and the vote was lost. The
    old id names the paper for good (paper_aliases)."""
    title = "Zebrafish cardiomyocyte regeneration atlas of the web alias test"
    first, second = tmp_path / "page.jsonl", tmp_path / "arxiv.jsonl"
    first.write_text(f'{{"title": "{title}", "abstract": "We map regeneration."}}\n')
    second.write_text(f'{{"id": "2611.99901v1", "title": "{title}", "abstract": "Map."}}\n')
    assert invoke(config.path, "ingest", "--date", DAY, str(first)).exit_code == 0
    (old_id,) = [r["id"] for r in db_of(config)["papers"].rows_where("title = ?", [title])]
    assert old_id.startswith("t:")
    assert invoke(config.path, "ingest", "--date", DAY, str(second)).exit_code == 0
    token = signer.sign(1, "more", old_id, issued_at=NOW)  # as the earlier email has it
    assert client.get(f"/feedback/{token}").status_code == 200
    done = client.post(f"/feedback/{token}")
    assert done.status_code == 200 and "More papers like this one." in done.text
    rows = list(db_of(config).query("SELECT subscriber_id, paper_id, vote FROM feedback"))
    assert rows == [{"subscriber_id": 1, "paper_id": "2611.99901", "vote": 1}]
    shown = invoke(config.path, "papers", "show", old_id)
    assert shown.exit_code == 0 and "2611.99901" in shown.output

"""The public sign-up (issue 15) in process: /subscribe, /confirm/TOKEN, the admin's list of
pending sign-ups, and their limits, on a real instance (SQLite file, outbox folder),
checking the rows and the emails in the outbox after each request."""

from __future__ import annotations

import datetime as dt
import email
import json
import re
import warnings
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from digest.config import Config, load_config
from digest.errors import ConfigError
from digest.tokens import LinkSigner
from digest.web import create_app
from digest.web.signup import CLIENT_LIMIT, EMAILS_PER_ADDRESS, FORM_COOKIE
from tests.run_helpers import TEST_SECRET, invoke, set_config, setup_instance

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "signup test password"
DAY = "2026-11-16"
NOW = dt.datetime(2026, 11, 16, 8, 0, tzinfo=dt.UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
CHECK_INBOX = "Check your inbox"
HOSTILE = '<script>alert("pwned")</script> Program synthesis <img src=x onerror=alert(1)>'


class Clock:
    def __init__(self) -> None:
        self.moment = NOW

    def __call__(self) -> dt.datetime:
        return self.moment


def write_listings(folder: Path) -> list[Path]:
    """A small day of papers (with upvotes) and one hostile listing."""
    hostile = folder / "hostile.jsonl"
    records = [
        {
            "id": "2611.99001",
            "title": HOSTILE,
            "abstract": "Code generation <b>bold</b> & program synthesis </li></ol><script>x()"
            "</script>",
            "authors": ["<i>Eve</i>"],
            "url": "javascript:alert(1)",
            "upvotes": 7,
        }
    ]
    records += [  # enough papers for more than one page of the day's list
        {
            "id": f"2611.98{n:03d}",
            "title": f"Filler paper number {n} on sparse retrieval",
            "abstract": f"A filler abstract about retrieval, variant {n}.",
            "upvotes": n,
        }
        for n in range(30)
    ]
    hostile.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
    examples = REPO / "examples"
    return [examples / "daily-papers-api.json", examples / "records.jsonl", hostile]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("signup") / "inst"
    config = setup_instance(root)
    for path in write_listings(root.parent):
        result = invoke(config, "ingest", "--date", DAY, str(path))
        assert result.exit_code == 0, result.output
    set_config(config, "web", "signup", '"open"')
    return root


@pytest.fixture
def config(prepared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    import shutil

    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    shutil.copytree(prepared, tmp_path / "inst")
    return load_config(tmp_path / "inst" / "config.toml")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(config: Config, clock: Clock) -> Iterator[TestClient]:
    app = create_app(config, secret=TEST_SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def login(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    data = {"csrf": token, "password": PASSWORD, "next": "/admin"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303


def sign_up(client: TestClient, **fields: str) -> Any:
    """Load the form (its cookie and token), then post it with ``fields``."""
    token = csrf_of(client.get("/subscribe").text)
    data = {"csrf": token, "email": "", "name": "", "keywords": "", "frequency": "daily"}
    data.update(fields)
    return client.post("/subscribe", data=data)


def outbox_mails(config: Config) -> list[email.message.EmailMessage]:
    """The sign-up emails in the outbox, oldest first."""
    paths = sorted(
        config.delivery.outbox.rglob("*+signup-*.eml"),
        key=lambda p: int(p.name.rsplit("signup-", 1)[1].split(".")[0]),
    )
    return [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)  # type: ignore[misc]
        for p in paths
    ]


def link_in(message: Any, route: str) -> str:
    text = message.get_body(("plain",)).get_content()
    match = re.search(rf"https?://\S+/{route}/(\S+)", text)
    assert match, text
    return match.group(1)


def rows(config: Config, sql: str, args: list[Any] | None = None) -> list[dict[str, Any]]:
    return list(sqlite_utils.Database(config.store.database).query(sql, args or []))


def subscriber(config: Config, address: str) -> dict[str, Any] | None:
    found = rows(config, "SELECT * FROM subscribers WHERE email = ?", [address])
    return found[0] if found else None


# --- config -----------------------------------------------------------------------------------


def test_signup_is_closed_by_default_and_a_bad_value_names_the_key(tmp_path: Path) -> None:
    config_path = setup_instance(tmp_path / "inst")
    assert load_config(config_path).web.signup == "closed"  # what `digest init` writes
    set_config(config_path, "web", "signup", '"maybe"')
    with pytest.raises(ConfigError) as caught:
        load_config(config_path)
    assert str(caught.value) == (
        f"{config_path}: web.signup is 'maybe'; expected one of 'closed', 'open'"
    )


def test_closed_signup_has_no_public_pages(
    config: Config, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    set_config(config.path, "web", "signup", '"closed"')  # type: ignore[arg-type]
    closed = load_config(config.path)  # type: ignore[arg-type]
    app = create_app(closed, secret=TEST_SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(app) as client:
        assert client.get("/subscribe").status_code == 404
        assert client.post("/subscribe", data={"email": "x@example.org"}).status_code == 404
        assert client.get(f"/papers/{DAY}").status_code == 404
        home = client.get("/", follow_redirects=False)
        assert (home.status_code, home.headers["location"]) == (303, "/admin")
    assert outbox_mails(closed) == []


def test_a_confirmation_link_after_signup_closed_says_so(
    client: TestClient, config: Config, clock: Clock
) -> None:
    sign_up(client, email="late@example.org", keywords="program synthesis")
    token = link_in(outbox_mails(config)[0], "confirm")
    form = csrf_of(client.get(f"/confirm/{token}").text)
    set_config(config.path, "web", "signup", '"closed"')  # type: ignore[arg-type]
    closed = load_config(config.path)  # type: ignore[arg-type]
    app = create_app(closed, secret=TEST_SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(app) as late:
        for response in (
            late.get(f"/confirm/{token}"),
            late.post(f"/confirm/{token}", data={"csrf": form}),
        ):
            assert response.status_code == 404
            assert "<h1>Sign-ups are closed</h1>" in response.text
            assert "ask the instance&#39;s admin to add you" in response.text
            assert '<body class="public">' in response.text  # the subscriber pages' style
            assert "default-src 'self'" in response.headers["content-security-policy"]
    assert subscriber(config, "late@example.org") is None


# --- the sign-up and its confirmation ---------------------------------------------------------


def test_sign_up_confirm_by_post_only_and_see_a_preview(client: TestClient, config: Config) -> None:
    page = client.get("/subscribe")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert FORM_COOKIE in page.cookies
    response = sign_up(
        client, email="Zoe@Example.org", name="Zoë", keywords="program synthesis^2, code generation"
    )
    assert response.status_code == 200 and CHECK_INBOX in response.text
    assert subscriber(config, "zoe@example.org") is None  # nothing before the confirmation
    pending = rows(config, "SELECT * FROM signups")
    assert [(p["email"], p["name"], json.loads(p["keywords"])) for p in pending] == [
        ("zoe@example.org", "Zoë", ["program synthesis^2", "code generation"])
    ]
    (mail,) = outbox_mails(config)
    assert mail["To"].addresses[0].addr_spec == "zoe@example.org"
    assert mail["Subject"] == "Confirm your digest subscription"
    token = link_in(mail, "confirm")
    html = mail.get_body(("html",)).get_content()
    assert f"/confirm/{token}" in html

    # A mail scanner's GET confirms nothing.
    for _ in range(2):
        shown = client.get(f"/confirm/{token}")
        assert shown.status_code == 200 and "Confirm your subscription" in shown.text
    assert shown.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self'" in shown.headers["content-security-policy"]
    assert shown.headers["x-frame-options"] == "DENY"
    assert subscriber(config, "zoe@example.org") is None
    # A POST without the link's form token changes nothing either.
    assert client.post(f"/confirm/{token}", data={"csrf": "forged"}).status_code == 403
    assert subscriber(config, "zoe@example.org") is None

    done = client.post(f"/confirm/{token}", data={"csrf": csrf_of(shown.text)})
    assert done.status_code == 200 and "You are subscribed" in done.text
    sub = subscriber(config, "zoe@example.org")
    assert sub is not None and (sub["status"], sub["name"]) == ("active", "Zoë")
    profile = rows(config, "SELECT keywords FROM profiles WHERE subscriber_id = ?", [sub["id"]])
    assert "program synthesis" in profile[0]["keywords"]
    assert "Your next digest" in done.text and "/preferences/" in done.text
    assert "<li>" in done.text  # the preview lists picks for "program synthesis"
    assert rows(config, "SELECT * FROM signups") == []
    # The link is spent.
    again = client.post(f"/confirm/{token}", data={"csrf": csrf_of(shown.text)})
    assert again.status_code == 410
    assert len(rows(config, "SELECT * FROM subscribers WHERE email = 'zoe@example.org'")) == 1


def test_the_confirmation_email_escapes_the_name(client: TestClient, config: Config) -> None:
    sign_up(client, email="zed@example.org", name='<b>Zed</b> "&"', keywords="retrieval")
    (mail,) = outbox_mails(config)
    html = mail.get_body(("html",)).get_content()
    assert "&lt;b&gt;Zed&lt;/b&gt; &#34;&amp;&#34;" in html and "<b>Zed" not in html
    assert mail["To"].addresses[0].display_name == '<b>Zed</b> "&"'
    assert len(html.encode()) < 98_000 and mail["Auto-Submitted"] == "auto-generated"


def test_known_address_gets_the_same_page_and_a_preferences_email(
    client: TestClient, config: Config
) -> None:
    before = rows(config, "SELECT * FROM subscribers ORDER BY id")
    unknown = sign_up(client, email="new@example.org", keywords="retrieval")
    known = sign_up(client, email="ADA@example.org", name="Mallory", keywords="retrieval")
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace("\n", "") == unknown.text.replace("\n", "")
    assert rows(config, "SELECT * FROM subscribers ORDER BY id") == before
    assert [s["email"] for s in rows(config, "SELECT email FROM signups")] == ["new@example.org"]
    first, second = outbox_mails(config)
    assert first["Subject"] == "Confirm your digest subscription"
    assert second["Subject"] == "Your digest subscription"
    assert second["To"].addresses[0].addr_spec == "ada@example.org"
    assert "/preferences/" in second.get_body(("plain",)).get_content()
    assert "Mallory" not in second.as_string()  # the stranger's name is not used


def test_an_unsubscribed_address_must_confirm_again(
    client: TestClient, config: Config, clock: Clock
) -> None:
    assert invoke(config.path, "subscribers", "remove", "alan@example.org").exit_code == 0  # type: ignore[arg-type]
    sign_up(client, email="alan@example.org", keywords="diffusion")
    (mail,) = outbox_mails(config)
    assert mail["Subject"] == "Confirm your digest subscription"
    assert subscriber(config, "alan@example.org")["status"] == "unsubscribed"  # type: ignore[index]
    token = link_in(mail, "confirm")
    form = csrf_of(client.get(f"/confirm/{token}").text)
    assert client.post(f"/confirm/{token}", data={"csrf": form}).status_code == 200
    sub = subscriber(config, "alan@example.org")
    assert sub is not None and sub["status"] == "active"
    assert sub["status_changed_by"] == "web:signup"


# --- limits ---------------------------------------------------------------------------------


def test_at_most_three_emails_to_one_address_a_day(
    client: TestClient, config: Config, clock: Clock
) -> None:
    pages = [sign_up(client, email="bob@example.org", keywords="retrieval") for _ in range(4)]
    assert [p.status_code for p in pages] == [200] * 4
    assert len({p.text for p in pages}) == 1
    assert len(outbox_mails(config)) == EMAILS_PER_ADDRESS == 3
    # Only the latest link confirms: the earlier sign-ups were replaced.
    assert len(rows(config, "SELECT * FROM signups")) == 1
    first, *_, last = outbox_mails(config)
    assert client.get(f"/confirm/{link_in(first, 'confirm')}").status_code == 410
    assert client.get(f"/confirm/{link_in(last, 'confirm')}").status_code == 200
    clock.moment += dt.timedelta(days=1, minutes=1)  # a day later the address may get one more
    sign_up(client, email="bob@example.org", keywords="retrieval")
    assert len(outbox_mails(config)) == 4


def test_per_client_limit_answers_429(client: TestClient, config: Config) -> None:
    for n in range(CLIENT_LIMIT):
        assert sign_up(client, email=f"c{n}@example.org", keywords="x").status_code == 200
    refused = sign_up(client, email="last@example.org", keywords="x")
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert len(outbox_mails(config)) == CLIENT_LIMIT
    # Counted in the database (every worker sees it), by client address.
    assert {r["client"] for r in rows(config, "SELECT client FROM signup_attempts")} == {
        "testclient"
    }


def test_honeypot_filled_sends_nothing_and_shows_the_same_page(
    client: TestClient, config: Config
) -> None:
    normal = sign_up(client, email="human@example.org", keywords="retrieval")
    bot = sign_up(client, email="bot@example.org", keywords="retrieval", website="http://spam")
    assert bot.status_code == 200 and bot.text == normal.text
    assert [m["To"].addresses[0].addr_spec for m in outbox_mails(config)] == ["human@example.org"]
    assert [s["email"] for s in rows(config, "SELECT email FROM signups")] == ["human@example.org"]


def test_csrf_cookie_and_token_are_required(client: TestClient, config: Config) -> None:
    token = csrf_of(client.get("/subscribe").text)
    data = {"csrf": token, "email": "x@example.org", "keywords": "retrieval"}
    assert client.post("/subscribe", data={**data, "csrf": "forged"}).status_code == 403
    client.cookies.clear()  # a form posted from another site carries no cookie
    refused = client.post("/subscribe", data=data)
    assert refused.status_code == 403 and "Form expired" in refused.text
    assert outbox_mails(config) == [] and rows(config, "SELECT * FROM signups") == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"email": "x@example.org\r\nBcc: victim@example.org"}, "must be on one line"),
        ({"email": "x@example.org", "name": "X\r\nBcc: victim@example.org"}, "must be on one line"),
        ({"email": "not an address"}, "is not a valid email address"),
        ({"email": "x@example.org", "keywords": ""}, "give at least one topic"),
        ({"email": "x@example.org", "frequency": "hourly"}, "is not one of the choices"),
    ],
)
def test_bad_input_is_refused_before_any_email(
    client: TestClient, config: Config, fields: dict[str, str], message: str
) -> None:
    response = sign_up(client, **{"keywords": "retrieval", **fields})
    assert response.status_code == 422
    assert message in response.text
    assert outbox_mails(config) == []


def test_a_large_body_is_refused(client: TestClient, config: Config) -> None:
    token = csrf_of(client.get("/subscribe").text)
    data = {"csrf": token, "email": "x@example.org", "keywords": "x" * 20_000}
    assert client.post("/subscribe", data=data).status_code == 413
    assert outbox_mails(config) == []


# --- tokens ---------------------------------------------------------------------------------


def test_confirm_tokens_expire_and_cannot_be_swapped(
    client: TestClient, config: Config, clock: Clock
) -> None:
    signer = LinkSigner(TEST_SECRET)
    sign_up(client, email="dan@example.org", keywords="retrieval")
    token = link_in(outbox_mails(config)[0], "confirm")
    signup_id = rows(config, "SELECT id FROM signups")[0]["id"]
    # Another action's token for the same number, and a confirm token at another route.
    assert client.get(f"/confirm/{signer.sign(signup_id, 'preferences')}").status_code == 403
    assert client.get(f"/preferences/{token}").status_code == 403
    assert client.get(f"/d/{token}").status_code == 403
    assert client.get(f"/confirm/{token[:-2]}xx").status_code == 403
    clock.moment += dt.timedelta(hours=49)
    expired = client.get(f"/confirm/{token}")
    assert expired.status_code == 410 and "expired" in expired.text
    assert subscriber(config, "dan@example.org") is None


# --- admin ------------------------------------------------------------------------------------


def test_pending_signups_show_in_the_admin_and_expire_after_seven_days(
    client: TestClient, config: Config, clock: Clock
) -> None:
    sign_up(client, email="erin@example.org", name="<b>Erin</b>", keywords="retrieval")
    assert client.get("/admin/signups", follow_redirects=False).status_code == 303  # login first
    login(client)
    page = client.get("/admin/signups", follow_redirects=False)
    assert page.status_code == 200
    assert "erin@example.org" in page.text and "&lt;b&gt;Erin&lt;/b&gt;" in page.text
    clock.moment += dt.timedelta(days=7, minutes=1)
    login(client)  # the admin session ended after 12 hours
    page = client.get("/admin/signups", follow_redirects=False)
    assert page.status_code == 200 and "erin@example.org" not in page.text
    assert rows(config, "SELECT * FROM signups") == []


def test_the_daily_run_purges_expired_signups(
    client: TestClient, config: Config, clock: Clock
) -> None:
    clock.moment = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)  # the run uses the real clock
    sign_up(client, email="old@example.org", keywords="retrieval")
    assert len(rows(config, "SELECT * FROM signups")) == 1
    result = invoke(config.path, "run", "--dry-run")  # type: ignore[arg-type]
    assert result.exit_code == 0 and len(rows(config, "SELECT * FROM signups")) == 1
    result = invoke(config.path, "run", "--date", DAY)  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert rows(config, "SELECT * FROM signups") == []
    assert rows(config, "SELECT * FROM signup_attempts") == []


def test_the_confirmation_goes_through_smtp_when_configured(config: Config, clock: Clock) -> None:
    from tests.smtp_server import Handler, smtp_server

    handler = Handler(refuse={"down@example.org": "550 5.1.1 no such user"})
    with smtp_server(handler) as port:
        for key, value in (("host", '"127.0.0.1"'), ("port", str(port)), ("security", '"none"')):
            set_config(config.path, "smtp", key, value)  # type: ignore[arg-type]
        set_config(config.path, "delivery", "transport", '"smtp"')  # type: ignore[arg-type]
        smtp_config = load_config(config.path)  # type: ignore[arg-type]
        app = create_app(smtp_config, secret=TEST_SECRET, admin_password=PASSWORD, now=clock)
        with TestClient(app) as client:
            assert CHECK_INBOX in sign_up(client, email="fay@example.org", keywords="rag").text
            # A refused address: the same page; the visitor learns nothing more.
            assert CHECK_INBOX in sign_up(client, email="down@example.org", keywords="rag").text
    (received,) = handler.messages
    assert received.rcpt_tos == ["fay@example.org"]
    message = email.message_from_bytes(received.data, policy=policy.default)
    assert "/confirm/" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert outbox_mails(config) == []

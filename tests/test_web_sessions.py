"""Admin sessions live in the database: signing out, or a new admin password, ends them."""

from __future__ import annotations

import warnings

import sqlite_utils

from digest.web import create_app
from tests.test_web import PASSWORD, SECRET, clock, config, instances, login  # noqa: F401

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


def test_logout_ends_the_session_and_the_old_cookie_no_longer_works(config, clock):  # noqa: F811
    app = create_app(config, secret=SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(app) as admin, TestClient(app) as thief:
        assert login(admin, PASSWORD).status_code == 303
        cookie = admin.cookies["digest_admin"]
        thief.cookies.set("digest_admin", cookie)
        assert thief.get("/admin", follow_redirects=False).status_code == 200
        token = admin.get("/admin").text.split('name="csrf" value="')[1].split('"')[0]
        assert admin.post("/logout", data={"csrf": token}, follow_redirects=False).status_code
        # The copied cookie from before the sign-out is worthless now.
        assert thief.get("/admin", follow_redirects=False).headers["location"].startswith("/login")
    rows = sqlite_utils.Database(config.store.database)["web_sessions"].count
    assert rows <= 1  # at most the signed-out browser's fresh sign-in form session


def test_a_new_admin_password_ends_every_session(config, clock):  # noqa: F811
    before = create_app(config, secret=SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(before) as admin:
        assert login(admin, PASSWORD).status_code == 303
        cookie = admin.cookies["digest_admin"]
    after = create_app(config, secret=SECRET, admin_password="a new password", now=clock)
    with TestClient(after) as admin:
        admin.cookies.set("digest_admin", cookie)
        response = admin.get("/admin", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    # Restarting with the same password keeps the session.
    again = create_app(config, secret=SECRET, admin_password=PASSWORD, now=clock)
    with TestClient(again) as admin:
        admin.cookies.set("digest_admin", cookie)
        assert admin.get("/admin", follow_redirects=False).status_code == 200

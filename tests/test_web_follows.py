"""Authors, categories and library import on the web (issue 13): the admin editor (with its
live preview and the library upload) and the subscriber's preferences page, over HTTP
(Starlette's TestClient) on a real instance, checking the stored profile after each request.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from digest.config import Config, load_config
from digest.store import Store
from digest.tokens import LinkSigner
from digest.web import create_app
from tests.run_helpers import TEST_SECRET, invoke, set_config
from tests.test_library_import import BIBTEX, LISTED, NEW_ID

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

PASSWORD = "follows test password"
DAY = "2026-11-20"
NOW = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)
CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Config:
    monkeypatch.setenv("DIGEST_SECRET", TEST_SECRET)
    from digest.instance import init_instance

    path = init_instance(tmp_path / "inst")
    listing = tmp_path / "listing.jsonl"
    listing.write_text("\n".join(json.dumps(p) for p in LISTED) + "\n", encoding="utf-8")
    assert invoke(path, "ingest", "--date", DAY, str(listing)).exit_code == 0
    assert invoke(path, "subscribers", "add", "ada@example.org").exit_code == 0
    return load_config(path)


@pytest.fixture
def client(config: Config) -> Iterator[TestClient]:
    app = create_app(config, secret=TEST_SECRET, admin_password=PASSWORD, now=lambda: NOW)
    with TestClient(app) as test_client:
        yield test_client


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"csrf": token, "password": PASSWORD, "next": "/admin"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    return client


def stored_profile(config: Config):  # type: ignore[no-untyped-def]
    store = Store.open(config.store.database)
    try:
        return store.profile(store.subscriber("ada@example.org").id)
    finally:
        store.close()


def editor_form(page: str, **changes: str) -> dict[str, str]:
    form = {
        "csrf": csrf_of(page),
        "name": "",
        "frequency": "daily",
        "timezone": "UTC",
        "max_papers": "10",
        "min_score": "",
        "quiet_day": "skip",
        "keywords": "",
        "exclude": "",
        "liked": "",
        "disliked": "",
        "description": "",
        "preview_date": DAY,
        "authors": "",
        "categories": "",
        "exclude_categories": "",
    }
    form.update(changes)
    return form


def test_admin_editor_saves_authors_and_categories(admin, config):
    page = admin.get("/admin/subscribers/1")
    assert page.status_code == 200 and 'name="authors"' in page.text
    form = editor_form(
        page.text,
        authors="Y. LeCun\nHinton, Geoffrey",
        categories="cs.cl",
        exclude_categories="cs.CV",
    )
    saved = admin.post("/admin/subscribers/1", data=form, follow_redirects=False)
    assert saved.status_code == 303, saved.text
    profile = stored_profile(config)
    assert profile.authors == ("Y. LeCun", "Hinton, Geoffrey")
    assert profile.categories == ("cs.CL",)
    assert profile.exclude_categories == ("cs.CV",)
    again = admin.get("/admin/subscribers/1").text
    assert "Y. LeCun\nHinton, Geoffrey</textarea>" in again
    assert "by: LeCun" in again  # the preview's pick of LeCun's paper says why


def test_admin_editor_refuses_a_bad_category_and_saves_nothing(admin, config):
    page = admin.get("/admin/subscribers/1").text
    bad = admin.post("/admin/subscribers/1", data=editor_form(page, categories="nlp"))
    assert bad.status_code == 422
    assert "category &#39;nlp&#39; is not an arXiv category" in bad.text
    assert stored_profile(config).categories == ()


def test_admin_preview_ranks_an_unsaved_author(admin):
    page = admin.get("/admin/subscribers/1").text
    response = admin.post(
        "/admin/subscribers/1/preview", data=editor_form(page, authors="LeCun, Yann")
    )
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] and "by: LeCun" in body["picks_html"]
    assert "Energy-based models" in body["picks_html"]


def test_admin_uploads_a_library(admin, config):
    page = admin.get("/admin/subscribers/1").text
    assert 'enctype="multipart/form-data"' in page
    response = admin.post(
        "/admin/subscribers/1/library",
        data={"csrf": csrf_of(page)},
        files={"library": ("C:\\Users\\ada\\zotero.bib", BIBTEX.encode(), "text/plain")},
    )
    assert response.status_code == 200, response.text
    assert "zotero.bib (bibtex): 2 liked papers, 2 new to the profile, 1 stored" in response.text
    problems = re.findall(r'<li class="mono small">([^<]*)</li>', response.text)
    assert problems == [
        "zotero.bib:16 (nothing): no arXiv id, DOI or title; add one or remove the entry",
        "zotero.bib:20: not a valid BibTeX entry; check its braces",
    ]
    assert stored_profile(config).liked == ("2611.00001", NEW_ID)
    history = admin.get("/admin/subscribers/1/history").text
    assert "web:admin" in history and f"+like {NEW_ID}" in history


def test_a_library_upload_needs_the_csrf_token_and_a_readable_file(admin, config):
    files = {"library": ("lib.bib", BIBTEX.encode(), "text/plain")}
    forged = admin.post("/admin/subscribers/1/library", data={"csrf": "nope"}, files=files)
    assert forged.status_code == 403
    page = admin.get("/admin/subscribers/1").text
    binary = admin.post(
        "/admin/subscribers/1/library",
        data={"csrf": csrf_of(page)},
        files={"library": ("lib.bib", b"\x00\x01\x02", "application/octet-stream")},
    )
    assert binary.status_code == 422
    assert "lib.bib: a binary file, not a library; export it as text" in binary.text
    missing = admin.post("/admin/subscribers/1/library", data={"csrf": csrf_of(page)})
    assert missing.status_code == 422 and "Choose a library file" in missing.text
    assert stored_profile(config).liked == ()


def test_preferences_page_edits_authors_and_categories(client, config):
    token = LinkSigner(TEST_SECRET).sign(1, "preferences", issued_at=NOW)
    page = client.get(f"/preferences/{token}")
    assert page.status_code == 200 and 'name="categories"' in page.text
    form = {
        "csrf": csrf_of(page.text),
        "frequency": "daily",
        "max_papers": "5",
        "keywords": "speech",
        "exclude": "",
        "quiet_day": "skip",
        "authors": "Yann LeCun",
        "categories": "cs.LG\nhep-th",
        "exclude_categories": "eess.AS",
    }
    saved = client.post(f"/preferences/{token}", data=form)
    assert saved.status_code == 200 and "Saved." in saved.text
    profile = stored_profile(config)
    assert profile.authors == ("Yann LeCun",)
    assert profile.categories == ("cs.LG", "hep-th")
    assert profile.exclude_categories == ("eess.AS",)
    assert "cs.LG\nhep-th</textarea>" in saved.text
    bad = client.post(f"/preferences/{token}", data={**form, "exclude_categories": "speech"})
    assert bad.status_code == 422 and "is not an arXiv category" in bad.text
    assert stored_profile(config).exclude_categories == ("eess.AS",)


@pytest.fixture
def open_signup(config: Config) -> Config:
    set_config(config.path, "web", "signup", '"open"')
    return load_config(config.path)


def test_the_public_day_page_never_shows_a_librarys_reference_papers(open_signup):
    app = create_app(open_signup, secret=TEST_SECRET, admin_password=PASSWORD, now=lambda: NOW)
    with TestClient(app) as client:
        _the_day_page_hides_reference_papers(client)


def _the_day_page_hides_reference_papers(client: TestClient) -> None:
    token = csrf_of(client.get("/login").text)
    client.post("/login", data={"csrf": token, "password": PASSWORD, "next": "/admin"})
    admin = client
    page = admin.get("/admin/subscribers/1").text
    admin.post(
        "/admin/subscribers/1/library",
        data={"csrf": csrf_of(page)},
        files={"library": ("lib.bib", BIBTEX.encode(), "text/plain")},
    )
    day = admin.get(f"/papers/{DAY}")
    assert day.status_code == 200
    assert "Energy-based models" in day.text  # listed that day
    assert "Diffusion transformers for speech synthesis" not in day.text  # only in the library
    dashboard = admin.get("/admin").text
    assert "Diffusion transformers" not in dashboard

"""How the digest email looks: a 10-paper digest in headless Chromium at phone and desktop width.

Drives Debian's chromium through Playwright (Playwright's own browser download does not
work here). Screenshots go to test-artifacts/ (or $DIGEST_ARTIFACTS) for a person to look at.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

import pytest

from digest.config import EmailConfig
from digest.records import Keyword, Paper, Pick, Profile, Subscriber
from digest.render import DigestContent, Renderer
from digest.tokens import LinkSigner
from tests.browser import artifacts_dir, launch_chromium
from tests.run_helpers import TEST_SECRET

NOW = datetime.datetime(2026, 11, 22, 7, 0, tzinfo=datetime.UTC)
WIDTHS = (375, 800)

LONG_WORD = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 2
LONG_URL = "https://github.com/example-org/" + "very-long-repository-name-" * 6 + "/blob/main/x.py"


def _papers() -> list[Paper]:
    titles = [
        "MonoCoder: Domain-Specific Code Language Model for HPC Codes and Tasks",
        f"{LONG_WORD}: an unbreakable title word",
        "A Very Long Title About Program Synthesis With Large Language Models That Goes On "
        "And On Across Several Lines Even On A Desktop Screen Because Authors Love Colons: "
        "A Survey, A Benchmark, And A Position Paper",
        "Zero-Shot Code Representation Learning via Prompt Tuning",
        "CodeT5+: Open Code Large Language Models for Code Understanding and Generation",
        "Ünïcödé Títlè with 中文字符 and emoji-free symbols ∑ ∫ ≤",
        "Short",
        "Arctic-SnowCoder: Demystifying High-Quality Data in Code Pretraining",
        f"Repository at {LONG_URL}",
        "Self-Distillation for Further Pre-training of Transformers",
    ]
    abstract = (
        "Large language models trained on code are now common. We release our code at "
        f"{LONG_URL} together with {LONG_WORD} data. The results show a clear gain over the "
        "baselines on every benchmark we tried, including the hardest ones. Further work "
        "remains on scaling, safety and evaluation of such systems in practice."
    )
    return [
        Paper(
            id=f"2411.{10000 + i:05d}",
            title=title,
            abstract=abstract,
            authors=tuple(f"Author{j} {LONG_WORD[: 10 + i]}" for j in range(1 + i)),
            upvotes=None if i % 4 == 3 else 7 * i + 2,
            first_seen="2026-11-21",
            listing_date="2026-11-22",
        )
        for i, title in enumerate(titles)
    ]


@pytest.fixture(scope="module")
def digest_html() -> tuple[str, list[str]]:
    papers = _papers()
    content = DigestContent(
        subscriber=Subscriber(id=1, email="ada@example.org", name="Ada Lovelace"),
        profile=Profile(keywords=(Keyword("code generation", 2), Keyword("program synthesis"))),
        picks=tuple(
            (p, Pick(p.id, 1.0, ("matches “code generation”", f"similar to {LONG_WORD[:30]}")))
            for p in papers
        ),
        digest_date=NOW.date(),
        trending=tuple(papers[:5]),
        new_paper_count=90,
    )
    email = EmailConfig(postal_address="digest · 1 Example Street · 00000 Example City")
    renderer = Renderer(email, LinkSigner(TEST_SECRET))
    return renderer.render_html(content, now=NOW), [p.title for p in papers]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from launch_chromium()


# Elements whose right edge passes the viewport, ignoring hidden ones (the preheader).
OVERFLOWING = """() => {
    const limit = window.innerWidth + 0.5;
    return Array.from(document.querySelectorAll('body *'))
        .filter(e => {
            const r = e.getBoundingClientRect();
            const style = getComputedStyle(e);
            return r.width > 0 && r.height > 0 && style.visibility !== 'hidden'
                && style.display !== 'none' && r.right > limit;
        })
        .map(e => `${e.tagName} right=${e.getBoundingClientRect().right}: `
                  + (e.textContent || '').trim().slice(0, 60));
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_digest_fits_the_screen_and_shows_every_title(
    browser: Any, digest_html: tuple[str, list[str]], width: int
) -> None:
    html, titles = digest_html
    page = browser.new_page(viewport={"width": width, "height": 900})
    try:
        page.route("**/*", lambda route: route.abort())  # the email must not need the network
        page.set_content(html, wait_until="load")
        scroll_width, inner_width = page.evaluate(
            "[document.documentElement.scrollWidth, window.innerWidth]"
        )
        assert scroll_width <= inner_width, f"page scrolls sideways at {width}px"
        assert page.evaluate(OVERFLOWING) == []

        for title in titles:
            link = page.get_by_role("link", name=title, exact=True).first
            assert link.is_visible(), f"title not visible at {width}px: {title}"
            box = link.bounding_box()
            assert box is not None
            assert box["x"] >= 0 and box["x"] + box["width"] <= width, (
                f"title runs off the screen at {width}px: {title}"
            )
        # A readable size on a phone: the titles are not shrunk to fit.
        size = page.get_by_role("link", name=titles[0], exact=True).first.evaluate(
            "e => parseFloat(getComputedStyle(e.parentElement).fontSize)"
        )
        assert size >= 16
        page.screenshot(path=str(artifacts_dir() / f"digest-{width}px.png"), full_page=True)
    finally:
        page.close()

"""Listings in the real formats the sources answer with, written for the fetch tests:
a daily-papers API JSON array, an arXiv RSS 2.0 category feed and an arXiv API Atom feed.
Each takes ``(arxiv_id, title, abstract)`` triples."""

from __future__ import annotations

import json
from xml.sax.saxutils import escape

Paper = tuple[str, str, str]

PAPERS: list[Paper] = [
    (
        "2612.00101",
        "Retrieval-Augmented Code Generation with Repository Context",
        "We retrieve functions from the surrounding repository and condition a code "
        "generation model on them; program synthesis accuracy rises on three benchmarks.",
    ),
    (
        "2612.00102",
        "Dense Passage Retrieval for Multilingual Question Answering",
        "A dense retrieval model trained on question answering pairs in twelve languages "
        "beats sparse retrieval baselines on open-domain question answering.",
    ),
    (
        "2612.00103",
        "Program Synthesis from Input-Output Examples with Language Models",
        "Language models propose candidate programs and an interpreter checks them "
        "against examples; code generation succeeds on most tasks of a new benchmark.",
    ),
    (
        "2612.00104",
        "Multimodal Image Captioning with Sparse Attention",
        "A vision encoder and a sparse attention decoder caption images at half the cost "
        "of dense attention, with equal quality on two multimodal benchmarks.",
    ),
]


def daily_papers_json(papers: list[Paper], day: str = "2026-12-01") -> bytes:
    """What ``GET /api/daily_papers?date=DAY`` answers: items with a nested ``paper``."""
    items = [
        {
            "paper": {
                "id": pid,
                "authors": [{"_id": f"a{n}", "name": f"Author {n}", "hidden": False}],
                "publishedAt": f"{day}T09:00:00.000Z",
                "title": title,
                "summary": abstract,
                "upvotes": 10 + n,
            },
            "publishedAt": f"{day}T09:00:00.000Z",
            "submittedOnDailyAt": f"{day}T10:00:00.000Z",
            "title": title,
            "numComments": n,
        }
        for n, (pid, title, abstract) in enumerate(papers)
    ]
    return json.dumps(items, indent=2).encode("utf-8")


def arxiv_rss(papers: list[Paper], day: str = "Tue, 01 Dec 2026") -> bytes:
    """An arXiv category feed in the current layout (``Announce Type`` in each description,
    the versioned id in the guid); no papers is a weekend's or holiday's empty feed."""
    items = "".join(
        f"""
    <item>
      <title>{escape(title)}</title>
      <link>https://arxiv.org/abs/{pid}</link>
      <description>arXiv:{pid}v1 Announce Type: new
Abstract: {escape(abstract)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{pid}v1</guid>
      <category>cs.CL</category>
      <pubDate>{day} 00:00:00 -0500</pubDate>
      <arxiv:announce_type>new</arxiv:announce_type>
      <dc:creator>Ada Author, Bo Writer</dc:creator>
    </item>"""
        for pid, title, abstract in papers
    )
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>cs.CL updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.CL</link>
    <description>cs.CL updates on the arXiv.org e-print archive.</description>
    <language>en-us</language>
    <lastBuildDate>{day} 00:30:00 +0000</lastBuildDate>
    <pubDate>{day} 00:00:00 -0500</pubDate>{items}
  </channel>
</rss>
""".encode()


def arxiv_atom(papers: list[Paper], updated: str = "2026-12-01T00:00:00-05:00") -> bytes:
    """What the arXiv API (``/api/query``) answers: an Atom feed of entries."""
    entries = "".join(
        f"""
  <entry>
    <id>http://arxiv.org/abs/{pid}v1</id>
    <updated>2026-11-30T18:00:00Z</updated>
    <published>2026-11-30T18:00:00Z</published>
    <title>{escape(title)}</title>
    <summary>{escape(abstract)}</summary>
    <author><name>Ada Author</name></author>
    <link href="http://arxiv.org/abs/{pid}v1" rel="alternate" type="text/html"/>
    <arxiv:primary_category xmlns:arxiv="http://arxiv.org/schemas/atom" term="cs.CL"/>
    <category term="cs.CL" scheme="http://arxiv.org/schemas/atom"/>
  </entry>"""
        for pid, title, abstract in papers
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=cat:cs.CL</title>
  <id>http://arxiv.org/api/example</id>
  <updated>{updated}</updated>{entries}
</feed>
""".encode()


HTML_ERROR_PAGE = b"""<!DOCTYPE html>
<html><head><title>Service temporarily unavailable</title></head>
<body><h1>We are down for maintenance</h1><p>Please try again later.</p></body></html>
"""

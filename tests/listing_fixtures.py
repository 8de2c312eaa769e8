"""Small listing files in the real formats, written by the tests themselves: an arXiv API
Atom feed, an arXiv RSS 2.0 feed (announce types in the description, in an
``arxiv:announce_type`` element, or both), JSON Lines records and a daily-papers page saved
as text. Values are escaped as the real feeds escape them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape


@dataclass(frozen=True)
class Item:
    """One paper as a listing shows it."""

    title: str
    abstract: str
    arxiv_id: str | None = None
    version: int | None = None
    announce_type: str | None = None
    authors: tuple[str, ...] = ("Kim Example",)
    published: dt.date | None = None

    @property
    def versioned_id(self) -> str:
        assert self.arxiv_id is not None
        return self.arxiv_id + (f"v{self.version}" if self.version else "")


def atom_feed(day: dt.date, items: list[Item]) -> str:
    entries = []
    for item in items:
        published = item.published or day
        authors = "".join(f"<author><name>{escape(a)}</name></author>" for a in item.authors)
        entries.append(
            f"""  <entry>
    <id>http://arxiv.org/abs/{item.versioned_id}</id>
    <updated>{day.isoformat()}T10:00:00Z</updated>
    <published>{published.isoformat()}T10:00:00Z</published>
    <title>{escape(item.title)}</title>
    <summary>{escape(item.abstract)}</summary>
    {authors}
    <link href="http://arxiv.org/abs/{item.versioned_id}" rel="alternate" type="text/html"/>
  </entry>"""
        )
    body = "\n".join(entries)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title type="html">ArXiv Query: search_query=all:test</title>
  <id>http://arxiv.org/api/test-{day.isoformat()}</id>
  <updated>{day.isoformat()}T00:00:00-04:00</updated>
{body}
</feed>
"""


def rss_feed(
    day: dt.date,
    items: list[Item],
    *,
    in_description: bool = True,
    as_element: bool = True,
    item_dates: bool = True,
) -> str:
    """An arXiv RSS feed of ``day``; each item's announce type is written in its
    description (``in_description``), as an ``arxiv:announce_type`` element (``as_element``),
    or both, as arXiv's current feeds do."""
    stamp = day.strftime("%a, %d %b %Y 00:00:00 -0500")
    parts = []
    for item in items:
        announced = item.announce_type or "new"
        head = f"arXiv:{item.versioned_id} Announce Type: {announced} \nAbstract: "
        description = (head if in_description else "") + item.abstract
        element = f"<arxiv:announce_type>{announced}</arxiv:announce_type>" if as_element else ""
        parts.append(
            f"""    <item>
      <title>{escape(item.title)}</title>
      <link>https://arxiv.org/abs/{item.arxiv_id}</link>
      <description>{escape(description)}</description>
      <guid isPermaLink="false">oai:arXiv.org:{item.versioned_id}</guid>
      <category>cs.LG</category>
      {f"<pubDate>{stamp}</pubDate>" if item_dates else ""}
      {element}
      <dc:creator>{escape(", ".join(item.authors))}</dc:creator>
    </item>"""
        )
    body = "\n".join(parts)
    return f"""<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom"
     xmlns:dc="http://purl.org/dc/elements/1.1/" version="2.0">
  <channel>
    <title>cs.LG updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/cs.LG</link>
    <description>cs.LG updates on the arXiv.org e-print archive.</description>
    <lastBuildDate>{stamp}</lastBuildDate>
    <pubDate>{stamp}</pubDate>
{body}
  </channel>
</rss>
"""


def records_jsonl(items: list[Item]) -> str:
    lines = []
    for item in items:
        record: dict[str, object] = {"title": item.title, "abstract": item.abstract}
        if item.arxiv_id:
            record["id"] = item.versioned_id
        if item.authors:
            record["authors"] = list(item.authors)
        lines.append(json.dumps(record))
    return "\n".join(lines) + "\n"


def text_page(day: dt.date, items: list[Item]) -> str:
    """A daily-papers page saved as text: titles and abstracts, no ids."""
    body = "\n\n".join(f"{item.title}\n{item.abstract}" for item in items)
    return f"Daily Papers\n{day.strftime('%b')} {day.day}\n\n{body}\n"


WRITERS = {
    "atom": (".xml", lambda day, items: atom_feed(day, items)),
    "rss": (".xml", lambda day, items: rss_feed(day, items)),
    "records": (".jsonl", lambda day, items: records_jsonl(items)),
    "page": (".txt", lambda day, items: text_page(day, items)),
}


def write_listing(folder: Path, kind: str, day: dt.date, items: list[Item], *, n: int = 0) -> Path:
    """The listing of ``kind`` (a key of :data:`WRITERS`) for ``day``, written in ``folder``."""
    suffix, write = WRITERS[kind]
    path = folder / f"{day.isoformat()}-{n}-{kind}{suffix}"
    path.write_text(write(day, items), encoding="utf-8")
    return path

"""Sources: the text of one listing file in, a :class:`~digest.records.ParsedListing` out.

Pure functions over ``str``: no files, no network, no clock (the caller passes ``today``).
The formats read are registered in :data:`FORMATS` (see :mod:`digest.sources.formats`),
one module each: ``text`` (:mod:`.text_page`), ``daily-papers-json``
(:mod:`.daily_papers_json`), ``records`` (:mod:`.plain_records`), ``atom`` (:mod:`.atom`)
and ``rss`` (:mod:`.rss`). Shared pieces: :mod:`.ids` (arXiv ids and title keys, the
identity rules), :mod:`.sniff` (how a file opens), :mod:`.lines`, :mod:`.values`,
:mod:`.json_fields` and :mod:`.xml_feed`.

Every problem is a :class:`~digest.errors.ListingError` that names the file and, where it
helps, the line. Items of a JSON array and entries of a feed are counted from 0, as in
``data[7]`` or jq's ``.[7]``. A structured file (JSON, XML) with no items is an empty
listing rather than an error, because an empty feed is how arXiv says "nothing new today";
a text page with no listings is an error, because it means the page was not saved properly.

This package may import only :mod:`digest.records`, :mod:`digest.errors` and
:mod:`digest.text` from digest, never the store, ranking, rendering or delivery.
"""

from __future__ import annotations

from .formats import FORMATS, Format, detect_format, parse_listing, stream_listing
from .ids import (
    arxiv_id_as_written,
    arxiv_id_from,
    arxiv_id_month,
    arxiv_version_from,
    normalize_title,
)

__all__ = [
    "FORMATS",
    "Format",
    "arxiv_id_as_written",
    "arxiv_id_from",
    "arxiv_id_month",
    "arxiv_version_from",
    "detect_format",
    "normalize_title",
    "parse_listing",
    "stream_listing",
]

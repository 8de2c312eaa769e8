"""Fetch: collect the day's listings from configured sources into the inbox.

The stage before ingest (``digest fetch``, ``digest run --fetch``, and the scheduled job
when ``[[sources]]`` are configured). It saves each raw answer as a dated file in the
inbox, so ingest stays the one way into the store and the file is the record of what was
received. Module map:

- :mod:`.kinds`: the :data:`SOURCE_KINDS` registry (daily-papers, arxiv-rss, arxiv-api):
  the query each adds, the formats its answer must be in, the saved file's suffix.
- :mod:`.client`: :class:`HttpClient` (httpx; timeouts, retries honouring Retry-After, a
  size cap, redirects) and :class:`Pacer` (one request every 3 s to arXiv hosts).
- :mod:`.state`: the per-source ETag / Last-Modified / content hash, and the fetch lock.
- :mod:`.collect`: :func:`fetch_sources`, the whole of ``digest fetch``.

Config validation reads :mod:`.kinds`, so this package's ``__init__`` imports only that:
every command reads the config, and httpx (loaded by :mod:`.client`) costs ~80 ms. Import
:func:`~.collect.fetch_sources` from :mod:`digest.fetch.collect` where it is used.

May import errors, files and sources (config for type hints); never the store, ingest or
anything after it.
"""

from __future__ import annotations

from .kinds import MAX_RESULTS, SOURCE_KINDS, SOURCE_NAME, SourceKind, check_body

__all__ = ["MAX_RESULTS", "SOURCE_KINDS", "SOURCE_NAME", "SourceKind", "check_body"]

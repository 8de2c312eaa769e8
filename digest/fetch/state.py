"""What ``digest fetch`` remembers per source between fetches: a private JSON file.

For each source: the URL last asked for, the validators its answer carried (``ETag``,
``Last-Modified``; sent back as ``If-None-Match`` / ``If-Modified-Since`` when the same
URL is asked for again, so an unchanged listing costs the server a 304), the sha256 of the
last body saved (an unchanged body that comes back with 200 is not saved twice), when it
was last checked and the file it was last saved to.

Why a file and not a table: this is a cache of HTTP validators, owned by the fetch stage,
which comes before the store. Losing it costs one full download per source and nothing
else (ingest skips a file whose content it already has, by sha256). It lives in the
instance's private ``cache_dir`` (``fetch-state.json``, mode 0600), is written whole
(atomically), and :class:`FetchLock` beside it keeps two fetches of one instance from
running at once (and from asking arXiv twice).

Imports only :mod:`digest.errors` and :mod:`digest.files`.
"""

from __future__ import annotations

import fcntl
import json
import logging
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import IO, Any

from ..errors import FetchError
from ..files import make_private_dir, write_atomically

log = logging.getLogger(__name__)

STATE_NAME = "fetch-state.json"
LOCK_NAME = "fetch.lock"


@dataclass(frozen=True)
class SourceState:
    """One source's memory: see the module docstring. Times are ISO 8601 strings as
    the file stores them; empty strings mean "not known"."""

    url: str = ""
    etag: str = ""
    last_modified: str = ""
    sha256: str = ""
    checked_at: str = ""
    saved_to: str = ""

    def conditional_headers(self, url: str) -> dict[str, str]:
        """``If-None-Match`` / ``If-Modified-Since`` for a request of ``url``: the
        validators belong to the URL they came from (a new day's URL sends none)."""
        if url != self.url:
            return {}
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class StateFile:
    """The per-source states in ``folder/fetch-state.json``."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / STATE_NAME
        self._states: dict[str, SourceState] | None = None

    def load(self) -> dict[str, SourceState]:
        """Every source's state; a missing or unreadable file is an empty memory (with a
        warning for the latter: the next fetch of each source is unconditional)."""
        if self._states is None:
            self._states = self._read()
        return self._states

    def get(self, name: str) -> SourceState:
        """The state of source ``name`` (empty if never fetched)."""
        return self.load().get(name, SourceState())

    def put(self, name: str, state: SourceState) -> None:
        """Remember ``state`` for ``name`` and write the file whole. A file that cannot be
        written is a warning, not a failure: the listing is saved already, and the next
        fetch of ``name`` is only a full download instead of a conditional one."""
        states = self.load()
        states[name] = state
        data = {key: asdict(value) for key, value in sorted(states.items())}
        try:
            make_private_dir(self.path.parent)
            write_atomically(self.path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))
        except OSError as exc:
            log.warning("%s: cannot write the fetch state (%s)", self.path, exc.strerror or exc)

    def _read(self) -> dict[str, SourceState]:
        try:
            raw: Any = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("%s: cannot read the fetch state (%s); starting afresh", self.path, exc)
            return {}
        known = {f.name for f in fields(SourceState)}
        states = {}
        if isinstance(raw, dict):
            for name, value in raw.items():
                if isinstance(value, dict):
                    kept = {k: str(v) for k, v in value.items() if k in known}
                    states[str(name)] = SourceState(**kept)
        return states


class FetchLock:
    """An exclusive lock on ``folder/fetch.lock``: one fetch per instance at a time,
    released by the system even after ``kill -9``. Raises :class:`FetchError` when
    another fetch holds it."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._file: IO[str] | None = None

    def __enter__(self) -> FetchLock:
        make_private_dir(self.path.parent)
        handle = self.path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            handle.close()
            raise FetchError(
                "another `digest fetch` of this instance is in progress; wait for it to finish"
            ) from exc
        self._file = handle
        return self

    def __exit__(self, *exc: object) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None

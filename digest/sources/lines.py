"""The lines of a listing: numbering them, and refusing a line no listing would have.

Pure; imports only :mod:`digest.errors`.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..errors import ListingError

# A real abstract is a few thousand characters; a longer "line" means the file is not a
# page saved as text (a minified JSON file, a binary blob), and the parser should say so
# at once instead of classifying a 50 MB string.
MAX_LINE_CHARS = 100_000


def check_line_lengths(text: str, source: str) -> None:
    """Reject a line longer than :data:`MAX_LINE_CHARS` before anything copies the text."""
    if len(text) <= MAX_LINE_CHARS:
        return
    # str.find runs at memory speed; keep the next LF and CR positions so each is searched
    # for once per occurrence, not once per line.
    start, number = 0, 1
    next_lf, next_cr = text.find("\n"), text.find("\r")
    while True:
        ends = [position for position in (next_lf, next_cr) if position >= 0]
        end = min(ends) if ends else len(text)
        if end - start > MAX_LINE_CHARS:
            raise ListingError(
                f"line too long: {end - start:,} characters, but a title or abstract line has "
                f"at most {MAX_LINE_CHARS:,}; this is not a daily-papers page saved as text "
                "(check the file, or pass --format if it is JSON or XML)",
                source=source,
                line=number,
            )
        if not ends:
            return
        start = end + (2 if text.startswith("\r\n", end) else 1)
        number += 1
        if 0 <= next_lf < start:
            next_lf = text.find("\n", start)
        if 0 <= next_cr < start:
            next_cr = text.find("\r", start)


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """The LF-separated lines of ``text`` one at a time, numbered from 1, so a large file is
    not held twice in memory."""
    start, number = 0, 1
    while start <= len(text):
        end = text.find("\n", start)
        if end < 0:
            end = len(text)
        yield number, text[start:end]
        start, number = end + 1, number + 1

"""Text for display: the one home of digest's clipping rule, of counted nouns and of the
bidirectional controls digest removes from listings.

Pure functions; may import nothing from digest.
"""

from __future__ import annotations

ELLIPSIS = "…"

# English month names, index 0 = January: dates in listings are parsed against them and
# dates in emails are written with them (never the locale's names).
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTH_ABBREVIATIONS = tuple(name[:3] for name in MONTH_NAMES)

# Unicode's bidirectional embeddings and overrides (U+202A-U+202E) and isolates
# (U+2066-U+2069): invisible characters that reorder the text after them, so a title can
# show as other words than it holds ("Trojan Source", CVE-2021-42574; Unicode TR #9).
# The marks U+200E/U+200F only hint a direction and stay.
BIDI_CONTROLS = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NO_BIDI = str.maketrans(dict.fromkeys(BIDI_CONTROLS))


def clip(text: str, width: int = 90, *, at_word: bool = False) -> str:
    """``text`` cut to at most ``width`` characters, ending in "…" when cut.

    ``at_word`` cuts at the last space before the limit (when there is one), so no word is
    broken; otherwise the cut falls at ``width - 1`` characters.
    """
    if len(text) <= width:
        return text
    cut = width - 1
    if at_word:
        space = text.rfind(" ", 0, width - 1)
        if space > 0:
            cut = space
    return text[:cut] + ELLIPSIS


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """``count`` and ``noun``, in the plural unless the count is one:
    ``plural(1, "subscriber")`` → "1 subscriber", ``plural(3, "new paper")`` → "3 new papers".

    Every count a person reads goes through here, so "1 subscribers" cannot come back.
    """
    return f"{count} {noun if count == 1 else plural_form or noun + 's'}"


def strip_bidi_controls(text: str) -> str:
    """``text`` without the :data:`BIDI_CONTROLS`; ``text`` itself when it has none.

    Every listing's title, abstract and authors go through here as they are stored, and
    text shown in a page or an email through here as it is cleaned for display.
    """
    # Both checks run in C; a bidi control is in category Cf, which is never printable.
    if text.isascii() or text.isprintable():
        return text
    stripped = text.translate(_NO_BIDI)
    return text if stripped == text else stripped

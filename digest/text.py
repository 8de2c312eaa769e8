"""Text for display: the one home of digest's clipping rule and of counted nouns.

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

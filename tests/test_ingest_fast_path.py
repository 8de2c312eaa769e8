"""Issue 16: well-formed plain records take a fast path; it must build exactly the record
the full path (validate and clean every field) builds, and leave everything else to it."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.sources.json_fields import FieldProblem
from digest.sources.plain_records import _checked_record, _plain_record, _well_formed_record

# Text with the characters that decide cleaning: blanks, tabs, newlines, the "|" the fast
# path joins on, non-ASCII and control characters.
TEXT = st.text(alphabet=st.sampled_from("ab Z|\t\n\u00e9\x00-9."), max_size=12)
IDS = st.one_of(TEXT, st.sampled_from(["2311.00001v2", " 2311.00001", "arXiv:2401.01234"]))
RECORDS = st.fixed_dictionaries(
    {"title": TEXT, "abstract": TEXT, "id": IDS},
    optional={
        "authors": st.one_of(st.lists(TEXT, max_size=4), TEXT, st.just([{"name": "A B"}])),
        "published": st.one_of(st.none(), st.sampled_from(["2026-11-20", "2026-13-01", " x"])),
        "upvotes": st.one_of(st.none(), st.integers(-2, 2**64), st.booleans(), st.just("7")),
        "url": st.just("https://arxiv.org/abs/2311.00002"),
    },
)


def full_path(item: dict[str, Any]) -> object:
    try:
        return _checked_record(item)
    except FieldProblem as problem:
        return f"problem: {problem}"


@settings(max_examples=500, deadline=None)
@given(RECORDS)
def test_the_fast_path_builds_what_the_full_path_builds(item: dict[str, Any]) -> None:
    fast = _well_formed_record(item)
    if fast is not None:
        assert fast == full_path(item)
    try:
        assert _plain_record(item) == full_path(item)
    except FieldProblem as problem:
        assert full_path(item) == f"problem: {problem}"


def test_a_typical_export_record_takes_the_fast_path() -> None:
    item = {
        "id": "2311.00001v2",
        "title": "Program Synthesis With Models 1",
        "abstract": "We study program synthesis.",
        "authors": ["Author 1", "Author 2"],
        "published": "2026-11-20",
        "upvotes": 12,
    }
    fast = _well_formed_record(item)
    assert fast is not None and fast == _checked_record(item)
    assert fast.arxiv_id == "2311.00001" and fast.authors == ("Author 1", "Author 2")


def test_fields_that_need_cleaning_or_checking_take_the_full_path() -> None:
    base = {"id": "x-1", "title": "A title", "abstract": "An abstract."}
    for change in (
        {"title": "A  title"},
        {"title": " A title"},
        {"abstract": "Ünïcode"},
        {"authors": ["A ", "B"]},
        {"authors": "A, B and C"},
        {"upvotes": True},
        {"upvotes": -1},
        {"published": "yesterday"},
        {"url": "https://example.org/x"},
        {"categories": ["cs.LG"]},
    ):
        assert _well_formed_record({**base, **change}) is None, change

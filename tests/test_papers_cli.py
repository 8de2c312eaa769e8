"""`digest papers list|search|show` against a real store."""

from __future__ import annotations

import json


def test_list_search_show(run_cli, shared_listings):
    assert run_cli("ingest", "--date", "2026-11-20", str(shared_listings[0])).exit_code == 0
    assert run_cli("ingest", "--date", "2026-11-22", str(shared_listings[1])).exit_code == 0

    everything = json.loads(run_cli("papers", "list", "--json").output)
    recent = json.loads(run_cli("papers", "list", "--since", "2026-11-21", "--json").output)
    assert len(everything) > len(recent) > 0
    assert {p["first_seen"] for p in recent} == {"2026-11-22"}

    found = json.loads(run_cli("papers", "search", "CodeT5", "--json").output)
    assert found and "CodeT5" in found[0]["title"]

    shown = run_cli("papers", "show", found[0]["id"])
    assert shown.exit_code == 0
    assert shown.output.splitlines()[0] == found[0]["title"]
    assert f"listed in:  {shared_listings[0]}" in shown.output


def test_search_input_is_not_fts_syntax(run_cli, shared_listings):
    run_cli("ingest", str(shared_listings[0]))
    result = run_cli("papers", "search", 'code" OR NEAR(')
    assert result.exit_code == 0
    assert "Traceback" not in result.output


def test_show_unknown_paper(run_cli):
    result = run_cli("papers", "show", "9999.99999")
    assert result.exit_code == 1
    assert result.output == ("Error: no paper with id '9999.99999'; try `digest papers search`\n")

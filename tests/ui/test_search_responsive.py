"""Search never stalls a keystroke (issue 13): the real app with every search held for as long as
the test likes (KIOSK_TEST_SEARCH_GATE, screens/devtools/search_gate.py), as a slow disk or a huge
library would hold it. While the first search is held, the next keys still show in the field at
once; once the search goes on, the results are those of the newest query, and the queries typed
in between were never searched."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.ui


def test_typing_goes_on_while_a_search_is_held(start_kiosk, tmp_path):
    gate = tmp_path / "search-gate"
    gate.write_text("held", encoding="utf-8")
    log = tmp_path / "search-gate.log"
    kiosk = start_kiosk(KIOSK_TEST_SEARCH_GATE=str(gate))

    def searches() -> list[dict]:
        return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []

    kiosk.touch_to_start()
    kiosk.type_search("b")
    kiosk.wait(lambda s: searches(), what="the search for 'b' to start (and be held)")
    assert searches() == [{"query": "b", "thread": "search"}], "the search runs on its own thread"

    # the search for "b" is held: the keys go on showing in the field, frame by frame
    snap = kiosk.type_search_more("ag")
    assert not any(b["id"].startswith("guide:") for b in snap["buttons"]), "no results yet: the search is held"
    # Search: the keyboard goes away at once too, and "bag" is what waits behind the held search
    kiosk.tap_and_wait("key:enter", lambda s: not any(b["id"].startswith("key:") for b in s["buttons"]),
                       "the keyboard hidden while the search is held")

    gate.unlink()
    snap = kiosk.wait(lambda s: any(b["id"] == "guide:lost-baggage" for b in s["buttons"])
                      and "Results for \u201cbag\u201d" in s["labels"], what="the results for 'bag'")
    assert [s["query"] for s in searches()] == ["b", "bag"], "only the newest query is searched next"
    # what the traveller settles on is recorded with the newest query's hits
    kiosk.tap("guide:lost-baggage")
    kiosk.wait_screen("step")
    search = next(e for e in kiosk.events() if e["type"] == "search")
    assert search["data"]["query"] == "bag" and search["data"]["hits"] >= 1

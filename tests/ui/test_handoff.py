"""An unregistered kiosk (no device token, no server) offers no "Continue on your phone": no
server could open its QR code. The configured case, a QR code on the public address read off the
screen, is in test_customer_flow.py."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.ui


def no_handoff(snap: dict) -> bool:
    return not any(b["id"] == "handoff" for b in snap["buttons"])


def test_an_unregistered_kiosk_offers_no_handoff(start_kiosk, library):
    kiosk = start_kiosk()
    steps = library.guides["lost-baggage"].steps
    kiosk.touch_to_start()
    kiosk.type_search("bag")
    kiosk.tap("guide:lost-baggage")
    snap = kiosk.wait(lambda s: s["screen"] == "step" and steps["belt"].text["en"] in s["labels"], what="the step")
    bar = {b["id"] for b in snap["buttons"]}
    assert {"back", "restart", "home"} <= bar, "the step's bar is drawn"
    assert no_handoff(snap), "no handoff button on a step"

    # belt -> waited -> wait-more -> found (resolved)
    for index, target in ((0, "waited"), (1, "wait-more")):
        kiosk.tap_and_wait(f"choice:{index}", lambda s, t=target: steps[t].text["en"] in s["labels"], f"step {target}")
    kiosk.tap("choice:0")
    snap = kiosk.wait_screen("outcome")
    assert "back" in {b["id"] for b in snap["buttons"]} and no_handoff(snap), "no handoff button on the outcome"

    kiosk.tap("helped:yes")
    kiosk.wait_screen("thanks")
    kiosk.tap("thanks:more")
    kiosk.wait_screen("feedback")
    kiosk.tap("feedback:skip")
    snap = kiosk.wait_screen("thanks")
    assert "thanks:home" in {b["id"] for b in snap["buttons"]} and no_handoff(snap), "no handoff button on thanks"
    assert not any(e["type"] == "handoff_shown" for e in kiosk.events())

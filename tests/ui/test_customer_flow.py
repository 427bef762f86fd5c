"""A customer's whole visit, tapped on the real app: attract, search by on-screen keyboard, a
guide, the QR handoff, three choices, Back, the outcome, feedback with a typed comment, home again.

The kiosk is registered (a device token and the server's public address) but has no network to
the server: the QR code is still offered, on the public address, since the phone has its own."""

from __future__ import annotations

import pytest

from contract.handoff import handoff_key, parse_url, verify

pytestmark = pytest.mark.ui

TOKEN, PUBLIC_URL = "kt_customer_flow_test", "https://help.example.org"


def test_search_guide_choices_back_outcome_feedback(start_kiosk, library):
    kiosk = start_kiosk(KIOSK_TOKEN=TOKEN, KIOSK_PUBLIC_URL=PUBLIC_URL)
    guide = library.guides["lost-baggage"]
    steps = guide.steps

    snap = kiosk.probe()
    assert snap["session"] is None
    snap = kiosk.touch_to_start()
    assert "How can we help?" in snap["labels"]
    assert any(b["id"] == "lang:ar" for b in snap["buttons"]), "the language picker is on home"
    assert any(b["id"].startswith("category:") for b in snap["buttons"])

    kiosk.tap_and_wait("search-field", lambda s: any(b["id"] == "key:b" for b in s["buttons"]),
                       "the on-screen keyboard")
    for key in "bag":
        kiosk.tap_and_wait(f"key:{key}", lambda s, k=key: any(b["text"].startswith("bag"[: "bag".index(k) + 1])
                                                             for b in s["buttons"] if b["id"] == "search-field"),
                           f"the search field to show {key}")
    snap = kiosk.wait_label("Results for \u201cbag\u201d")
    result_ids = [b["id"] for b in snap["buttons"] if b["id"].startswith("guide:")]
    assert "guide:lost-baggage" in result_ids

    # one letter too many: what the correction finds, under "Did you mean “bag”?", recorded as
    # offered once the customer pauses on it
    snap = kiosk.tap_and_wait("key:q", lambda s: "Did you mean \u201cbag\u201d?" in s["labels"], "the correction")
    assert any(b["id"] == "did-you-mean" for b in snap["buttons"])
    assert "guide:lost-baggage" in [b["id"] for b in snap["buttons"]]
    kiosk.wait(lambda s: any(e["type"] == "search" for e in kiosk.events()), what="the correction recorded")
    # nothing near: a clear "no results" that still offers the categories, recorded once the
    # customer pauses on it
    snap = kiosk.tap_and_wait("key:x", lambda s: "No guides match \u201cbagqx\u201d" in s["labels"], "no results")
    assert "Try another word, or pick a category:" in snap["labels"]
    assert any(b["id"].startswith("category:") for b in snap["buttons"])
    assert not any(b["id"].startswith("guide:") for b in snap["buttons"])
    kiosk.wait(lambda s: sum(e["type"] == "search" for e in kiosk.events()) == 2, what="the search recorded")
    kiosk.tap_and_wait("key:delete", lambda s: "Did you mean \u201cbag\u201d?" in s["labels"], "the correction again")
    kiosk.tap_and_wait("did-you-mean", lambda s: "Results for \u201cbag\u201d" in s["labels"], "results again")

    kiosk.tap("guide:lost-baggage")
    snap = kiosk.wait_screen("step")
    assert steps["belt"].text["en"] in snap["labels"]
    assert "Step 1" in snap["labels"]
    choice_buttons = [b for b in snap["buttons"] if b["id"].startswith("choice:")]
    assert [b["text"] for b in choice_buttons] == [c.label["en"] for c in steps["belt"].choices]

    # "Continue on your phone": a QR code a phone can read from the screen, holding the URL shown
    snap = kiosk.tap_and_wait("handoff", lambda s: s["screen"] == "handoff", "the QR code")
    url = next(label for label in snap["labels"] if label.startswith("http"))
    qr = kiosk.read_qr()
    assert qr.text == url and qr.ec_level in ("M", "Q", "H")
    assert qr.position.top_right.x - qr.position.top_left.x >= 300, "scannable from 1 m"
    assert url.startswith(PUBLIC_URL + "/c/") and "/lost-baggage/" in url and "/belt?" in url
    handoff, signature = parse_url(url)
    assert verify(handoff, signature, handoff_key(TOKEN)), "signed with the key the server holds for this token"
    kiosk.tap_and_wait("handoff:close", lambda s: steps["belt"].text["en"] in s["labels"], "back on the step")

    # belt -> waited -> wait-more -> tag: three choices, each drawing the next step
    walk = [("belt", 0), ("waited", 1), ("wait-more", 1)]
    for step_id, index in walk:
        target = steps[step_id].choices[index].next
        kiosk.tap_and_wait(f"choice:{index}", lambda s, t=target: steps[t].text["en"] in s["labels"],
                           f"step {target}")
    snap = kiosk.probe()
    assert "Step 4" in snap["labels"]

    kiosk.tap_and_wait("back", lambda s: steps["wait-more"].text["en"] in s["labels"], "Back to wait-more")
    kiosk.tap("choice:0")  # "I found my bag" -> found (resolved)
    snap = kiosk.wait_screen("outcome")
    assert "This should solve it." in snap["labels"]
    assert steps["found"].text["en"] in snap["labels"]
    assert "Did this help?" in snap["labels"]

    # one tap at the outcome; stars and a comment only when asked for ("Tell us more")
    snap = kiosk.tap_and_wait("helped:yes", lambda s: s["screen"] == "thanks", "thanks")
    assert "Glad it helped!" in snap["labels"]
    kiosk.tap("thanks:more")
    kiosk.wait_screen("feedback")
    kiosk.tap_and_wait("stars:4", lambda s: kiosk.lit_stars(s) == [1, 2, 3, 4], "four stars lit")
    kiosk.type("Clear steps, call me on 0612 345 678")
    typed = "Clear steps, call me on 0612 345 678"
    kiosk.wait(lambda s: typed + "|" in s["labels"], what="the typed comment")
    for key, char in (("space", " "), ("o", "o"), ("k", "k")):
        typed += char
        kiosk.tap_and_wait(f"key:{key}", lambda s, t=typed: t + "|" in s["labels"], f"the comment to show {typed!r}")
    kiosk.tap("feedback:send")
    snap = kiosk.wait_screen("thanks")
    assert "Thank you for your feedback!" in snap["labels"]
    kiosk.tap("thanks:home")
    snap = kiosk.wait_screen("home")
    assert snap["session"] is not None

    events = kiosk.events()
    assert {e["session"] for e in events} == {snap["session"]}, "one customer, one session id"
    kinds = [e["type"] for e in events]
    assert kinds == ["session_start", "search", "search", "search", "search",
                     "step_view", "handoff_shown", "choice", "step_view", "choice", "step_view", "choice", "step_view",
                     "back", "step_view", "choice", "step_view", "outcome", "feedback"]
    offered = {"query": "bagq", "hits": 0, "suggestion": "bag", "suggestion_taken": False}
    assert {**events[1]["data"], "suggestion_hits": None} == {**offered, "suggestion_hits": None}
    assert events[1]["data"]["suggestion_hits"] >= 1
    assert events[2]["data"] == {"query": "bagqx", "hits": 0}
    assert events[3]["data"] == {**events[1]["data"], "suggestion_taken": True}
    search = events[4]
    assert search["data"]["query"] == "bag" and search["data"]["hits"] >= len(result_ids) >= 1
    assert events[6]["data"] == {"url": url} and events[6]["step"] == "belt"
    views = [e for e in events if e["type"] == "step_view"]
    assert [e["step"] for e in views] == ["belt", "waited", "wait-more", "tag", "wait-more", "found"]
    assert all(e["guide"] == "lost-baggage" for e in views)
    assert [e["data"]["index"] for e in events if e["type"] == "choice"] == [0, 1, 1, 0]
    assert next(e for e in events if e["type"] == "back")["data"] == {"from": "tag"}
    assert events[-2]["data"] == {"outcome": "resolved"}
    feedback = events[-1]["data"]
    assert feedback["helped"] is True and feedback["rating"] == 4
    assert feedback["comment"].startswith("Clear steps") and "[phone removed]" in feedback["comment"]
    assert "0612" not in feedback["comment"], "phone numbers never reach the outbox"

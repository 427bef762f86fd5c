"""Customer sessions through the session engine, on a real store: where each tap leads, what the
outbox holds afterwards, and that nothing of one customer is left for the next."""

from __future__ import annotations

import json

import pytest
from library_factory import write_library

from contract.events import EVENT_TYPES, scrub
from contract.validation import load_library
from kiosk.engine import EngineError, SessionEngine


@pytest.fixture
def engine(store, tmp_path):
    store.import_library(load_library(write_library(tmp_path / "library")))
    return SessionEngine(store, "kiosk-7")


def outbox(engine: SessionEngine) -> list[dict]:
    return [e.body for e in engine.store.take_batch(limit=10_000)]


def types(engine: SessionEngine) -> list[str]:
    return [e["type"] for e in outbox(engine)]


def test_a_walk_to_an_outcome(engine):
    engine.start_session()
    view = engine.open_guide("lost-baggage")
    assert (view.step_id, view.depth, view.is_outcome) == ("arrived", 1, False)
    assert view.text == "Did your bag come out on the baggage belt?"
    assert view.choices == ("No, it never came", "Yes, but it is damaged", "Wi-Fi help instead")
    assert view.image == "images/belt.png"
    view = engine.choose(0)
    assert (view.step_id, view.depth, view.outcome, view.path) == ("report", 2, "resolved", (0,))
    engine.feedback(True, 5)
    engine.end_session()
    assert types(engine) == [
        "session_start",
        "step_view",
        "choice",
        "step_view",
        "outcome",
        "feedback",
        "session_end",
    ]


def test_escalate_outcome_is_recorded(engine):
    engine.start_session()
    engine.open_guide("lost-baggage")
    assert engine.choose(1).outcome == "escalate"
    [outcome] = [e for e in outbox(engine) if e["type"] == "outcome"]
    assert outcome["data"] == {"outcome": "escalate"} and outcome["step"] == "damaged"


def test_back_and_restart(engine):
    engine.start_session()
    engine.open_guide("lost-passport")
    engine.choose(0)
    assert engine.back().step_id == "where"
    assert engine.choose(1).step_id == "embassy"
    assert engine.restart().step_id == "where"
    assert engine.back() is None  # out of the guide, to the home screen
    assert engine.position is None
    assert types(engine) == [
        "session_start",
        "step_view",
        "choice",
        "step_view",
        "outcome",
        "back",
        "step_view",
        "choice",
        "step_view",
        "outcome",
        "restart",
        "step_view",
        "back",
    ]


def test_jump_to_another_guide_and_back(engine):
    engine.start_session()
    engine.open_guide("lost-baggage")
    view = engine.choose(2)
    assert (view.guide_id, view.step_id, view.depth) == ("airport-wifi", "connect", 1)
    assert view.guide_title == "Free airport Wi-Fi"
    back = engine.back()
    assert (back.guide_id, back.step_id) == ("lost-baggage", "arrived")
    choice = next(e for e in outbox(engine) if e["type"] == "choice")
    assert choice["guide"] == "lost-baggage" and choice["data"]["guide"] == "airport-wifi"


def test_the_chosen_language_shows_and_falls_back(engine):
    engine.start_session("zh")
    view = engine.open_guide("airport-wifi")
    assert view.text == "请选择网络 AIRPORT-FREE 并打开任意网页。" and view.language == "zh"
    assert engine.open_guide("lost-passport").text == "Did you lose it inside the airport?"  # only English
    engine.set_language("es")
    assert [e["data"] for e in outbox(engine) if e["type"] == "language"] == [{"from": "zh", "to": "es"}]


def test_invalid_requests_are_refused(engine):
    with pytest.raises(EngineError):
        engine.choose(0)  # no session
    engine.start_session()
    with pytest.raises(EngineError):
        engine.open_guide("no-such-guide")
    engine.open_guide("lost-passport")
    with pytest.raises(EngineError):
        engine.choose(7)


@pytest.mark.parametrize("rating", [0, 6, -1, 100, 4.5, True, "5"])
def test_rating_outside_1_to_5_is_refused(engine, rating):
    engine.start_session()
    engine.open_guide("lost-passport")
    engine.choose(0)
    with pytest.raises(EngineError):
        engine.feedback(True, rating)
    assert "feedback" not in types(engine)


@pytest.mark.parametrize("rating", [1, 5, None])
def test_rating_within_bounds_is_kept(engine, rating):
    engine.start_session()
    engine.open_guide("lost-passport")
    engine.choose(0)
    engine.feedback(False, rating)
    [fb] = [e for e in outbox(engine) if e["type"] == "feedback"]
    assert fb["data"]["rating"] == rating and fb["data"]["helped"] is False


def test_feedback_is_given_once_per_outcome(engine):
    engine.start_session()
    engine.open_guide("lost-passport")
    engine.choose(0)
    engine.feedback(True, 4)
    with pytest.raises(EngineError):
        engine.feedback(True, 4)


@pytest.mark.parametrize(
    ("comment", "secret"),
    [
        ("call me on +44 20 7946 0958 please", "7946"),
        ("mail john.doe@example.co.uk thanks", "john.doe"),
        ("my number is 555-123-4567", "555-123"),
        ("ring (555) 123-4567 after 6", "123-4567"),
        ("0044 20 7946 0958", "7946"),
        ("+1.555.123.4567", "555.123"),
        ("write to JANE_SMITH+kiosk@mail.example.org", "JANE_SMITH"),
        ("anna at example dot com", "example dot com"),
    ],
)
def test_comments_are_scrubbed_of_contact_details(engine, comment, secret):
    engine.start_session()
    engine.open_guide("lost-passport")
    engine.choose(0)
    engine.feedback(False, 2, comment)
    [fb] = [e for e in outbox(engine) if e["type"] == "feedback"]
    assert secret not in fb["data"]["comment"]
    assert "removed]" in fb["data"]["comment"]
    # Nothing in any stored event (not only the comment) keeps it; uuids are left out, being random hex.
    stored = [{k: v for k, v in e.items() if k != "uuid"} for e in outbox(engine)]
    assert secret not in json.dumps(stored, ensure_ascii=False)


@pytest.mark.parametrize(
    "comment",
    ["Gate 12 was closed", "Flight BA 2490 at 14:30", "5 stars, belt 4", "waited 45 minutes in 2026"],
)
def test_scrubbing_keeps_ordinary_numbers(comment):
    assert scrub(comment) == comment


def test_idle_timeout_wipes_the_session(engine):
    engine.start_session("es")
    engine.open_guide("lost-baggage")
    engine.choose(0)
    old_session = engine.session_id
    engine.idle_timeout()
    assert engine.session_id is None and engine.position is None and engine.language == "en"
    with pytest.raises(EngineError):
        engine.back()
    new_session = engine.start_session()
    assert new_session != old_session
    assert not engine.can_go_back
    assert engine.back() is None  # nothing of the last customer to go back into
    assert types(engine)[-3:] == ["idle_timeout", "session_end", "session_start"]


def test_events_are_well_formed_and_ordered(engine):
    engine.start_session()
    engine.open_guide("lost-baggage")
    engine.choose(2)
    engine.back()
    engine.choose(0)
    engine.feedback(True, 5, "great")
    engine.end_session()
    events = outbox(engine)
    assert [e["type"] for e in events] == [
        "session_start",
        "step_view",
        "choice",
        "step_view",
        "back",
        "step_view",
        "choice",
        "step_view",
        "outcome",
        "feedback",
        "session_end",
    ]
    assert all(e["type"] in EVENT_TYPES for e in events)
    assert len({e["uuid"] for e in events}) == len(events)
    assert {e["session"] for e in events} == {events[0]["session"]}
    assert {e["device"] for e in events} == {"kiosk-7"}
    monos = [e["mono"] for e in events]
    assert monos == sorted(monos) and monos[0] >= 0
    guide_versions = dict(engine.store.guide_versions())
    for e in events[1:-1]:
        assert e["guide"] in ("lost-baggage", "airport-wifi")
        assert e["guide_version"] == guide_versions[e["guide"]][0]
    steps = [(e["type"], e["guide"], e["step"]) for e in events if e["type"] in ("step_view", "outcome")]
    assert steps == [
        ("step_view", "lost-baggage", "arrived"),
        ("step_view", "airport-wifi", "connect"),
        ("step_view", "lost-baggage", "arrived"),
        ("step_view", "lost-baggage", "report"),
        ("outcome", "lost-baggage", "report"),
    ]


def test_a_new_guide_version_is_named_in_events(engine, tmp_path):
    from library_factory import base_guides

    guides = base_guides()
    guides["lost-passport.yaml"]["steps"]["police"]["text"] = "Report it to the police on level 2."
    engine.store.import_library(load_library(write_library(tmp_path / "v2", guides)))
    engine.start_session()
    view = engine.open_guide("lost-passport")
    assert view.guide_version == 2
    assert engine.choose(0).text == "Report it to the police on level 2."
    assert {e["guide_version"] for e in outbox(engine) if e["guide"]} == {2}


def test_search_from_the_engine_is_recorded_scrubbed(engine):
    engine.start_session("es")
    hits = engine.search("maleta")
    assert [h.guide_id for h in hits] == ["lost-baggage"]
    engine.record_search("maleta 555-123-4567", len(hits))
    [search] = [e for e in outbox(engine) if e["type"] == "search"]
    assert search["data"] == {"query": "maleta [phone removed]", "hits": 1}

"""Progress in a guide (issue 12): steps taken / (taken + the shortest remaining path to an end)."""

from __future__ import annotations

import pytest
from library_factory import write_library

from contract.guides import Choice, Guide, Step
from contract.validation import load_library
from kiosk.engine import SessionEngine, steps_to_end


@pytest.fixture
def engine(store, tmp_path):
    store.import_library(load_library(write_library(tmp_path / "library")))
    return SessionEngine(store, "kiosk-7")


def test_progress_runs_from_nothing_to_done(engine):
    engine.start_session()
    first = engine.open_guide("lost-baggage")
    assert (first.remaining, first.progress) == (1, 0.0)
    last = engine.choose(0)
    assert (last.remaining, last.progress) == (0, 1.0)


def test_the_shortest_path_counts_not_the_longest():
    def step(sid, *nexts, end=None):
        return Step(id=sid, text={"en": sid}, choices=tuple(Choice(label={"en": n}, next=n) for n in nexts), end=end)

    steps = {s.id: s for s in [step("a", "b", "c"), step("b", "d"), step("c", end="resolved"),
                               step("d", "e"), step("e", end="escalate")]}
    guide = Guide(id="g", language="en", title={"en": "g"}, category={"en": "c"}, keywords={}, start="a",
                  steps=steps)
    assert [steps_to_end(guide, s) for s in "abcde"] == [1, 2, 0, 1, 0]


def test_a_jump_to_another_guide_is_one_step_to_its_end():
    steps = {"a": Step(id="a", text={"en": "a"}, choices=(Choice(label={"en": "b"}, next="b"),
                                                           Choice(label={"en": "wifi"}, guide="wifi"))),
             "b": Step(id="b", text={"en": "b"}, choices=(Choice(label={"en": "c"}, next="c"),)),
             "c": Step(id="c", text={"en": "c"}, choices=(), end="resolved")}
    guide = Guide(id="g", language="en", title={"en": "g"}, category={"en": "c"}, keywords={}, start="a",
                  steps=steps)
    assert [steps_to_end(guide, s) for s in "abc"] == [1, 1, 0]

"""kiosk/collector.py: after settled() what lived at start is frozen and the automatic full
collection is out of the way; between_sessions() frees what the sessions left, and after new
content also the old content's cycles, which were frozen."""

from __future__ import annotations

import gc
import weakref

import pytest

from kiosk.collector import GEN0, GEN1, Collector


class Node:
    def __init__(self):
        self.me = self  # a cycle: only the cyclic collector frees it


@pytest.fixture
def collector():
    thresholds = gc.get_threshold()
    made = Collector()
    yield made
    made.close()
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_full_collections_move_between_sessions(collector):
    old_content = Node()
    gone_with_the_content = weakref.ref(old_content)
    collector.settled()
    assert gc.get_freeze_count() > 0 and gc.get_threshold()[:2] == (GEN0, GEN1)
    assert [asked for _gen, _ms, asked in collector.pauses] == [True], "only settled()'s own: the start's are forgotten"

    session = Node()
    left_by_a_session = weakref.ref(session)
    del session, old_content
    collector.between_sessions()
    assert left_by_a_session() is None, "what a session left is freed between sessions"
    assert gone_with_the_content() is not None, "frozen: no ordinary collection walks it again"

    collector.between_sessions(content_changed=True)
    assert gone_with_the_content() is None, "after new content the frozen objects are collected too"
    assert gc.get_freeze_count() > 0, "and what survives is frozen again"
    assert collector.worst(explicit=True) > 0, "the pauses asked for are recorded apart"

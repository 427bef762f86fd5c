"""Did it help? and Where customers need a person, on the real server (SQLite and PostgreSQL), each
number checked against the generated events counted in Python (tests/dashboard/expected.py). The
history's lost-baggage version 2 really is better at its first step (devtools.simulate.Improvement),
and the page must say so; a figure with too few sessions must say "not enough sessions yet"."""

from __future__ import annotations

import re

from . import expected
from .test_dashboard import table_rows, tile, whole_history


def _counts(cell: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) of (\d+)", cell)
    assert m, cell
    return int(m.group(1)), int(m.group(2))


def test_did_it_help_finds_the_step_that_really_improved_and_where_people_are_needed(server):
    """(one test: a server of its own costs seconds per backend)"""
    period = whole_history(server)
    with server.client() as c:
        page = c.get(f"/dashboard/guides/lost-baggage?{period.query()}&compare=versions&a=1&b=2").text
        people = c.get(f"/dashboard/people?{period.query()}").text
    old, new = (expected.version_arm(server.events, "lost-baggage", v) for v in (1, 2))
    assert f"Version 2 ({new['sessions']} sessions) against version 1 ({old['sessions']} sessions)" in page
    figures = {r[0]: r for r in table_rows(page, "help-figures")}
    assert _counts(figures["Walked away"][1]) == (old["walked_away"], old["sessions"])
    assert _counts(figures["Walked away"][2]) == (new["walked_away"], new["sessions"])
    assert _counts(figures["Resolved"][2]) == (new["resolved"], new["sessions"])
    steps = {r[0]: r for r in table_rows(page, "help-steps")}
    assert _counts(steps["belt"][1]) == tuple(reversed(old["steps"]["belt"]))
    assert _counts(steps["belt"][2]) == tuple(reversed(new["steps"]["belt"]))
    assert steps["belt"][4].startswith("better")
    # The other steps did not change: none is called better or worse by chance (Holm).
    assert not [s for s, r in steps.items() if s != "belt" and r[4].startswith(("better", "worse"))]
    # A few hundred ratings cannot show a quarter of a star: the page says so, and how many more.
    assert re.search(r"not enough sessions yet — about \d+ more sessions needed on the smaller side", figures["Average rating"][4])

    # Where customers need a person: escalations, walk-aways and staff time per step, all guides.
    page = people
    want = expected.need_a_person(server.events)
    assert tile(page, "escalations") == str(want["escalated"])
    assert tile(page, "self-service") == f"{100 * want['self_served'] / want['sessions']:.0f}%"
    weeks = ((period.end - period.start).days + 1) / 7
    assert tile(page, "staff-time") == f"{want['escalated'] * 6 / 60 / weeks:.1f} h"
    rows = table_rows(page, "people-steps")
    assert len(rows) == 25
    for guide, step, views, asked, walked, _share, _hours in rows:
        assert [int(views), int(asked), int(walked)] == want["steps"][(guide, step)], (guide, step)
    lost = sorted((v[1] + v[2] for v in want["steps"].values()), reverse=True)
    assert [int(r[3]) + int(r[4]) for r in rows] == lost[:25], "the steps that lose most, first"

"""The staff dashboard against the real server, on SQLite and PostgreSQL: every number a page shows
is checked against the raw generated events counted in Python (tests/dashboard/expected.py)."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from devtools.server_screenshots import PAGES, browser, log_in
from devtools.simulate import EDITS
from offline_cache.store import Store

from . import expected
from .conftest import FORMULA_COMMENT, PASSWORD, TEST_DEVICE, TEST_LOCATION, USER, XSS_COMMENT

ALL_PAGES = [path for _, path, _ in PAGES] + ["/dashboard/feedback.csv", "/dashboard/you-said.csv"]


def whole_history(server) -> expected.Period:
    return expected.Period(server.history.start.date(), datetime.now(UTC).date())


def tile(page: str, tile_id: str) -> str:
    m = re.search(rf'id="{tile_id}"><span class="n">([^<]*)</span>', page) or \
        re.search(rf'<b id="{tile_id}">([^<]*)</b>', page)
    assert m, f"no {tile_id} on the page"
    return html.unescape(m.group(1))


def table_rows(page: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="data" id="{table_id}">.*?<tbody>(.*?)</tbody>', page, re.DOTALL).group(1)
    rows = []
    for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.DOTALL):
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", td)).strip() for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.DOTALL)])
    return rows


def test_logged_out_staff_are_sent_to_the_login_page(server):
    with server.client(logged_in=False) as anon:
        for path in ALL_PAGES:
            r = anon.get(path, headers={"accept": "text/html"})
            assert r.status_code == 303 and r.headers["location"].startswith("/dashboard/login"), path
        assert anon.get("/dashboard/feedback.csv").status_code == 401
        assert anon.post("/dashboard/library/1/rollback", data={"csrf": "x"}).status_code == 303
        bad = anon.post("/dashboard/login", data={"username": USER, "password": "wrong password"})
        assert bad.status_code == 401 and "Wrong username or password" in bad.text


@pytest.mark.parametrize("narrow", ["all", "site+lang+2weeks", "lab"])
def test_overview_counts_match_the_raw_events(server, narrow):
    period = whole_history(server)
    if narrow == "site+lang+2weeks":
        period = expected.Period(period.end - timedelta(days=13), period.end, "Airport T2 Arrivals", "es")
    elif narrow == "lab":  # sessions that came in through ingest, shuffled and partly twice
        period = expected.Period(period.end - timedelta(days=5), period.end, TEST_LOCATION)
    want = expected.overview(server.events, period, server.locations)
    with server.client() as c:
        page = c.get(f"/dashboard?{period.query()}").text
    assert want["sessions"] > {"all": 4000, "site+lang+2weeks": 10, "lab": 50}[narrow]
    for key in ("sessions", "guides-started", "resolved", "escalated", "walked-away", "abandoned-home",
                "rating", "handoffs", "handoffs-opened"):
        assert tile(page, key) == str(want[key]), key
    assert f"average rating ({want['ratings']} ratings)" in page
    # The per-day chart: one bar per day, each bar's tooltip carries its count.
    bars = re.findall(r'<rect class="bar"[^>]*><title>([0-9-]+): ([0-9]+)</title>', page)
    days = [(period.start + timedelta(days=n)) for n in range((period.end - period.start).days + 1)]
    assert [int(n) for _, n in bars[:len(days)]] == [want["per_day"].get(d, 0) for d in days]
    assert sum(int(n) for _, n in bars[len(days):]) == want["sessions"]  # the hour-of-day chart


def test_guide_page_shows_versions_arrows_whether_it_helped_and_where_people_are_needed(server):
    """(the comparison pages ride on this test's server: one more server per backend costs seconds)"""
    check_did_it_help_and_need_a_person(server)
    period = whole_history(server)
    with server.client() as c:
        listing = c.get(f"/dashboard/guides?{period.query()}").text
        assert "lost-baggage" in listing and "<svg" in listing
        page = c.get(f"/dashboard/guides/lost-baggage?{period.query()}&version=2").text
    # The test feedback carried hostile comments but no step views: it changes no version row.
    want = expected.guide_versions(server.events, period, server.locations, "lost-baggage")
    rows = {int(r[0][1:]): r for r in table_rows(page, "versions")}
    assert set(rows) == {1, 2, 3} == set(want)
    for v, row in rows.items():
        assert [int(row[1]), int(row[2]), int(row[3])] == \
            [want[v]["sessions"], want[v]["resolved"], want[v]["escalated"]], v
    drawn = dict(re.findall(r'data-choice="([^"]+)" data-count="(\d+)"', page))
    arrows = expected.arrows(server.events, period, server.locations, "lost-baggage", 2)
    assert arrows and {k: int(v) for k, v in drawn.items() if int(v)} == arrows
    assert drawn.keys() >= {"belt/0", "belt/1", "belt/2"}  # every choice drawn, taken or not
    steps = server.history.library.guides["lost-baggage"].steps
    assert page.count('class="step"') == len(steps) + 1  # every step, and the jump to lost-and-found


def _counts(cell: str) -> tuple[int, int]:
    m = re.search(r"\((\d+) of (\d+)", cell)
    assert m, cell
    return int(m.group(1)), int(m.group(2))


def check_did_it_help_and_need_a_person(server) -> None:
    """Did it help? and Where customers need a person, each number against the generated events
    counted in Python. The history's lost-baggage version 2 really is better at its first step
    (devtools.simulate.Improvement), and the page must say so; a figure with too few sessions must
    say "not enough sessions yet"."""
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


def test_feedback_is_filtered_newest_first_and_exported_as_safe_csv(server):
    period = whole_history(server)
    with server.client() as c:
        page = c.get(f"/dashboard/feedback?{period.query()}").text
        assert tile(page, "feedback-total") == str(len(expected.feedback(server.events, period, server.locations)))
        filtered = c.get(f"/dashboard/feedback?{period.query()}&guide=gift-cards&rating=2").text
        want = expected.feedback(server.events, period, server.locations, guide="gift-cards", rating=2)
        assert int(tile(filtered, "feedback-total")) == len(want) > 0
        rows = table_rows(filtered, "feedback")
        assert all(r[1].startswith("gift-cards") and r[5] == "★★☆☆☆" for r in rows)
        assert [r[0] for r in rows] == sorted((r[0] for r in rows), reverse=True)
        lab = c.get(f"/dashboard/feedback?{period.query()}&device={TEST_DEVICE}").text
        lab_feedback = expected.feedback(server.events, period, server.locations, device=TEST_DEVICE)
        assert tile(lab, "feedback-total") == str(len(lab_feedback))
        assert "&lt;script&gt;alert(" in lab and "<script>alert" not in lab and "<img src=x" not in lab
        export = c.get(f"/dashboard/feedback.csv?{period.query()}&device={TEST_DEVICE}")
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        cells = list(csv.DictReader(io.StringIO(export.text)))
        assert len(cells) == len(lab_feedback)
        comments = [r["comment"] for r in cells]
        assert XSS_COMMENT in comments and "'" + FORMULA_COMMENT in comments
        assert not any(v[:1] in "=+-@" and v for r in cells for v in r.values())
        everything = list(csv.DictReader(io.StringIO(c.get(f"/dashboard/feedback.csv?{period.query()}").text)))
        assert len(everything) == len(expected.feedback(server.events, period, server.locations))


def test_search_page_lists_top_and_no_result_queries(server, tmp_path):
    period = whole_history(server)
    total, none, top, missing = expected.searches(server.events, period, server.locations)
    with server.client() as c:
        page = c.get(f"/dashboard/search?{period.query()}").text
    assert tile(page, "search-total") == str(total) and tile(page, "search-none") == str(none)
    assert [(q, int(n)) for q, n in table_rows(page, "top-queries")] == top
    gaps = expected.no_result_queries(server.events, period, server.locations)
    rows = table_rows(page, "no-results")
    assert [(q, lang, int(n)) for q, lang, n, _ in rows] == gaps
    assert sum(n for _, _, n in gaps) <= none and {q for q, _ in missing} >= {q for q, _, _ in gaps[:5]}
    # "Found today": what a kiosk holding today's content finds for the same query, in the language
    # it was typed in (the kiosk's own store, an independent index of the last published library).
    store = Store(tmp_path / "kiosk.db")
    store.import_library(server.history.library_revisions()[-1])
    for q, lang, _, found in rows:
        results = store.search_results(q, lang, limit=3)
        titles = ", ".join(h.title for h in results.hits)
        want = (f"as “{results.suggestion}”: {titles}" if results.suggestion else titles) or "still nothing"
        assert found == want, (q, lang)
    assert {found for q, _, _, found in rows if q == "xyzzy"} == {"still nothing"}
    assert any(found != "still nothing" for *_, found in rows), "some old gap is closed by today's content"


def test_fleet_lists_every_kiosk_and_puts_trouble_first(server):
    with server.client() as c:
        page = c.get("/dashboard/fleet").text
    rows = table_rows(page, "fleet")
    assert tile(page, "fleet-count") == str(len(server.history.kiosks) + 1)
    assert {r[0] for r in rows} == {k.id for k in server.history.kiosks} | {TEST_DEVICE}
    lab = re.search(rf'<tr data-device="{TEST_DEVICE}" class="([^"]*)">', page).group(1)
    assert lab == "trouble"
    row = next(r for r in rows if r[0] == TEST_DEVICE)
    assert row[1] == "Test Lab" and row[4] == "812 · deep" and row[5] == "failed: server unreachable"
    assert row[7] == "200.0 MB · low"  # the warning in words, not in colour only
    trouble = page.count('class="trouble"')
    assert tile(page, "fleet-trouble") == str(trouble) and 1 <= trouble < len(rows)
    assert all('class="trouble"' in tr for tr in re.findall(r"<tr data-device[^>]*>", page)[:trouble])


def test_library_shows_who_published_what_changed(server):
    with server.client() as c:
        page = c.get("/dashboard/library").text
        rows = {int(r[0].split()[0]): r for r in table_rows(page, "library")}
        assert set(rows) == {1, 2, 3} and "live" in rows[3][0]
        assert [rows[v][2] for v in (1, 2, 3)] == ["alice", "bob", "carol"]
        assert "first version" in rows[1][4]
        for version, (_, changed) in zip((2, 3), EDITS, strict=True):
            named = set(re.findall(r"~ ([a-z-]+) v", rows[version][4]))
            assert named == set(changed), version
        # Rollback is a POST carrying the page's CSRF token: without it nothing is published.
        assert c.post("/dashboard/library/1/rollback", data={"csrf": "forged"}).status_code == 403
        assert "data-version=\"4\"" not in c.get("/dashboard/library").text


def test_every_page_renders_in_chromium_and_rollback_works(server, tmp_path):
    dialogs = []
    with browser() as b:
        page = b.new_page(viewport={"width": 1360, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server.base + "/dashboard/fleet")
        assert page.url.startswith(server.base + "/dashboard/login")
        log_in(page, server.base, USER, PASSWORD)
        for name, path, drawn in PAGES:
            page.goto(server.base + path)
            assert page.locator(f"main {drawn}").count() >= 1, path
            assert page.locator(f"main {drawn}").first.bounding_box()["height"] > 50, path
            page.screenshot(path=str(tmp_path / f"{name}.png"), full_page=True)
        # A comment holding markup shows as text: no dialog, no image element made from it.
        page.goto(server.base + f"/dashboard/feedback?device={TEST_DEVICE}")
        cells = page.locator("td.comment")
        assert XSS_COMMENT in cells.all_inner_texts()
        assert page.locator("td.comment img, td.comment script").count() == 0
        # Roll back to version 1 through the page's own form.
        page.goto(server.base + "/dashboard/library")
        page.locator('tr[data-version="1"] button').click()
        page.wait_for_selector("p.done")
        assert "published again as version 4" in page.locator("p.done").inner_text()
        row = page.locator('tr[data-version="4"]')
        assert "rollback to version 1" in row.inner_text() and "live" in row.inner_text()
        changed = set(re.findall(r"~ ([a-z-]+) v", row.locator("td.diff").inner_text()))
        assert changed == {g for _, ids in EDITS for g in ids}
    assert dialogs == []
    assert sorted(p.name for p in tmp_path.glob("*.png")) == sorted(f"{n}.png" for n, *_ in PAGES)

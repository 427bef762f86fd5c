"""Fuzzing what schemathesis cannot reach from /openapi.json: the dashboard's pages (left out of the
schema) and the phone pages' paths and forms, with any text in every parameter. Whatever arrives,
the answer is never a 5xx, and the server's memory does not grow by more than 100 MB."""

from __future__ import annotations

import re
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from server_testkit import STAFF_PASSWORD, STAFF_USER, prepare, start, stop
from test_schemathesis import rss_of

from contract.handoff import Handoff, handoff_key, make_url

pytestmark = pytest.mark.fuzz  # CI's second step (.ci/run), not the README's test command

# Text that tends to break parsers: digits of other scripts, signs, huge numbers, dates near the
# ends of the calendar, separators, control characters, and anything else.
TRICKY = st.one_of(
    st.sampled_from(["²", "٣", "１", "-1", "+1", "1_0", "99999999999999999999", "0", "1e9", " 1", "0001-01-01",
                     "9999-12-31", "2026-02-30", "2026-W01-1", "20260101", "", "%00", "\x00", ";=1", "../.."]),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(max_size=40),
)
FILTERS = ("start", "end", "rating", "page", "site", "lang", "guide", "device", "version", "rolled_back",
           "published", "compare", "a", "b", "g1", "g2")
PAGES = ("/dashboard", "/dashboard/guides", "/dashboard/guides/lost-bag", "/dashboard/feedback",
         "/dashboard/feedback.csv", "/dashboard/search", "/dashboard/fleet", "/dashboard/library", "/dashboard/people")


@pytest.fixture(scope="module")
def fuzzed_server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("param-fuzz")
    server = start(prepare(tmp, str(tmp / "server.db")), "--stale-after", "60")
    with httpx.Client(base_url=server.url, timeout=30) as staff:
        assert staff.post("/api/v1/staff/login", json={"username": STAFF_USER, "password": STAFF_PASSWORD}
                          ).status_code == 200
        rss_before = rss_of(server.process.proc.pid)
        yield server, staff
        grown = rss_of(server.process.proc.pid) - rss_before
    stop(server)
    assert grown <= 100 * 1024**2, f"the server's memory grew by {grown / 1024**2:.0f} MB under fuzzing"
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(page=st.sampled_from(PAGES), params=st.dictionaries(st.sampled_from(FILTERS), TRICKY, max_size=4))
def test_dashboard_pages_never_answer_5xx(fuzzed_server, page, params):
    _, staff = fuzzed_server
    r = staff.get(page, params=params)
    assert r.status_code < 500, (page, params, r.text[:300])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(parts=st.fixed_dictionaries({"device": TRICKY, "guide": TRICKY, "version": TRICKY, "step": TRICKY,
                                    "p": TRICKY, "s": TRICKY, "l": TRICKY, "k": TRICKY, "index": TRICKY}),
       keep=st.sets(st.sampled_from(["device", "guide", "version", "step", "p", "s", "l", "k"])),
       form=st.dictionaries(st.sampled_from(["helped", "rating", "comment"]), TRICKY, max_size=3))
def test_phone_pages_never_answer_5xx(fuzzed_server, parts, keep, form):
    server, _ = fuzzed_server
    # Start from a real signed link and replace some of its fields, so fuzzing gets past the
    # first check as well as failing it.
    h = Handoff(device="kiosk-1", guide="lost-bag", version=1, step="report", path=(0, 0, 0), session="fuzz",
                lang="en")
    real = make_url("", h, handoff_key(server.tokens["kiosk-1"]))
    fields = dict(zip(("device", "guide", "version", "step"), real.split("?")[0].split("/")[2:], strict=True))
    fields |= dict(re.findall(r"([pslk])=([^&]*)", real))
    fields |= {name: parts[name] for name in keep}
    path = "/".join(quote(fields[n], safe="") or "-" for n in ("device", "guide", "version", "step"))
    query = {n: fields[n] for n in "pslk"}
    phone = httpx.Client(base_url=server.url, timeout=30)  # one connection for the four requests
    with phone:
        replies = [phone.get(f"/c/{path}", params=query), phone.get(f"/m/{path}", params=query),
                   phone.get(f"/m/{path}/choose/{quote(parts['index'], safe='') or '0'}", params=query),
                   phone.post(f"/m/{path}/feedback", params=query, data=form)]
    for r in replies:
        assert r.status_code < 500, (r.request.url, r.text[:300])

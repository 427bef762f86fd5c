"""Phone pages against a photographed QR code: signed links expire (the kiosk's issue time, corrected
by the clock offset the server learnt from that kiosk's events), links from before expiry existed
stop at a configured date, feedback is one event per (session, guide, outcome), and every public
page is rate-limited on the signed link and the session, counted in the database so that all server
processes share the counters. Real server on loopback, real HTTP."""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from html import unescape

import httpx
import pytest
import sqlalchemy as sa
from server_testkit import copy_of, start, stop

from contract.handoff import Handoff, handoff_key, make_url, parse_fields
from server import db

HOUR = 3600


def link(srv, session: str, *, issued: float | None, step: str = "arrived", device: str = "kiosk-1",
         path=()) -> str:
    h = Handoff(device=device, guide="lost-bag", version=1, step=step, path=tuple(path), session=session, lang="en",
                issued=None if issued is None else int(issued))
    return make_url(srv.url, h, handoff_key(srv.tokens[device]))


def client(srv) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=30, follow_redirects=False)


def hrefs(page: str, pattern: str) -> list[str]:
    return [unescape(h) for h in re.findall(r'(?:href|action)="(' + pattern + r'[^"]*)"', page)]


def feedback_rows(srv, session: str):
    engine = srv.engine()
    try:
        with engine.connect() as conn:
            return conn.execute(sa.select(db.events).where(db.events.c.session == session,
                                                           db.events.c.type == "feedback")).all()
    finally:
        engine.dispose()


@contextlib.contextmanager
def configured(prepared, tmp_path, label: str, *args: str, **settings: object):
    """The real server on a copy of the prepared state, with these server settings."""
    env = {f"KIOSK_SERVER_{key.upper()}": str(value) for key, value in settings.items()}
    with copy_of(prepared, tmp_path, label) as srv:
        start(srv, *args, env=env)
        try:
            yield srv
        finally:
            stop(srv)
        assert "Traceback" not in srv.log.read_text(errors="replace")


@pytest.fixture(scope="module")
def limited(prepared, tmp_path_factory):
    """Shared by this module's tests (each uses sessions of its own): two worker processes on one
    database, small phone limits, and an end to links without an issue time."""
    with configured(prepared, tmp_path_factory.mktemp("limited"), "limited", "--workers", "2", phone_link_limit=5,
                    phone_session_limit=12, phone_legacy_links_until="2020-01-01") as srv:
        yield srv


def add_device(srv, name: str) -> str:
    code, out, err = srv.cli("device", "add", name)
    assert code == 0, err
    srv.tokens[name] = out.strip().splitlines()[-1]
    return name


def limited_today(srv) -> int:
    with srv.staff() as staff:
        page = staff.get("/dashboard/fleet").text
    return int(re.search(r'id="throttled-phone">\s*(\d+)\s*<', page).group(1))


def test_a_link_lives_its_lifetime_and_no_longer(limited):
    now = time.time()
    with client(limited) as c:
        fresh = c.get(link(limited, "sessfresh", issued=now - 23 * HOUR))
        assert fresh.status_code == 200, fresh.text
        old = c.get(link(limited, "sessold", issued=now - 26 * HOUR))
        assert old.status_code == 410 and 'id="error"' in old.text and "expired" in old.text
        assert c.get(link(limited, "sessahead", issued=now + 30 * 60)).status_code == 200  # within the 1 h skew
        assert c.get(link(limited, "sessfuture", issued=now + 3 * HOUR)).status_code == 410
        # the pages it leads to carry the same issue time, so walking on does not renew the link
        (nxt,) = hrefs(fresh.text, "/m/[^\"]*/choose/0")
        assert f"t={int(now - 23 * HOUR)}" in nxt
        assert c.get(nxt).status_code == 303
        # an issue time cannot be changed: it is signed
        tampered = link(limited, "sesstamper", issued=now - 26 * HOUR).replace(
            f"t={int(now - 26 * HOUR)}", f"t={int(now)}")
        assert c.get(tampered).status_code == 403


def test_the_issue_time_is_corrected_by_the_kiosks_clock_offset(limited):
    now = time.time()
    slow = 3 * 24 * HOUR  # this kiosk's clock runs three days behind; it learnt so from the server's replies
    device = add_device(limited, "kiosk-slow")
    with limited.device(device) as kiosk:
        event = {"uuid": uuid.uuid4().hex, "type": "session_start", "device": device, "session": "sessclock",
                 "kiosk_time": now - slow, "server_time_offset": slow, "data": {}}
        assert kiosk.post("/api/v1/events", json={"events": [event]}).json()["accepted"] == [event["uuid"]]
    with client(limited) as c:
        # a link it made a minute ago by its own clock opens ...
        assert c.get(link(limited, "sessslow1", issued=now - slow - 60, device=device)).status_code == 200
        # ... and one stamped with the true time is three days ahead of it: refused
        assert c.get(link(limited, "sessslow2", issued=now, device=device)).status_code == 410
        # kiosk-2 never told the server of an offset: its clock is taken as right
        assert c.get(link(limited, "sessright", issued=now - slow - 60, device="kiosk-2")).status_code == 410
        assert c.get(link(limited, "sessright2", issued=now - 60, device="kiosk-2")).status_code == 200


def test_feedback_is_one_event_per_session_guide_and_outcome(limited):
    with client(limited) as c:
        page = c.get(link(limited, "sessfb", issued=time.time(), step="report", path=(0, 0, 0)))
        assert page.status_code == 200
        (action,) = hrefs(page.text, "/m/[^\"]*/feedback")
        first = c.post(action, data={"helped": "yes", "rating": "5", "comment": "great"})
        assert first.status_code == 200 and 'id="thanks"' in first.text
        # the same form again, and the same outcome reached through another link of the session
        again = c.post(action, data={"helped": "no", "rating": "1", "comment": "spam"})
        assert again.status_code == 200 and 'id="already"' in again.text
        (es,) = [h for h in hrefs(page.text, "/m/") if "l=es" in h]
        other = hrefs(c.get(es).text, "/m/[^\"]*/feedback")[0]
        assert 'id="already"' in c.post(other, data={"rating": "1"}).text
    (row,) = feedback_rows(limited, "sessfb")
    assert (row.helped, row.rating, row.comment) == (True, 5, "great")  # the first one stands


def test_public_pages_are_rate_limited_by_link_and_session_not_address(limited):
    now = time.time()
    with client(limited) as c:
        one = link(limited, "sessflood", issued=now)
        codes = [c.get(one).status_code for _ in range(7)]
        assert codes == [200] * 5 + [429] * 2
        refused = c.get(one)
        assert 0 < int(refused.headers["retry-after"]) <= 600 and 'id="error"' in refused.text
        # another traveller behind the same address (the same client here) is not affected
        assert c.get(link(limited, "sessother", issued=now)).status_code == 200
        # new links of the same session (each step a different QR) share the session's limit
        steps = [link(limited, "sessflood", issued=now, step=s, path=p) for s, p in
                 [("waited", (0,)), ("tag", (0, 0)), ("report", (0, 0, 0)), ("desk", (0, 0, 1))]]
        codes = [c.get(u).status_code for u in steps for _ in range(2)]
        assert codes == [200] * 4 + [429] * 4  # every request counts for its session: 8 + 4 = 12
        # feedback posts count too (the page and its forms are one signed link)
        page = c.get(link(limited, "sessfbflood", issued=now, step="report", path=(0, 0, 0)))
        (action,) = hrefs(page.text, "/m/[^\"]*/feedback")
        posts = [c.post(action, data={"rating": "1"}).status_code for _ in range(6)]
        assert posts == [200] * 5 + [429]
    assert len(feedback_rows(limited, "sessfbflood")) == 1
    log = limited.log.read_text()
    assert "rate limit" in log and "sessflood" in log  # logged with its source


def test_forty_concurrent_requests_on_two_processes_get_exactly_the_limit(limited):
    url = link(limited, "sessrace", issued=time.time())
    barrier = threading.Barrier(40)
    codes: list[int] = []

    def hit():
        with client(limited) as c:
            barrier.wait()
            codes.append(c.get(url).status_code)

    threads = [threading.Thread(target=hit) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [200] * 5 + [429] * 35


def test_links_from_before_expiry_work_until_the_configured_date(limited):
    # Without a date configured an old kiosk's link still opens: tests/server/test_mobile.py opens
    # such links throughout. After the configured date it is refused like an expired one.
    with client(limited) as c:
        old = c.get(link(limited, "sesslegacy", issued=None))
        assert old.status_code == 410 and "expired" in old.text


def test_rate_limit_hits_are_counted_on_the_fleet_page(limited):
    before = limited_today(limited)
    url = link(limited, "sesscount", issued=time.time())
    with client(limited) as c:
        assert [c.get(url).status_code for _ in range(7)][-1] == 429
    assert limited_today(limited) == before + 1  # one link went over its limit (counted once, not per refusal)


def test_the_link_key_rotates_and_links_signed_before_keep_working(limited):
    with client(limited) as c:
        page = c.get(link(limited, "sessrotate", issued=time.time())).text
        (before,) = hrefs(page, "/m/[^\"]*/choose/0")
        code, out, err = limited.cli("rotate-link-key")
        assert code == 0, err
        assert "previous key" in out.lower()
        # a phone in the middle of a guide goes on with the link it holds ...
        after = c.get(before)
        assert after.status_code == 303
        # ... and the next pages are signed with the new key (read from the database, by any process)
        nxt = c.get(after.headers["location"]).text
        (fresh,) = hrefs(nxt, "/m/[^\"]*/choose/0")
    engine = limited.engine()
    with engine.connect() as conn:
        keys = dict(conn.execute(sa.select(db.settings.c.key, db.settings.c.value)).all())
    engine.dispose()
    m = re.match(r"/m/([^/]+)/([^/]+)/(\d+)/([^/]+)/choose/\d+\?p=([^&]*)&s=([^&]*)&l=([^&]*)&k=([^&]*)&t=(\d+)",
                 fresh)
    h, sig = parse_fields(*m.groups()[:8], t=m.group(9))
    from contract.handoff import verify
    assert verify(h, sig, bytes.fromhex(keys["mobile_link_key_current"]))
    assert not verify(h, sig, bytes.fromhex(keys["mobile_link_key_previous"]))
    assert keys["mobile_link_key_previous"] == keys["mobile_link_key"]  # the key before: the one event ids use

"""Attacks from outside on the public phone pages and the staff logins, against the real server on
loopback (small limits), over real HTTP.

Phone pages against a photographed QR code: signed links expire (the kiosk's issue time, corrected
by the clock offset the server learnt from that kiosk's events), links from before expiry existed
stop at a configured date, feedback is one event per (session, guide, outcome), and every public
page is rate-limited on the signed link and the session, counted in the database so that all server
processes share the counters.

Staff logins: lockout per (client address, username) and a username-wide limit that spares a browser
that logged in before, spraying across usernames, concurrent guesses counted atomically, CSRF on
every cookie-authenticated change, and sessions that end at logout and at a password change. The
client address comes from X-Forwarded-For, which the server believes from its trusted proxy only
(loopback 127.0.0.1 by default, where the tests connect from).

One server per backend serves every test here (starting one is most of the time these tests take);
each test uses sessions, devices, staff users and addresses of its own.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from html import unescape

import httpx
import pytest
import sqlalchemy as sa
from server_testkit import STAFF_PASSWORD, STAFF_USER, copy_of, start, stop, zip_bytes

from contract.handoff import Handoff, handoff_key, make_url, parse_fields, verify
from server import db, throttle
from server.mobile import RATE_WINDOW

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
    """Shared by this module's tests: small phone and staff limits, an end to links without an
    issue time, and an upload that publishes at once (review_two_people off; review: test_studio)."""
    with configured(prepared, tmp_path_factory.mktemp("limited"), "limited", phone_link_limit=5,
                    phone_session_limit=12, phone_legacy_links_until="2020-01-01", staff_pair_limit=3,
                    staff_user_limit=6, staff_address_limit=8,
                    review_two_people=False) as srv:
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


def at_once(c: httpx.Client, n: int, send) -> list[int]:
    """`send(c)` from n threads released together (one client: httpx's pool is thread-safe); the
    status codes, sorted."""
    barrier = threading.Barrier(n)

    def one(_):
        barrier.wait()
        return send(c).status_code

    with ThreadPoolExecutor(n) as pool:
        return sorted(pool.map(one, range(n)))


def test_forty_concurrent_requests_from_two_processes_get_exactly_the_limit(limited):
    """20 phones over HTTP (the server process) and 20 counts taken here (a second process on the same
    database, as another server behind the load balancer would be), all at once: 5 in all get through."""
    url = link(limited, "sessrace", issued=time.time())
    signature = re.search(r"k=([^&]+)", url).group(1)
    here = throttle.Limit(f"phone-link:{signature}", 5, RATE_WINDOW)  # the counter the server keeps for the link
    engine = limited.engine()
    barrier = threading.Barrier(40)

    def one(i: int) -> bool:
        barrier.wait()
        if i % 2:
            return c.get(url).status_code == 200
        return throttle.count(engine, [here])[0].hits <= here.limit

    with client(limited) as c, ThreadPoolExecutor(40) as pool:
        through = list(pool.map(one, range(40)))
    engine.dispose()
    assert sum(through) == 5


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
    assert verify(h, sig, bytes.fromhex(keys["mobile_link_key_current"]))
    assert not verify(h, sig, bytes.fromhex(keys["mobile_link_key_previous"]))
    assert keys["mobile_link_key_previous"] == keys["mobile_link_key"]  # the key before: the one event ids use


# --- staff logins ---------------------------------------------------------------------------

OWNER_HOME = "198.51.100.7"


def from_address(srv, address: str, **kw) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=30, follow_redirects=False,
                        headers={"X-Forwarded-For": address}, **kw)


def api_login(c: httpx.Client, password: str = STAFF_PASSWORD, user: str = STAFF_USER) -> httpx.Response:
    return c.post("/api/v1/staff/login", json={"username": user, "password": password})


def form_login(c: httpx.Client, password: str = STAFF_PASSWORD, user: str = STAFF_USER) -> httpx.Response:
    return c.post("/dashboard/login", data={"username": user, "password": password})


def add_staff(srv, username: str, password: str = STAFF_PASSWORD) -> str:
    code, _, err = srv.cli("staff", "add", username, "--password-stdin", stdin=password + "\n")
    assert code == 0, err
    return username


def lockouts_today(srv) -> int:
    with srv.staff() as staff:
        page = staff.get("/dashboard/fleet").text
    return int(re.search(r'id="throttled-logins">\s*(\d+)\s*<', page).group(1))


def test_guesses_from_one_address_lock_that_address_only(limited):
    user = add_staff(limited, "pair-target")
    before = lockouts_today(limited)
    with from_address(limited, "203.0.113.9") as attacker:
        assert [api_login(attacker, "guess", user).status_code for _ in range(3)] == [401] * 3
        locked = api_login(attacker, user=user)  # the right password, but from the guessing address
        assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 15 * 60
    with from_address(limited, OWNER_HOME) as owner:  # the owner, elsewhere, in a new browser
        assert api_login(owner, user=user).status_code == 200
    log = limited.log.read_text()
    assert re.search(r"locked.*pair-target.*203\.0\.113\.9", log), log  # logged with its source
    assert lockouts_today(limited) == before + 1


def test_a_spread_attack_locks_the_username_but_never_a_known_browser(limited):
    user = add_staff(limited, "spread-target")
    known = from_address(limited, OWNER_HOME)
    assert form_login(known, user=user).status_code == 303  # the owner's own browser, once
    csrf = re.search(r'name="csrf" value="([^"]+)"', known.get("/dashboard/fleet").text).group(1)
    assert known.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
    for i in range(6):  # a botnet: one guess from each address
        with from_address(limited, f"203.0.113.{i + 1}") as bot:
            assert api_login(bot, "guess", user).status_code == 401
    with from_address(limited, "203.0.113.99") as bot:
        assert api_login(bot, "guess", user).status_code == 429
    with from_address(limited, "198.51.100.8") as new_browser:
        assert api_login(new_browser, user=user).status_code == 429  # no browser history: refused while it lasts
    assert form_login(known, user=user).status_code == 303  # the browser that logged in before: never refused
    known.headers["X-Forwarded-For"] = "203.0.113.1"  # even from an address that guessed
    known.cookies.delete("kiosk_staff")
    assert api_login(known, user=user).status_code == 200
    known.close()


def test_spraying_one_password_across_usernames_is_limited(limited):
    with from_address(limited, "203.0.113.50") as sprayer:
        codes = [api_login(sprayer, "Winter2026!", user=f"sprayed{i}").status_code for i in range(9)]
        assert codes == [401] * 8 + [429]
        assert api_login(sprayer, "Winter2026!", user=STAFF_USER).status_code == 429
    with from_address(limited, OWNER_HOME) as owner:
        assert api_login(owner).status_code == 200


def test_forty_concurrent_guesses_check_at_most_the_limit(limited):
    user = add_staff(limited, "race-target")
    with from_address(limited, "203.0.113.77") as c:
        assert at_once(c, 40, lambda c: api_login(c, "guess", user)) == [401] * 3 + [429] * 37


def test_x_forwarded_for_is_believed_from_the_trusted_proxy_only(limited):
    user = add_staff(limited, "proxy-target")
    # 127.0.0.2 is this machine too, but not the trusted proxy (127.0.0.1): what it claims is ignored
    untrusted = httpx.HTTPTransport(local_address="127.0.0.2")
    for i in range(3):  # each guess claims another address; the server sees 127.0.0.2 each time
        with from_address(limited, f"203.0.113.{200 + i}", transport=untrusted) as liar:
            assert api_login(liar, "guess", user).status_code == 401
    with from_address(limited, "198.51.100.1", transport=untrusted) as liar:
        assert api_login(liar, user=user).status_code == 429
    with from_address(limited, "198.51.100.1") as proxied:  # through the proxy, that address is believed
        assert api_login(proxied, user=user).status_code == 200


def test_cookie_requests_that_change_state_need_a_csrf_token_and_this_origin(limited):
    foreign = f"http://127.0.0.1:{int(limited.url.rsplit(':', 1)[1]) + 1}"  # a page on another port
    library = zip_bytes(limited.library)
    with httpx.Client(base_url=limited.url, timeout=60, follow_redirects=False) as browser:
        login = api_login(browser)
        token = login.json()["csrf_token"]
        assert browser.get("/api/v1/staff/session").json() == {"username": STAFF_USER, "csrf_token": token}
        versions = len(browser.get("/api/v1/content/versions").json()["versions"])
        upload = {"library": ("lib.zip", library, "application/zip")}
        assert browser.post("/api/v1/publish", files=upload, headers={"Origin": foreign}).status_code == 403
        assert browser.post("/api/v1/publish", files=upload).status_code == 403  # no token
        assert browser.post("/api/v1/publish", files=upload,
                            headers={"Origin": foreign, "X-CSRF-Token": token}).status_code == 403
        assert browser.post("/api/v1/content/rollback", json={"version": 1},
                            headers={"X-CSRF-Token": token, "Sec-Fetch-Site": "same-site"}).status_code == 403
        assert len(browser.get("/api/v1/content/versions").json()["versions"]) == versions  # nothing published
        ok = browser.post("/api/v1/publish", files=upload, headers={"Origin": limited.url, "X-CSRF-Token": token})
        assert ok.status_code == 200, ok.text
        # the dashboard's forms: the token is on every page, for forms and for scripts of its own
        page = browser.get("/dashboard/library").text
        assert f'<meta name="csrf-token" content="{token}">' in page
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": token},
                            headers={"Origin": foreign}).status_code == 403
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": "0" * 40}).status_code == 403
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": token},
                            headers={"Origin": limited.url}).status_code == 303
        assert browser.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD},
                            headers={"Origin": foreign}).status_code == 403  # no login from another site's form
    with limited.staff() as script:  # HTTP Basic from a script: no cookie, no token needed
        assert script.post("/api/v1/content/rollback", json={"version": 1}).status_code == 200
        assert script.post("/api/v1/content/rollback", json={"version": 1},
                           headers={"Origin": foreign}).status_code == 403  # a browser's cached Basic login
    with limited.device() as kiosk:  # bearer-token calls are not affected
        event = {"uuid": uuid.uuid4().hex, "type": "session_start", "device": "kiosk-1", "session": "sesscsrf",
                 "kiosk_time": time.time(), "data": {}}
        assert kiosk.post("/api/v1/events", json={"events": [event]}, headers={"Origin": foreign}).status_code == 200


def test_logout_and_a_password_change_end_the_session_at_once(limited):
    user = add_staff(limited, "session-owner")
    with httpx.Client(base_url=limited.url, timeout=30, follow_redirects=False) as a:
        assert form_login(a, user=user).status_code == 303
        stolen = a.cookies["kiosk_staff"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', a.get("/dashboard/fleet").text).group(1)
        assert a.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
    with httpx.Client(base_url=limited.url, timeout=30, cookies={"kiosk_staff": stolen}) as replay:
        assert replay.get("/api/v1/fleet").status_code == 401
    with httpx.Client(base_url=limited.url, timeout=30) as b:
        token = api_login(b, user=user).json()["csrf_token"]
        stolen = b.cookies["kiosk_staff"]
        assert b.post("/api/v1/staff/logout", headers={"X-CSRF-Token": token}).status_code == 200
        b.cookies.set("kiosk_staff", stolen)
        assert b.get("/api/v1/fleet").status_code == 401
    browsers = [httpx.Client(base_url=limited.url, timeout=30) for _ in range(2)]
    assert api_login(browsers[0], user=user).status_code == 200 and form_login(browsers[1], user=user).status_code == 303
    assert all(c.get("/api/v1/fleet").status_code == 200 for c in browsers)
    add_staff(limited, user, "a brand new password")
    assert [c.get("/api/v1/fleet").status_code for c in browsers] == [401, 401]
    assert api_login(browsers[0], "a brand new password", user).status_code == 200
    for c in browsers:
        c.close()
    engine = limited.engine()
    table = db.metadata.tables["staff_sessions"]
    with engine.connect() as conn:  # kept server-side: the rows are what a cookie is checked against
        assert conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.username == user)).scalar() == 1
    engine.dispose()

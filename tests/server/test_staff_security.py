"""Staff logins under attack: lockout per (client address, username) and a username-wide limit that
spares a browser that logged in before, spraying across usernames, concurrent guesses counted
atomically, CSRF on every cookie-authenticated change, and sessions that end at logout and at a
password change. Real server on loopback; the client address comes from X-Forwarded-For, which the
server believes from its trusted proxy only (loopback by default, where the tests connect from)."""

from __future__ import annotations

import re
import threading
import time
import uuid

import httpx
import pytest
import sqlalchemy as sa
from server_testkit import STAFF_PASSWORD, STAFF_USER, zip_bytes
from test_phone_limits import configured

from server import db

OWNER_HOME = "198.51.100.7"


def from_address(srv, address: str, **kw) -> httpx.Client:
    return httpx.Client(base_url=srv.url, timeout=30, follow_redirects=False,
                        headers={"X-Forwarded-For": address}, **kw)


def api_login(c: httpx.Client, password: str = STAFF_PASSWORD, user: str = STAFF_USER) -> httpx.Response:
    return c.post("/api/v1/staff/login", json={"username": user, "password": password})


def form_login(c: httpx.Client, password: str = STAFF_PASSWORD, user: str = STAFF_USER) -> httpx.Response:
    return c.post("/dashboard/login", data={"username": user, "password": password})


@pytest.fixture(scope="module")
def guarded(prepared, tmp_path_factory):
    """Shared by this module's tests: each attacks a staff user of its own from addresses of its own."""
    with configured(prepared, tmp_path_factory.mktemp("guarded"), "guarded", staff_pair_limit=3, staff_user_limit=6,
                    staff_address_limit=8) as srv:
        yield srv


def add_staff(srv, username: str, password: str = STAFF_PASSWORD) -> str:
    code, _, err = srv.cli("staff", "add", username, "--password-stdin", stdin=password + "\n")
    assert code == 0, err
    return username


def lockouts_today(srv) -> int:
    with srv.staff() as staff:
        page = staff.get("/dashboard/fleet").text
    return int(re.search(r'id="throttled-logins">\s*(\d+)\s*<', page).group(1))


def test_guesses_from_one_address_lock_that_address_only(guarded):
    user = add_staff(guarded, "pair-target")
    before = lockouts_today(guarded)
    with from_address(guarded, "203.0.113.9") as attacker:
        assert [api_login(attacker, "guess", user).status_code for _ in range(3)] == [401] * 3
        locked = api_login(attacker, user=user)  # the right password, but from the guessing address
        assert locked.status_code == 429 and 0 < int(locked.headers["retry-after"]) <= 15 * 60
    with from_address(guarded, OWNER_HOME) as owner:  # the owner, elsewhere, in a new browser
        assert api_login(owner, user=user).status_code == 200
    log = guarded.log.read_text()
    assert re.search(r"locked.*pair-target.*203\.0\.113\.9", log), log  # logged with its source
    assert lockouts_today(guarded) == before + 1


def test_a_spread_attack_locks_the_username_but_never_a_known_browser(guarded):
    user = add_staff(guarded, "spread-target")
    known = from_address(guarded, OWNER_HOME)
    assert form_login(known, user=user).status_code == 303  # the owner's own browser, once
    csrf = re.search(r'name="csrf" value="([^"]+)"', known.get("/dashboard/fleet").text).group(1)
    assert known.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
    for i in range(6):  # a botnet: one guess from each address
        with from_address(guarded, f"203.0.113.{i + 1}") as bot:
            assert api_login(bot, "guess", user).status_code == 401
    with from_address(guarded, "203.0.113.99") as bot:
        assert api_login(bot, "guess", user).status_code == 429
    with from_address(guarded, "198.51.100.8") as new_browser:
        assert api_login(new_browser, user=user).status_code == 429  # no browser history: refused while it lasts
    assert form_login(known, user=user).status_code == 303  # the browser that logged in before: never refused
    known.headers["X-Forwarded-For"] = "203.0.113.1"  # even from an address that guessed
    known.cookies.delete("kiosk_staff")
    assert api_login(known, user=user).status_code == 200
    known.close()


def test_spraying_one_password_across_usernames_is_limited(guarded):
    with from_address(guarded, "203.0.113.50") as sprayer:
        codes = [api_login(sprayer, "Winter2026!", user=f"sprayed{i}").status_code for i in range(9)]
        assert codes == [401] * 8 + [429]
        assert api_login(sprayer, "Winter2026!", user=STAFF_USER).status_code == 429
    with from_address(guarded, OWNER_HOME) as owner:
        assert api_login(owner).status_code == 200


def test_forty_concurrent_guesses_check_at_most_the_limit(guarded):
    user = add_staff(guarded, "race-target")
    barrier = threading.Barrier(40)
    codes: list[int] = []

    def guess():
        with from_address(guarded, "203.0.113.77") as c:
            barrier.wait()
            codes.append(api_login(c, "guess", user).status_code)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes) == [401] * 3 + [429] * 37


def test_x_forwarded_for_is_believed_from_the_trusted_proxy_only(guarded):
    user = add_staff(guarded, "proxy-target")
    # 127.0.0.2 is this machine too, but not the trusted proxy (127.0.0.1): what it claims is ignored
    untrusted = httpx.HTTPTransport(local_address="127.0.0.2")
    for i in range(3):  # each guess claims another address; the server sees 127.0.0.2 each time
        with from_address(guarded, f"203.0.113.{200 + i}", transport=untrusted) as liar:
            assert api_login(liar, "guess", user).status_code == 401
    with from_address(guarded, "198.51.100.1", transport=untrusted) as liar:
        assert api_login(liar, user=user).status_code == 429
    with from_address(guarded, "198.51.100.1") as proxied:  # through the proxy, that address is believed
        assert api_login(proxied, user=user).status_code == 200


def test_cookie_requests_that_change_state_need_a_csrf_token_and_this_origin(guarded):
    foreign = f"http://127.0.0.1:{int(guarded.url.rsplit(':', 1)[1]) + 1}"  # a page on another port
    library = zip_bytes(guarded.library)
    with httpx.Client(base_url=guarded.url, timeout=60, follow_redirects=False) as browser:
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
        ok = browser.post("/api/v1/publish", files=upload, headers={"Origin": guarded.url, "X-CSRF-Token": token})
        assert ok.status_code == 200, ok.text
        # the dashboard's forms: the token is on every page, for forms and for scripts of its own
        page = browser.get("/dashboard/library").text
        assert f'<meta name="csrf-token" content="{token}">' in page
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": token},
                            headers={"Origin": foreign}).status_code == 403
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": "0" * 40}).status_code == 403
        assert browser.post("/dashboard/library/1/rollback", data={"csrf": token},
                            headers={"Origin": guarded.url}).status_code == 303
        assert browser.post("/dashboard/login", data={"username": STAFF_USER, "password": STAFF_PASSWORD},
                            headers={"Origin": foreign}).status_code == 403  # no login from another site's form
    with guarded.staff() as script:  # HTTP Basic from a script: no cookie, no token needed
        assert script.post("/api/v1/content/rollback", json={"version": 1}).status_code == 200
        assert script.post("/api/v1/content/rollback", json={"version": 1},
                           headers={"Origin": foreign}).status_code == 403  # a browser's cached Basic login
    with guarded.device() as kiosk:  # bearer-token calls are not affected
        event = {"uuid": uuid.uuid4().hex, "type": "session_start", "device": "kiosk-1", "session": "sesscsrf",
                 "kiosk_time": time.time(), "data": {}}
        assert kiosk.post("/api/v1/events", json={"events": [event]}, headers={"Origin": foreign}).status_code == 200


def test_logout_and_a_password_change_end_the_session_at_once(guarded):
    user = add_staff(guarded, "session-owner")
    with httpx.Client(base_url=guarded.url, timeout=30, follow_redirects=False) as a:
        assert form_login(a, user=user).status_code == 303
        stolen = a.cookies["kiosk_staff"]
        csrf = re.search(r'name="csrf" value="([^"]+)"', a.get("/dashboard/fleet").text).group(1)
        assert a.post("/dashboard/logout", data={"csrf": csrf}).status_code == 303
    with httpx.Client(base_url=guarded.url, timeout=30, cookies={"kiosk_staff": stolen}) as replay:
        assert replay.get("/api/v1/fleet").status_code == 401
    with httpx.Client(base_url=guarded.url, timeout=30) as b:
        token = api_login(b, user=user).json()["csrf_token"]
        stolen = b.cookies["kiosk_staff"]
        assert b.post("/api/v1/staff/logout", headers={"X-CSRF-Token": token}).status_code == 200
        b.cookies.set("kiosk_staff", stolen)
        assert b.get("/api/v1/fleet").status_code == 401
    browsers = [httpx.Client(base_url=guarded.url, timeout=30) for _ in range(2)]
    assert api_login(browsers[0], user=user).status_code == 200 and form_login(browsers[1], user=user).status_code == 303
    assert all(c.get("/api/v1/fleet").status_code == 200 for c in browsers)
    add_staff(guarded, user, "a brand new password")
    assert [c.get("/api/v1/fleet").status_code for c in browsers] == [401, 401]
    assert api_login(browsers[0], "a brand new password", user).status_code == 200
    for c in browsers:
        c.close()
    engine = guarded.engine()
    table = db.metadata.tables["staff_sessions"]
    with engine.connect() as conn:  # kept server-side: the rows are what a cookie is checked against
        assert conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.username == user)).scalar() == 1
    engine.dispose()

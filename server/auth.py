"""Who is calling: devices by bearer token (only sha256(token) is stored), staff by scrypt
password, either per request (HTTP Basic) or via a login cookie naming a server-side session.
Password guessing is throttled per source (server.throttle)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from contract.handoff import handoff_key
from server import db, throttle

DEVICE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,80}$")  # also a URL segment of handoff links
USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,80}$")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
COOKIE_NAME = "kiosk_staff"
COOKIE_MAX_AGE = 12 * 3600


@dataclass(frozen=True)
class Device:
    id: int
    name: str
    handoff_key: bytes
    location: str | None = None
    group: str = "default"  # its rollout group (server.groups)
    epoch: int = 0  # rises when it moves to another group or its group is rolled back


class AuthError(Exception):
    pass


# New device tokens: a fixed prefix, then 43 url-safe characters (256 random bits). The prefix means
# no token starts with "-" (which `kiosk run --token -abc` reads as an option) and lets secret
# scanners recognise a leaked one. Tokens issued before it (bare token_urlsafe) keep working: a
# token is only ever looked up by its sha256.
TOKEN_PREFIX = "gkd_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


# --- devices -----------------------------------------------------------------------------------


def add_device(engine: Engine, name: str, location: str | None = None, group: str = db.DEFAULT_GROUP) -> str:
    """Register a device in rollout group `group` and return its token: shown once, never stored
    in the clear."""
    if not DEVICE_NAME.match(name):
        raise AuthError("a device name is 1-80 letters, digits, '-' or '_'")
    token = new_token()
    with db.write(engine) as conn:
        if conn.execute(sa.select(db.devices.c.id).where(db.devices.c.name == name)).first():
            raise AuthError(f"a device called '{name}' already exists")
        if not conn.execute(sa.select(db.rollout_groups.c.name).where(db.rollout_groups.c.name == group)).first():
            raise AuthError(f"there is no group '{group}' (add it with `kiosk-server group add {group}`)")
        conn.execute(db.devices.insert().values(
            name=name, location=location, token_sha256=token_digest(token),
            handoff_key=handoff_key(token).hex(), created_at=time.time(), rollout_group=group))
    return token


def rotate_device(engine: Engine, name: str) -> str | None:
    """Give an active device a new token and return it (shown once); the old one stops working with
    this transaction. None when there is no active device of that name.

    The handoff key is derived from the token, so it changes too: QR links the kiosk showed before
    and that no phone has opened yet stop verifying (the phone gets the plain "link not valid" page),
    which is what a rotation after a leaked token needs, since the old key could sign links. A phone
    already on the mobile pages goes on: its next links are signed with the server's own secret."""
    token = new_token()
    with db.write(engine) as conn:
        res = conn.execute(db.devices.update().where(db.devices.c.name == name, db.devices.c.revoked_at.is_(None))
                           .values(token_sha256=token_digest(token), handoff_key=handoff_key(token).hex()))
        return token if res.rowcount else None


def revoke_device(engine: Engine, name: str) -> bool:
    with db.write(engine) as conn:
        res = conn.execute(db.devices.update().where(db.devices.c.name == name, db.devices.c.revoked_at.is_(None))
                           .values(revoked_at=time.time()))
        return res.rowcount > 0


def device_for_token(engine: Engine, token: str) -> Device | None:
    with db.read(engine) as conn:
        row = conn.execute(sa.select(db.devices.c.id, db.devices.c.name, db.devices.c.handoff_key,
                                   db.devices.c.location, db.devices.c.rollout_group, db.devices.c.epoch).where(
            db.devices.c.token_sha256 == token_digest(token), db.devices.c.revoked_at.is_(None))).first()
    return Device(row.id, row.name, bytes.fromhex(row.handoff_key), row.location, row.rollout_group,
                  row.epoch) if row else None


def device_by_name(engine: Engine, name: str) -> Device | None:
    if not DEVICE_NAME.match(name or ""):
        return None
    with db.read(engine) as conn:
        row = conn.execute(sa.select(db.devices.c.id, db.devices.c.name, db.devices.c.handoff_key,
                                   db.devices.c.location).where(
            db.devices.c.name == name, db.devices.c.revoked_at.is_(None))).first()
    return Device(row.id, row.name, bytes.fromhex(row.handoff_key), row.location) if row else None


# --- staff -------------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(password: str, stored: str) -> bool:
    try:
        _, n, r, p, salt, digest = stored.split("$")
        got = hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=base64.b64decode(salt),
                             n=int(n), r=int(r), p=int(p), dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, base64.b64decode(digest))


# A fixed hash to check against when the user does not exist, so a wrong username costs as long
# as a wrong password and the response time does not reveal which usernames exist.
_DUMMY_HASH = hash_password(secrets.token_hex(8))


# What a staff member may do, each role including the ones before it (docs/studio.md):
# viewer: the dashboard's pages; editor: also drafts in the studio; publisher: also publishing,
# rolling back, promoting and moving kiosks between groups. Staff from before roles are publishers.
ROLES = ("viewer", "editor", "publisher")
DEFAULT_ROLE = "publisher"  # a new login without --role can do what every login could before roles


def role_allows(have: str | None, needed: str) -> bool:
    return have in ROLES and ROLES.index(have) >= ROLES.index(needed)


def staff_role(engine: Engine, username: str) -> str | None:
    """The staff member's role, or None when there is no such login."""
    with db.read(engine) as conn:
        return conn.execute(sa.select(db.staff.c.role).where(db.staff.c.username == username)).scalar()


def list_staff(engine: Engine) -> list[tuple[str, str, float]]:
    """(username, role, created_at) of every staff login, by name."""
    with db.read(engine) as conn:
        return [tuple(r) for r in conn.execute(sa.select(db.staff.c.username, db.staff.c.role, db.staff.c.created_at)
                                               .order_by(db.staff.c.username))]


def set_staff_password(engine: Engine, username: str, password: str, role: str | None = None) -> bool:
    """Create the staff user, or change their password (and their role, when one is given). A new
    user without a role is a publisher. True when the user is new."""
    if role is not None and role not in ROLES:
        raise AuthError(f"a role is one of {', '.join(ROLES)}")
    if not USERNAME.match(username):
        raise AuthError("a username is 1-80 letters, digits, '.', '_', '-' or '@'")
    if len(password) < 8:
        raise AuthError("a staff password needs at least 8 characters")
    hashed = hash_password(password)
    with db.write(engine) as conn:
        changes = {"password_hash": hashed} | ({"role": role} if role else {})
        res = conn.execute(db.staff.update().where(db.staff.c.username == username).values(**changes))
        if res.rowcount:  # a new password ends every session the old one started
            conn.execute(db.staff_sessions.delete().where(db.staff_sessions.c.username == username))
            return False
        conn.execute(db.staff.insert().values(username=username, password_hash=hashed, created_at=time.time(),
                                              role=role or DEFAULT_ROLE))
        return True


# --- guessing a staff password ------------------------------------------------------------------
# Failed logins are counted for 15 minutes from a source's first failure, in the database
# (server.throttle), so the limits hold across every server process. Three counters, each a separate way in:
#   per (address, username): one source guessing one account is stopped, and only that source;
#   per username: many sources (a botnet) guessing one account; it spares a known browser, so an
#     attacker cannot lock the owner out;
#   per address: one source spraying a password across many usernames.
# A browser that logged in as the user before (a signed "known browser" cookie, below) is counted
# on its own counter instead, so the right password from it is never refused because of others.
# Each attempt takes its places before the password is checked: 40 concurrent guesses, at most the
# limit of them get checked.
LOGIN_WINDOW = 15 * 60


@dataclass(frozen=True)
class LoginLimits:
    pair: int = 10
    user: int = 50
    address: int = 30


@dataclass(frozen=True)
class LoginSource:
    address: str  # the client address as the server sees it (behind its trusted proxy)
    known_browser: str | None = None  # the id in a valid known-browser cookie for this username


class LoginThrottled(AuthError):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {max(1, retry_after // 60)} minute(s)")


def _login_limits(username: str, source: LoginSource, limits: LoginLimits) -> list[throttle.Limit]:
    if source.known_browser:
        return [throttle.Limit(f"login-browser:{source.known_browser}", limits.pair, LOGIN_WINDOW)]
    return [throttle.Limit(f"login-pair:{source.address}|{username}", limits.pair, LOGIN_WINDOW),
            throttle.Limit(f"login-user:{username}", limits.user, LOGIN_WINDOW),
            throttle.Limit(f"login-address:{source.address}", limits.address, LOGIN_WINDOW)]


def check_staff(engine: Engine, username: str, password: str, source: LoginSource | None = None,
                limits: LoginLimits | None = None) -> bool:
    """True for the right password. Raises LoginThrottled while this source may not try."""
    source = source or LoginSource("unknown")
    limits = limits or LoginLimits()
    username = username if USERNAME.match(username or "") else ""
    counters = _login_limits(username or "-", source, limits)
    full, counts = throttle.reserve(engine, counters)
    if full is not None:
        raise LoginThrottled(full.retry_after(time.time()))
    if not username or len(password) > 1024:
        stored = None
        check_password("x", _DUMMY_HASH)
    else:
        with db.read(engine) as conn:
            stored = conn.execute(sa.select(db.staff.c.password_hash).where(db.staff.c.username == username)).scalar()
    ok = check_password(password, stored or _DUMMY_HASH) and stored is not None
    if ok:  # not a failure: give the place back, and forget this source's own failures
        throttle.count(engine, counters[1:], step=-1)
        throttle.reset(engine, counters[:1])
        return True
    reached = [lim for lim, n in zip(counters, counts, strict=True) if n.hits == lim.limit]
    for lim in reached:
        throttle.record_hit(engine, throttle.STAFF_LOCKOUT,
                            f"staff login locked for {LOGIN_WINDOW // 60} minutes after {lim.limit} failures: "
                            f"{lim.name.split(':', 1)[0]} limit, username {username or '(invalid)'!r}, "
                            f"address {source.address}" + (" (known browser)" if source.known_browser else ""))
    return False


# --- staff sessions ------------------------------------------------------------------------------
# The login cookie holds a random token; the server keeps sha256(token) with the username and an
# expiry, so logging out, or changing the password, ends a session at once in every process.


def start_session(engine: Engine, username: str, now: float | None = None) -> str:
    token = secrets.token_urlsafe(32)
    now = time.time() if now is None else now
    table = db.staff_sessions
    with db.write(engine) as conn:
        conn.execute(table.delete().where(table.c.expires_at < now))  # the expired ones, anybody's
        conn.execute(table.insert().values(token_sha256=token_digest(token), username=username, created_at=now,
                                           expires_at=now + COOKIE_MAX_AGE))
    return token


def session_user(engine: Engine, token: str) -> str | None:
    """The staff member a session token belongs to, or None (unknown, ended or expired)."""
    if not token or len(token) > 200:
        return None
    table = db.staff_sessions
    with db.read(engine) as conn:
        return conn.execute(sa.select(table.c.username).where(
            table.c.token_sha256 == token_digest(token), table.c.expires_at > time.time())).scalar()


def end_session(engine: Engine, token: str) -> None:
    with db.write(engine) as conn:
        conn.execute(db.staff_sessions.delete().where(db.staff_sessions.c.token_sha256 == token_digest(token)))


# --- known browsers --------------------------------------------------------------------------------
# Set on a successful login and kept for KNOWN_BROWSER_MAX_AGE: it proves only that this browser
# once logged in as this user (it logs nobody in), so its own failure counter replaces the counters
# a botnet can fill.
KNOWN_BROWSER_COOKIE = "kiosk_staff_browser"
KNOWN_BROWSER_MAX_AGE = 180 * 86400


def _mac(secret: bytes, payload: str) -> str:
    return hmac.new(secret, b"known-browser|" + payload.encode(), hashlib.sha256).hexdigest()[:32]


def make_known_browser(secret: bytes, username: str, now: float | None = None) -> str:
    expires = int((time.time() if now is None else now) + KNOWN_BROWSER_MAX_AGE)
    payload = base64.urlsafe_b64encode(f"{username}|{secrets.token_hex(8)}|{expires}".encode()).decode().rstrip("=")
    return f"{payload}.{_mac(secret, payload)}"


def read_known_browser(secret: bytes, value: str | None, username: str) -> str | None:
    """The browser's id when `value` is a valid known-browser cookie for this username, else None."""
    try:
        payload, mac = (value or "").rsplit(".", 1)
        if not hmac.compare_digest(_mac(secret, payload), mac):
            return None
        user, browser, expires = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().split("|")
    except (ValueError, UnicodeError):
        return None
    return browser if user == username and int(expires) > time.time() else None

"""Who is calling: devices by bearer token (only sha256(token) is stored), staff by scrypt
password, either per request (HTTP Basic) or via a signed login cookie."""

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
from server import db

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


def add_device(engine: Engine, name: str, location: str | None = None) -> str:
    """Register a device and return its token: shown once, never stored in the clear."""
    if not DEVICE_NAME.match(name):
        raise AuthError("a device name is 1-80 letters, digits, '-' or '_'")
    token = new_token()
    with db.write(engine) as conn:
        if conn.execute(sa.select(db.devices.c.id).where(db.devices.c.name == name)).first():
            raise AuthError(f"a device called '{name}' already exists")
        conn.execute(db.devices.insert().values(
            name=name, location=location, token_sha256=token_digest(token),
            handoff_key=handoff_key(token).hex(), created_at=time.time()))
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
                                   db.devices.c.location).where(
            db.devices.c.token_sha256 == token_digest(token), db.devices.c.revoked_at.is_(None))).first()
    return Device(row.id, row.name, bytes.fromhex(row.handoff_key), row.location) if row else None


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


def set_staff_password(engine: Engine, username: str, password: str) -> bool:
    """Create the staff user, or change their password. True when the user is new."""
    if not USERNAME.match(username):
        raise AuthError("a username is 1-80 letters, digits, '.', '_', '-' or '@'")
    if len(password) < 8:
        raise AuthError("a staff password needs at least 8 characters")
    hashed = hash_password(password)
    with db.write(engine) as conn:
        res = conn.execute(db.staff.update().where(db.staff.c.username == username).values(password_hash=hashed))
        if res.rowcount:
            return False
        conn.execute(db.staff.insert().values(username=username, password_hash=hashed, created_at=time.time()))
        return True


# Guessing a staff password: after this many failures for one username within the window, every
# attempt is refused (right password or not) until the oldest failure leaves the window. Kept in
# the database, so it holds across every server process behind the load balancer.
MAX_LOGIN_FAILURES = 10
LOGIN_WINDOW = 15 * 60


class LoginThrottled(AuthError):
    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        super().__init__(f"too many failed logins; try again in {max(1, retry_after // 60)} minute(s)")


def check_staff(engine: Engine, username: str, password: str) -> bool:
    """True for the right password. Raises LoginThrottled while the username is locked."""
    if not USERNAME.match(username or "") or len(password) > 1024:
        check_password("x", _DUMMY_HASH)
        return False
    now = time.time()
    with db.read(engine) as conn:
        failures = conn.execute(sa.select(db.login_failures.c.at).where(
            db.login_failures.c.username == username, db.login_failures.c.at > now - LOGIN_WINDOW)
            .order_by(db.login_failures.c.at)).scalars().all()
        if len(failures) >= MAX_LOGIN_FAILURES:
            raise LoginThrottled(int(failures[-MAX_LOGIN_FAILURES] + LOGIN_WINDOW - now) + 1)
        stored = conn.execute(sa.select(db.staff.c.password_hash).where(db.staff.c.username == username)).scalar()
    ok = check_password(password, stored or _DUMMY_HASH) and stored is not None
    if not ok or failures:
        with db.write(engine) as conn:
            if ok:
                conn.execute(db.login_failures.delete().where(db.login_failures.c.username == username))
            else:
                conn.execute(db.login_failures.delete().where(db.login_failures.c.at < now - LOGIN_WINDOW))
                conn.execute(db.login_failures.insert().values(username=username, at=now))
    return ok


def make_cookie(secret: bytes, username: str, now: float | None = None) -> str:
    expires = int((now or time.time()) + COOKIE_MAX_AGE)
    payload = base64.urlsafe_b64encode(f"{username}|{expires}".encode()).decode().rstrip("=")
    mac = hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest()
    return f"{payload}.{mac}"


def read_cookie(secret: bytes, value: str) -> str | None:
    """The staff username a cookie vouches for, or None if forged or expired."""
    try:
        payload, mac = value.rsplit(".", 1)
        if not hmac.compare_digest(hmac.new(secret, payload.encode(), hashlib.sha256).hexdigest(), mac):
            return None
        username, expires = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)).decode().rsplit("|", 1)
    except (ValueError, UnicodeError):
        return None
    return username if int(expires) > time.time() else None

"""The secret that signs the phone pages' own links (`/m/...`), kept in the database so every server
process signs and checks with the same one, and read there on each use so that a rotation reaches
every process at once.

`kiosk-server rotate-link-key` makes a new key; the previous one still verifies for the links'
lifetime (plus the clock skew forgiven), so a phone in the middle of a guide goes on. The QR links a
kiosk makes (`/c/...`) are signed with that device's own key, which `kiosk-server device rotate`
changes together with its token.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from server import db

# Until the first rotation links are signed with the key they always were, mobile_link_key (made by
# server.app with db.shared_secret). A rotation never changes that one: the phone pages also derive
# their event ids from it (ctx.mobile_secret), and those must stay the same for ever.
ORIGINAL = "mobile_link_key"
CURRENT = "mobile_link_key_current"
PREVIOUS = "mobile_link_key_previous"
ROTATED_AT = "mobile_link_key_rotated_at"


@dataclass(frozen=True)
class LinkKeys:
    current: bytes
    previous: bytes | None
    rotated_at: float | None

    def accepted(self, grace: float, now: float | None = None) -> list[bytes]:
        """The keys a link may be signed with: the current one, and the previous one during `grace`
        seconds after the rotation."""
        now = time.time() if now is None else now
        keep_previous = self.previous and self.rotated_at is not None and now < self.rotated_at + grace
        return [self.current, self.previous] if keep_previous else [self.current]


def load(engine: Engine) -> LinkKeys:
    with db.read(engine) as conn:
        values = dict(conn.execute(sa.select(db.settings.c.key, db.settings.c.value).where(
            db.settings.c.key.in_([ORIGINAL, CURRENT, PREVIOUS, ROTATED_AT]))).all())
    current = values.get(CURRENT) or values.get(ORIGINAL)
    if current is None:  # not made yet (create_app makes it at start): make it the same way
        return LinkKeys(db.shared_secret(engine, ORIGINAL), None, None)
    return LinkKeys(bytes.fromhex(current), bytes.fromhex(values[PREVIOUS]) if PREVIOUS in values else None,
                    float(values[ROTATED_AT]) if ROTATED_AT in values else None)


def rotate(engine: Engine, now: float | None = None) -> None:
    """A new current key; the current one becomes the previous (the one before is dropped)."""
    now = time.time() if now is None else now
    table = db.settings
    with db.write(engine) as conn:
        db.lock(conn, "link-key")
        current = conn.execute(sa.select(table.c.value).where(table.c.key == CURRENT)).scalar() or \
            conn.execute(sa.select(table.c.value).where(table.c.key == ORIGINAL)).scalar()
        for key, value in ((PREVIOUS, current), (CURRENT, secrets.token_hex(32)), (ROTATED_AT, repr(now))):
            if value is None:
                continue
            conn.execute(table.delete().where(table.c.key == key))
            conn.execute(table.insert().values(key=key, value=value))

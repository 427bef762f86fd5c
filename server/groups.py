"""Rollout groups and staged rollout (shared/DESIGN.md, "Groups and rollbacks").

Every device is in exactly one group (`default` unless told otherwise); a site or a terminal is a
label (the device's location). Each group points at the content version meant for its kiosks:

- `publish --to G` makes a version only G receives, recording G's version as its base;
  `publish` without `--to` reaches every group and so supersedes any open stage (server.publish);
- `promote V [--to G]` moves groups onto V, only where V was built on what the group has (the
  group's version is V's base, or its base's base: a stage refined twice before promotion);
- `rollback V --to G` points G back at V itself and raises the epoch of G's devices;
- `group move DEVICE G` raises that device's epoch.

A device's epoch goes into its signed manifest; a kiosk installs a lower content version only with
a higher epoch than the one it accepted, so a replayed older manifest is still refused.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from server import db
from server.publish import RolloutError, group_version, lineage, open_stages

GROUP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


@dataclass
class GroupInfo:
    name: str
    content_version: int | None
    devices: int
    staged: bool  # its version was published to a group and not every group has it
    changed_at: float | None
    opening_hours: str = ""  # server/opening_hours.py; empty: always open


def _require_group(conn: Connection, group: str) -> int | None:
    exists, version = group_version(conn, group)
    if not exists:
        raise RolloutError(f"there is no group '{group}' (add it with `kiosk-server group add {group}`)")
    return version


def list_groups(conn: Connection) -> list[GroupInfo]:
    g, d = db.rollout_groups, db.devices
    counts = dict(conn.execute(sa.select(d.c.rollout_group, sa.func.count()).where(d.c.revoked_at.is_(None))
                               .group_by(d.c.rollout_group)).all())
    rows = conn.execute(sa.select(g.c.name, g.c.content_version, g.c.changed_at, g.c.opening_hours)
                        .order_by(g.c.name != db.DEFAULT_GROUP, g.c.name)).all()
    staged = open_stages(conn)
    return [GroupInfo(r.name, r.content_version, counts.get(r.name, 0), r.name in staged, r.changed_at,
                      r.opening_hours or "") for r in rows]


def set_opening_hours(engine: Engine, group: str, text: str) -> None:
    """A group's opening hours (a per-group setting); refused unless server.opening_hours reads them."""
    from server import opening_hours

    if problem := opening_hours.check(text):
        raise RolloutError(f"opening hours for group '{group}' not changed: {problem}")
    with db.write(engine) as conn:
        _require_group(conn, group)
        conn.execute(db.rollout_groups.update().where(db.rollout_groups.c.name == group)
                     .values(opening_hours=text.strip() or None))


def add_group(engine: Engine, name: str) -> int | None:
    """A new group, starting on the version the `default` group has; returns that version."""
    if not GROUP_NAME.match(name or ""):
        raise RolloutError("a group name is 1-80 letters, digits, '.', '-' or '_', starting with a letter or digit")
    with db.write(engine) as conn:
        db.lock(conn, "publish")
        if group_version(conn, name)[0]:
            raise RolloutError(f"a group called '{name}' already exists")
        version = group_version(conn, db.DEFAULT_GROUP)[1]
        now = time.time()
        conn.execute(db.rollout_groups.insert().values(name=name, content_version=version, created_at=now,
                                                       changed_at=now))
    return version


def move_device(engine: Engine, device: str, group: str) -> tuple[str, int]:
    """Put an active device into `group`; returns (the group it left, its new epoch). Its epoch rises,
    so its kiosk accepts the new group's version even when that is lower than what it has."""
    d = db.devices
    with db.write(engine) as conn:
        db.lock(conn, "publish")
        _require_group(conn, group)
        row = conn.execute(sa.select(d.c.id, d.c.rollout_group, d.c.epoch)
                           .where(d.c.name == device, d.c.revoked_at.is_(None))).first()
        if row is None:
            raise RolloutError(f"there is no active device called '{device}'")
        if row.rollout_group == group:
            return row.rollout_group, row.epoch
        conn.execute(d.update().where(d.c.id == row.id).values(rollout_group=group, epoch=d.c.epoch + 1))
    return row.rollout_group, row.epoch + 1


def promote(engine: Engine, version: int, to: str | None = None) -> dict[str, int | None]:
    """Move the target groups (every group without `to`) onto `version`; returns each group moved
    with the version it had. Refused as a whole, moving nothing, when a target group's version is
    not one `version` was built on."""
    g, cv = db.rollout_groups, db.content_versions
    with db.write(engine) as conn:
        db.lock(conn, "publish")
        if conn.execute(sa.select(cv.c.version).where(cv.c.version == version)).first() is None:
            raise RolloutError(f"there is no content version {version}")
        if to is not None:
            targets = {to: _require_group(conn, to)}
        else:
            targets = dict(conn.execute(sa.select(g.c.name, g.c.content_version)).all())
        chain = lineage(conn, version)
        moved, refused = {}, []
        for name, current in sorted(targets.items()):
            if current == version:
                continue
            if current is None or current in chain:
                moved[name] = current
            else:
                base = f"on version {chain[0]}" if chain else "for every group"
                refused.append(f"group '{name}' is on version {current}, and version {version} was built "
                               f"{base}, not on {current}")
        if refused:
            raise RolloutError("; ".join(refused) + ". Nothing was promoted: publish the change again with "
                                                    "`--to` the group, on top of what it has")
        if moved:
            conn.execute(g.update().where(g.c.name.in_(moved)).values(content_version=version,
                                                                      changed_at=time.time()))
    return moved


def rollback_group(engine: Engine, version: int, group: str) -> int | None:
    """Point `group` back at content version `version` itself and raise its devices' epochs, so its
    kiosks go down to it; returns the version the group had."""
    g, cv, d = db.rollout_groups, db.content_versions, db.devices
    with db.write(engine) as conn:
        db.lock(conn, "publish")
        current = _require_group(conn, group)
        if conn.execute(sa.select(cv.c.version).where(cv.c.version == version)).first() is None:
            raise RolloutError(f"there is no content version {version}")
        if current == version:
            raise RolloutError(f"group '{group}' is already on content version {version}")
        conn.execute(g.update().where(g.c.name == group).values(content_version=version, changed_at=time.time()))
        conn.execute(d.update().where(d.c.rollout_group == group).values(epoch=d.c.epoch + 1))
    return current

"""The Fleet page: every kiosk's last heartbeat, the ones needing attention first."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlencode

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from contract.heartbeat import LastSync, Recovered
from server import charts, db, groups, publish, rebuilds, throttle, traffic
from server.dashboard.format import ago
from server.dashboard.render import engine_of, render, snapshot, stale_after_of, zone_of
from server.deps import PublisherDep, StaffDep

LOW_DISK = 1024**3
DEEP_OUTBOX = 100
REBUILT_RECENTLY = 7 * 86400  # a database rebuild counts as needing attention for a week
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@dataclass
class FleetRow:
    row: Any
    last_sync: LastSync | None  # None: the kiosk never reported a sync
    stale: bool
    low_disk: bool
    deep_outbox: bool
    behind: bool
    recovered: Recovered | None = None  # the kiosk rebuilt a damaged database
    bytes_today: float = 0  # request + response bytes today (UTC), server/traffic.py
    bytes_per_day: float = 0  # the mean over the last 7 days it was counted

    @property
    def rebuilt_recently(self) -> bool:
        at = _timestamp(self.recovered.at) if self.recovered else None
        return at is not None and time.time() - at < REBUILT_RECENTLY

    @property
    def failing(self) -> bool:
        return self.last_sync is not None and not self.last_sync.healthy

    @property
    def rejected(self) -> int:
        return self.row.rejected_events or 0

    @property
    def trouble(self) -> bool:
        return (self.stale or self.failing or self.low_disk or self.deep_outbox or self.rejected > 0
                or self.rebuilt_recently or self.default_pin)

    @property
    def default_pin(self) -> bool:
        """Its staff PIN is still the factory 1234 (from its heartbeat): anyone can open staff mode."""
        return bool(self.row.default_pin)

    @property
    def sync_text(self) -> str:
        """The "Last sync" cell, in words: "ok, 3 min ago", "failed: <error>", "never synced"."""
        last = self.last_sync
        if last is None:
            return "never synced"
        if last.healthy:
            at = _timestamp(last.at)
            return f"{last.result}, {ago(at)}" if at else str(last.result)
        outcome = "failed" if last.result in (None, "error") else last.result
        return f"{outcome}: {last.error}" if last.error else str(outcome)

    @property
    def problems(self) -> list[str]:
        n = self.rejected
        out = [f"{n} event{'s' if n != 1 else ''} rejected by the server"] if n else []
        if rec := self.recovered:
            lost = "an unknown number" if rec.outbox_lost is None else rec.outbox_lost
            out.append(f"database rebuilt {ago(_timestamp(rec.at))}; {rec.outbox_kept} waiting events kept, "
                       f"{lost} lost")
        if self.default_pin:
            out.append("still uses the default staff PIN 1234 (set one in staff mode or with "
                       "`kiosk config set-pin`)")
        return out


def _timestamp(iso: str | None) -> float | None:
    try:
        return datetime.fromisoformat(iso).timestamp() if iso else None
    except ValueError:
        return None


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request, user: StaffDep, moved: str | None = None) -> HTMLResponse:
    now, stale_after = time.time(), stale_after_of(request)
    with snapshot(engine_of(request)) as conn:
        devices = conn.execute(sa.select(db.devices).where(db.devices.c.revoked_at.is_(None))
                               .order_by(db.devices.c.location, db.devices.c.name)).all()
        latest = publish.latest_content_version(conn)
        group_rows = groups.list_groups(conn)
        rebuilt = rebuilds.by_device(conn)
        limited = throttle.hits_today(conn, zone_of(request), now)
        data = traffic.per_device(conn, zone_of(request), now)
    meant = {g.name: g.content_version for g in group_rows}  # what each group's kiosks should have
    rows = []
    for d in devices:
        rows.append(FleetRow(
            d, last_sync=LastSync.from_stored(d.last_sync_result),
            stale=not d.last_seen or now - d.last_seen > stale_after,
            low_disk=d.free_disk is not None and d.free_disk < LOW_DISK,
            deep_outbox=(d.outbox_depth or 0) > DEEP_OUTBOX,
            behind=str(d.content_version or "") != str(meant.get(d.rollout_group) or ""),
            recovered=rebuilt.get(d.id), bytes_today=data.get(d.id, {}).get("today", 0),
            bytes_per_day=data.get(d.id, {}).get("per_day", 0)))
    rows.sort(key=lambda r: (not r.trouble, r.row.location or "", r.row.name))
    trouble = sum(r.trouble for r in rows)
    chart = charts.bar_chart([("ok", len(rows) - trouble), ("stale", sum(r.stale for r in rows)),
                              ("sync failing", sum(r.failing for r in rows)),
                              ("events rejected", sum(r.rejected > 0 for r in rows)),
                              ("low disk", sum(r.low_disk for r in rows)),
                              ("deep outbox", sum(r.deep_outbox for r in rows)),
                              ("database rebuilt", sum(r.rebuilt_recently for r in rows))],
                             title="Kiosks by state", width=480, height=200)
    # Only a device name goes from the link onto the page, and only one the page lists.
    done = next((f"{r.row.name} is now in group {r.row.rollout_group}; it receives that group's content "
                 "version at its next sync." for r in rows if r.row.name == moved), None)
    return render(request, "fleet.html", user, rows=rows, trouble=trouble, latest=latest, chart=chart,
                  stale_minutes=round(stale_after / 60), limited=limited, groups=group_rows, done=done)


@router.post("/fleet/{device}/group")
def move_to_group(request: Request, user: PublisherDep, device: Annotated[str, Path(max_length=80)],
                  group: Annotated[str, Form(max_length=80)]) -> Response:
    # PublisherDep (StaffDep, then the role) has checked the form's CSRF token and its origin (server.csrf).
    try:
        groups.move_device(engine_of(request), device, group)
    except publish.RolloutError as exc:
        raise HTTPException(404, str(exc)) from None
    return RedirectResponse(f"/dashboard/fleet?{urlencode({'moved': device})}", status_code=303)


@router.post("/fleet/groups/{group}/hours")
def set_group_hours(request: Request, user: PublisherDep, group: Annotated[str, Path(max_length=80)],
                    hours: Annotated[str, Form(max_length=400)] = "") -> Response:
    """A group's opening hours (server/opening_hours.py), which the alerts count time by."""
    try:
        groups.set_opening_hours(engine_of(request), group, hours)
    except publish.RolloutError as exc:
        raise HTTPException(400, str(exc)) from None
    return RedirectResponse("/dashboard/fleet", status_code=303)

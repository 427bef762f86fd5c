"""The Fleet page: every kiosk's last heartbeat, the ones needing attention first."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from server import charts, db, publish
from server.dashboard.render import engine_of, render, snapshot, stale_after_of
from server.deps import StaffDep

LOW_DISK = 1024**3
DEEP_OUTBOX = 100
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@dataclass
class FleetRow:
    row: Any
    stale: bool
    failing: bool
    low_disk: bool
    deep_outbox: bool
    behind: bool

    @property
    def trouble(self) -> bool:
        return self.stale or self.failing or self.low_disk or self.deep_outbox


def sync_failed(result: str | None) -> bool:
    """The kiosk's last sync result is plain text ("ok", "error: ...") or a JSON object
    ({"ok": false, "error": ...}); anything that is not a success counts as failing."""
    text = (result or "").strip()
    if not text:
        return False  # never synced yet: shown as such, and stale if it never heartbeats
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            return True
        return not (obj.get("ok") is True or obj.get("status") == "ok") or bool(obj.get("error"))
    return not text.lower().startswith("ok")


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(request: Request, user: StaffDep) -> HTMLResponse:
    now, stale_after = time.time(), stale_after_of(request)
    with snapshot(engine_of(request)) as conn:
        devices = conn.execute(sa.select(db.devices).where(db.devices.c.revoked_at.is_(None))
                               .order_by(db.devices.c.location, db.devices.c.name)).all()
        latest = publish.latest_content_version(conn)
    rows = []
    for d in devices:
        rows.append(FleetRow(
            d, stale=not d.last_seen or now - d.last_seen > stale_after,
            failing=sync_failed(d.last_sync_result),
            low_disk=d.free_disk is not None and d.free_disk < LOW_DISK,
            deep_outbox=(d.outbox_depth or 0) > DEEP_OUTBOX,
            behind=latest is not None and str(d.content_version or "") != str(latest)))
    rows.sort(key=lambda r: (not r.trouble, r.row.location or "", r.row.name))
    trouble = sum(r.trouble for r in rows)
    chart = charts.bar_chart([("ok", len(rows) - trouble), ("stale", sum(r.stale for r in rows)),
                              ("sync failing", sum(r.failing for r in rows)),
                              ("low disk", sum(r.low_disk for r in rows)),
                              ("deep outbox", sum(r.deep_outbox for r in rows))],
                             title="Kiosks by state", width=480, height=200)
    return render(request, "fleet.html", user, rows=rows, trouble=trouble, latest=latest, chart=chart,
                  stale_minutes=round(stale_after / 60))

"""The Alerts page: what is open now (newest first), what is snoozed, and what was resolved in the
last week; each alert's sentence links to the page that shows why. Staff snooze an alert here:
no message about it goes out until the snooze ends (server/alerts/evaluator.py)."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Form, HTTPException, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from server import db
from server.alerts import delivery
from server.alerts.sources import KIND_TITLES
from server.dashboard.render import engine_of, render, snapshot
from server.deps import EditorDep, StaffDep

RESOLVED_SHOWN = 7 * 86400
SNOOZE_HOURS = (1, 4, 24, 168)  # the choices the page offers
router = APIRouter(prefix="/dashboard", include_in_schema=False)


@dataclass
class AlertRow:
    row: Any
    now: float

    @property
    def title(self) -> str:
        return KIND_TITLES.get(self.row.kind, self.row.kind)

    @property
    def snoozed(self) -> bool:
        return bool(self.row.snoozed_until and self.row.snoozed_until > self.now)

    @property
    def delivery(self) -> str:
        """What happened to its last message, in words."""
        if not self.row.delivery:
            return "not sent yet" if not self.snoozed else "held while snoozed"
        note = json.loads(self.row.delivery)
        return f"{note['event']}: {note['note']}"


@router.get("/alerts", response_class=HTMLResponse)
def alerts_page(request: Request, user: StaffDep) -> HTMLResponse:
    now = time.time()
    al = db.alerts
    with snapshot(engine_of(request)) as conn:
        open_rows = conn.execute(sa.select(al).where(al.c.resolved_at.is_(None))
                                 .order_by(al.c.opened_at.desc(), al.c.id.desc())).all()
        resolved = conn.execute(sa.select(al).where(al.c.resolved_at >= now - RESOLVED_SHOWN)
                                .order_by(al.c.resolved_at.desc(), al.c.id.desc()).limit(200)).all()
    rows = [AlertRow(r, now) for r in open_rows]
    config = request.app.state.ctx.config
    return render(request, "alerts.html", user, active=[r for r in rows if not r.snoozed],
                  snoozed=[r for r in rows if r.snoozed], resolved=[AlertRow(r, now) for r in resolved],
                  snooze_hours=SNOOZE_HOURS, channels=delivery.channels(config),
                  interval=config.alert_interval)


@router.post("/alerts/{alert_id}/snooze")
def snooze(request: Request, user: EditorDep, alert_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
           hours: Annotated[float, Form(ge=0, le=24 * 90)]) -> Response:
    """hours 0 ends a snooze. StaffDep has checked the form's CSRF token and origin (server.csrf)."""
    until = time.time() + hours * 3600 if hours else None
    with db.write(engine_of(request)) as conn:
        done = conn.execute(db.alerts.update().where(db.alerts.c.id == alert_id, db.alerts.c.resolved_at.is_(None))
                            .values(snoozed_until=until, snoozed_by=user if until else None)).rowcount
    if not done:
        raise HTTPException(404, "That alert is not open any more.")
    return RedirectResponse("/dashboard/alerts", status_code=303)

"""Staff login for API clients (the dashboard has its own form) and the fleet's state as JSON."""

from __future__ import annotations

import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from contract.heartbeat import LastSync
from server import auth, db
from server.deps import ContextDep, StaffDep, check_staff, set_staff_cookie
from server.routes import API

router = APIRouter(prefix=API, tags=["staff"])


class Login(BaseModel):
    username: Annotated[str, Field(max_length=80)]
    password: Annotated[str, Field(max_length=1024)]


@router.post("/staff/login")
def staff_login(ctx: ContextDep, login: Login, request: Request) -> Response:
    if not check_staff(ctx.engine, login.username, login.password):
        raise HTTPException(401, "wrong username or password")
    response = JSONResponse({"username": login.username})
    set_staff_cookie(response, request, login.username)
    return response


@router.post("/staff/logout")
def staff_logout() -> Response:
    response = JSONResponse({"ok": True})
    response.delete_cookie(auth.COOKIE_NAME, path="/")
    return response


@router.get("/fleet")
def fleet(ctx: ContextDep, staff: StaffDep) -> dict[str, Any]:
    config = ctx.config
    now = time.time()
    stale_seconds = config.stale_after_minutes * 60
    with db.read(ctx.engine) as conn:
        rows = conn.execute(sa.select(db.devices).order_by(db.devices.c.name)).mappings().all()
    devices = []
    for row in rows:
        last_seen = row["last_seen"]
        last_sync = LastSync.from_stored(row["last_sync_result"])
        devices.append({
            "name": row["name"], "location": row["location"], "created_at": row["created_at"],
            "revoked": row["revoked_at"] is not None, "last_seen": last_seen,
            "seconds_since_seen": None if last_seen is None else round(now - last_seen, 1),
            "stale": last_seen is None or now - last_seen > stale_seconds,
            "content_version": row["content_version"], "outbox_depth": row["outbox_depth"],
            "last_sync_result": last_sync.model_dump() if last_sync else None,
            "healthy": last_sync.healthy if last_sync else None,
            "rejected_events": row["rejected_events"], "app_version": row["app_version"],
            "free_disk": row["free_disk"], "uptime": row["uptime"], "default_pin": bool(row["default_pin"])})
    return {"devices": devices, "stale_after_minutes": config.stale_after_minutes, "server_time": now}

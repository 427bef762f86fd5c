"""Staff login for API clients (the dashboard has its own form) and the fleet's state as JSON."""

from __future__ import annotations

import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from contract.heartbeat import LastSync
from server import auth, csrf, db
from server.deps import ContextDep, StaffDep, check_staff, ctx_of, end_staff_session, set_staff_cookie
from server.routes import API

router = APIRouter(prefix=API, tags=["staff"])


class Login(BaseModel):
    username: Annotated[str, Field(max_length=80)]
    password: Annotated[str, Field(max_length=1024)]


@router.post("/staff/login")
def staff_login(login: Login, request: Request, response: Response) -> dict[str, str]:
    """Log in with a cookie. The reply's csrf_token goes in the X-CSRF-Token header of every
    request that changes something (server.csrf)."""
    csrf.require_same_origin(request)  # another site's page must not log a browser in either
    if not check_staff(request, login.username, login.password):
        raise HTTPException(401, "wrong username or password")
    token = set_staff_cookie(response, request, login.username)  # FastAPI adds its cookies to the reply
    return {"username": login.username, "csrf_token": token}


@router.get("/staff/session")
def staff_session(staff: StaffDep, request: Request) -> dict[str, str]:
    """Who is logged in, and the CSRF token of the cookie's session ('' for HTTP Basic)."""
    return {"username": staff, "csrf_token": csrf.csrf_token(request)}


@router.post("/staff/logout")
def staff_logout(request: Request, response: Response,
                 submitted: Annotated[str, Depends(csrf.submitted_token)]) -> dict[str, bool]:
    """End the cookie's session on the server. A session's logout needs its CSRF token, so another
    site cannot log staff out either."""
    if auth.session_user(ctx_of(request).engine, request.cookies.get(auth.COOKIE_NAME, "")):
        csrf.require_token(request, submitted)
    end_staff_session(response, request)
    return {"ok": True}


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
            "free_disk": row["free_disk"], "uptime": row["uptime"], "default_pin": bool(row["default_pin"]),
            "group": row["rollout_group"], "epoch": row["epoch"]})
    return {"devices": devices, "stale_after_minutes": config.stale_after_minutes, "server_time": now}

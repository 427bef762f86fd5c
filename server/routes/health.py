"""GET /healthz: the load balancer's and the tests' "is this process up and migrated"."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from server import db
from server.deps import ContextDep

router = APIRouter(tags=["server"])


@router.get("/healthz")
def healthz(ctx: ContextDep) -> dict[str, Any]:
    with db.read(ctx.engine) as conn:
        return {"ok": True, "schema_version": db.current_version(conn)}

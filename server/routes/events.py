"""What kiosks send: event batches (stored once per uuid) and heartbeats (the Fleet page's state)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from contract.heartbeat import Heartbeat
from server import db, rebuilds
from server.deps import ContextDep, DeviceDep
from server.ingest import MAX_BATCH, store_events
from server.routes import API, clean_text

router = APIRouter(prefix=API, tags=["events"])


class EventBatch(BaseModel):
    events: list[Any] = Field(description=f"at most {MAX_BATCH} events, each as contract.events.make_event builds it")


class Rejected(BaseModel):
    uuid: str | None
    index: int
    reason: str


class IngestReply(BaseModel):
    accepted: list[str]
    duplicates: list[str]
    rejected: list[Rejected]
    server_time: float


class ServerTime(BaseModel):
    server_time: float


@router.post("/events", response_model=IngestReply,
             responses={413: {"description": "too many events or too large"},
                        429: {"description": "overloaded; retry after Retry-After seconds"}})
def ingest(ctx: ContextDep, batch: EventBatch, device: DeviceDep) -> Any:
    if len(batch.events) > MAX_BATCH:
        raise HTTPException(413, f"a batch holds at most {MAX_BATCH} events; this one has {len(batch.events)}")
    if not ctx.ingest_slots.acquire(timeout=ctx.config.ingest_wait):
        # each refused batch gets its own second to come back in (server/retry_slots.py)
        raise HTTPException(429, "the server is busy storing other batches; retry later",
                            headers={"Retry-After": str(ctx.retry_slots.retry_after())})
    try:
        result = store_events(ctx.engine, device.name, batch.events, touch_device_id=device.id)
    finally:
        ctx.ingest_slots.release()
    return {**result.as_dict(), "server_time": time.time()}


@router.post("/heartbeat", response_model=ServerTime)
def heartbeat(ctx: ContextDep, beat: Heartbeat, device: DeviceDep) -> ServerTime:
    now = time.time()
    # Stored as the contract's LastSync JSON, the one shape the Fleet page reads back.
    sync_result = beat.last_sync_result.stored() if beat.last_sync_result is not None else None
    with db.write(ctx.engine) as conn:
        conn.execute(db.devices.update().where(db.devices.c.id == device.id).values(
            last_seen=now, last_heartbeat=now,
            content_version=clean_text(None if beat.content_version is None else str(beat.content_version), 64),
            outbox_depth=beat.outbox_depth, last_sync_result=clean_text(sync_result, 2000),
            app_version=clean_text(beat.app_version, 64), free_disk=beat.free_disk, uptime=beat.uptime,
            rejected_events=beat.rejected_events, default_pin=beat.default_pin is True))
        rebuilds.save(conn, device.id, beat.recovered)
    return ServerTime(server_time=time.time())

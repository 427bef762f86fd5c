"""The HTTP API (docs/api.md) and the app that serves it with the mobile pages.

`create_app()` reads its settings from the environment (server.config), so each uvicorn worker
builds the same app; everything the workers must agree on lives in the database or the data dir.
"""

from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from fastapi.security import (
    APIKeyCookie,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from pydantic import BaseModel, Field
from sqlalchemy.engine import Engine
from starlette.datastructures import MutableHeaders

from contract.guides import GUIDE_ID, LibraryInvalid
from server import auth, db, publish
from server.config import Config
from server.content import IMMUTABLE, ManifestCache, image_response, manifest_response
from server.ingest import MAX_BATCH, MAX_INT, store_events
from server.signing import load_or_create_key, public_key_b64

log = logging.getLogger("kiosk-server")
API = "/api/v1"
PUBLISH_PATH = f"{API}/publish"


@dataclass
class Context:
    config: Config
    engine: Engine
    signing_key: Ed25519PrivateKey
    mobile_secret: bytes
    cookie_secret: bytes
    manifests: ManifestCache
    ingest_slots: threading.BoundedSemaphore


# --- the outermost guard: size limits, X-Server-Time, no stack traces to clients ---------------


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int):
        super().__init__(413, f"the request body is larger than {limit:,} bytes")


class ServerGuard:
    """Pure ASGI so it wraps every response, errors included (a BaseHTTPMiddleware or an
    exception handler would miss the ones Starlette's own error middleware sends)."""

    def __init__(self, app, config: Config):
        self.app, self.config = app, config

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.config.max_upload if scope["path"] == PUBLISH_PATH else self.config.max_body
        started = False

        async def send_stamped(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)["X-Server-Time"] = f"{time.time():.6f}"
            await send(message)

        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            status = 413 if declared.isdigit() else 400
            detail = BodyTooLarge(limit).detail if status == 413 else "bad Content-Length"
            return await JSONResponse({"detail": detail}, status_code=status)(scope, receive, send_stamped)
        received = 0

        async def receive_counted():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        try:
            await self.app(scope, receive_counted, send_stamped)
        except BodyTooLarge as exc:
            if not started:
                await JSONResponse({"detail": exc.detail}, status_code=413)(scope, receive, send_stamped)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                raise
            await JSONResponse({"detail": "internal server error"}, status_code=500)(scope, receive, send_stamped)


# --- auth dependencies -------------------------------------------------------------------------

bearer = HTTPBearer(auto_error=False, scheme_name="device", description="Device token from `kiosk-server device add`")
basic = HTTPBasic(auto_error=False, scheme_name="staffBasic", description="Staff username and password")
staff_cookie = APIKeyCookie(name=auth.COOKIE_NAME, auto_error=False, scheme_name="staffCookie",
                            description="Set by POST /api/v1/staff/login")


def ctx_of(request: Request) -> Context:
    return request.app.state.ctx


def require_device(request: Request,
                   creds: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]) -> auth.Device:
    device = None
    if creds is not None and 0 < len(creds.credentials) <= 200:
        device = auth.device_for_token(ctx_of(request).engine, creds.credentials)
    if device is None:
        raise HTTPException(401, "a valid device token is needed (Authorization: Bearer ...)",
                            headers={"WWW-Authenticate": "Bearer"})
    return device


def _check_staff(engine, username: str, password: str) -> bool:
    try:
        return auth.check_staff(engine, username, password)
    except auth.LoginThrottled as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


def require_staff(request: Request,
                  creds: Annotated[HTTPBasicCredentials | None, Security(basic)],
                  cookie: Annotated[str | None, Security(staff_cookie)]) -> str:
    ctx = ctx_of(request)
    if cookie:
        user = auth.read_cookie(ctx.cookie_secret, cookie)
        if user:
            return user
    if creds is not None and _check_staff(ctx.engine, creds.username, creds.password):
        return creds.username
    raise HTTPException(401, "staff login needed", headers={"WWW-Authenticate": 'Basic realm="kiosk-server"'})


DeviceDep = Annotated[auth.Device, Depends(require_device)]
StaffDep = Annotated[str, Depends(require_staff)]


# --- request and response models ---------------------------------------------------------------


class ServerKey(BaseModel):
    algorithm: str
    public_key: str


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


Count = Annotated[int, Field(ge=0, le=2**62)]


class Heartbeat(BaseModel):
    content_version: Count | Annotated[str, Field(max_length=64)] | None = None
    outbox_depth: Count | None = None
    last_sync_result: Annotated[str, Field(max_length=2000)] | dict[str, Any] | None = None
    app_version: Annotated[str, Field(max_length=64)] | None = None
    free_disk: Count | None = None
    uptime: Annotated[float, Field(ge=0, le=1e12, allow_inf_nan=False)] | None = None


class ServerTime(BaseModel):
    server_time: float


class Login(BaseModel):
    username: Annotated[str, Field(max_length=80)]
    password: Annotated[str, Field(max_length=1024)]


class RollbackRequest(BaseModel):
    version: Annotated[int, Field(ge=1, le=MAX_INT)]


def _clean(text: str | None, max_len: int) -> str | None:
    """Text from a device as the database can store it: no NULs, no lone surrogates."""
    if text is None:
        return None
    return text.encode("utf-8", "replace").decode("utf-8").replace("\x00", "")[:max_len]


# --- the app -----------------------------------------------------------------------------------


def create_app(config: Config | None = None) -> FastAPI:
    config = config or Config.from_env()
    engine = db.make_engine(config.db_url)
    db.migrate(engine)
    ctx = Context(config=config, engine=engine, signing_key=load_or_create_key(config.data_dir),
                  mobile_secret=db.shared_secret(engine, "mobile_link_key"),
                  cookie_secret=db.shared_secret(engine, "staff_cookie_key"),
                  manifests=ManifestCache(),
                  ingest_slots=threading.BoundedSemaphore(max(1, config.ingest_concurrency)))
    app = FastAPI(title="Guide kiosk server", version="1.0.0",
                  description="Sync API for guide kiosks (docs/api.md), staff publishing and fleet state, "
                              "and the mobile continue pages.")
    app.state.ctx = ctx
    app.add_middleware(ServerGuard, config=config)

    from server.mobile import router as mobile_router

    app.include_router(mobile_router)

    from server.dashboard import install as install_dashboard

    install_dashboard(app)  # the staff dashboard's pages under /dashboard

    @app.get("/healthz", tags=["server"])
    def healthz() -> dict[str, Any]:
        with db.read(engine) as conn:
            return {"ok": True, "schema_version": db.current_version(conn)}

    # content ----------------------------------------------------------------------------------

    @app.get(f"{API}/server-key", tags=["content"], response_model=ServerKey)
    def server_key() -> ServerKey:
        return ServerKey(algorithm="ed25519", public_key=public_key_b64(ctx.signing_key))

    @app.get(f"{API}/content/manifest", tags=["content"],
             responses={200: {"description": "the signed manifest"}, 304: {"description": "unchanged"},
                        404: {"description": "nothing published yet"}})
    def manifest(request: Request, device: DeviceDep) -> Response:
        return manifest_response(request)

    @app.get(f"{API}/content/guides/{{guide_id}}/{{version}}", tags=["content"],
             responses={200: {"description": "the guide's canonical JSON", "content": {"application/json": {}}}})
    def guide(device: DeviceDep,
              guide_id: Annotated[str, PathParam(max_length=80, pattern=GUIDE_ID.pattern)],
              version: Annotated[int, PathParam(ge=1, le=MAX_INT)]) -> Response:
        body = publish.guide_document(engine, guide_id, version)
        if body is None:
            return JSONResponse({"detail": f"no guide '{guide_id}' version {version}"}, status_code=404)
        return Response(body, media_type="application/json", headers={"Cache-Control": IMMUTABLE})

    @app.get(f"{API}/content/images/{{sha256}}", tags=["content"],
             responses={200: {"description": "the image bytes"}, 206: {"description": "a byte range"}})
    def image(request: Request, device: DeviceDep, sha256: Annotated[str, PathParam(max_length=64)]) -> Response:
        return image_response(request, sha256)

    # events and heartbeat ---------------------------------------------------------------------

    @app.post(f"{API}/events", tags=["events"], response_model=IngestReply,
              responses={413: {"description": "too many events or too large"},
                         429: {"description": "overloaded; retry after Retry-After seconds"}})
    def ingest(batch: EventBatch, device: DeviceDep) -> Any:
        if len(batch.events) > MAX_BATCH:
            raise HTTPException(413, f"a batch holds at most {MAX_BATCH} events; this one has {len(batch.events)}")
        if not ctx.ingest_slots.acquire(timeout=config.ingest_wait):
            raise HTTPException(429, "the server is busy storing other batches; retry later",
                                headers={"Retry-After": "2"})
        try:
            result = store_events(engine, device.name, batch.events, touch_device_id=device.id)
        finally:
            ctx.ingest_slots.release()
        return {**result.as_dict(), "server_time": time.time()}

    @app.post(f"{API}/heartbeat", tags=["events"], response_model=ServerTime)
    def heartbeat(beat: Heartbeat, device: DeviceDep) -> ServerTime:
        now = time.time()
        sync_result = beat.last_sync_result
        if isinstance(sync_result, dict):
            sync_result = json.dumps(sync_result, ensure_ascii=True, default=str)
        with db.write(engine) as conn:
            conn.execute(db.devices.update().where(db.devices.c.id == device.id).values(
                last_seen=now, last_heartbeat=now,
                content_version=_clean(None if beat.content_version is None else str(beat.content_version), 64),
                outbox_depth=beat.outbox_depth, last_sync_result=_clean(sync_result, 2000),
                app_version=_clean(beat.app_version, 64), free_disk=beat.free_disk, uptime=beat.uptime))
        return ServerTime(server_time=time.time())

    # staff ------------------------------------------------------------------------------------

    @app.post(f"{API}/staff/login", tags=["staff"])
    def staff_login(login: Login, request: Request) -> Response:
        if not _check_staff(engine, login.username, login.password):
            raise HTTPException(401, "wrong username or password")
        response = JSONResponse({"username": login.username})
        response.set_cookie(auth.COOKIE_NAME, auth.make_cookie(ctx.cookie_secret, login.username),
                            max_age=auth.COOKIE_MAX_AGE, httponly=True, samesite="lax", path="/",
                            secure=request.url.scheme == "https")
        return response

    @app.post(f"{API}/staff/logout", tags=["staff"])
    def staff_logout() -> Response:
        response = JSONResponse({"ok": True})
        response.delete_cookie(auth.COOKIE_NAME, path="/")
        return response

    @app.get(f"{API}/fleet", tags=["staff"])
    def fleet(staff: StaffDep) -> dict[str, Any]:
        now = time.time()
        stale_seconds = config.stale_after_minutes * 60
        with db.read(engine) as conn:
            rows = conn.execute(sa.select(db.devices).order_by(db.devices.c.name)).mappings().all()
        devices = []
        for row in rows:
            last_seen = row["last_seen"]
            devices.append({
                "name": row["name"], "location": row["location"], "created_at": row["created_at"],
                "revoked": row["revoked_at"] is not None, "last_seen": last_seen,
                "seconds_since_seen": None if last_seen is None else round(now - last_seen, 1),
                "stale": last_seen is None or now - last_seen > stale_seconds,
                "content_version": row["content_version"], "outbox_depth": row["outbox_depth"],
                "last_sync_result": row["last_sync_result"], "app_version": row["app_version"],
                "free_disk": row["free_disk"], "uptime": row["uptime"]})
        return {"devices": devices, "stale_after_minutes": config.stale_after_minutes, "server_time": now}

    @app.post(PUBLISH_PATH, tags=["staff"],
              responses={422: {"description": "the library is invalid: every problem is listed"}})
    def publish_upload(staff: StaffDep, library: Annotated[UploadFile, File(description="a .zip or .tar.gz library")],
                       note: Annotated[str | None, Form(max_length=500)] = None) -> Any:
        with tempfile.TemporaryDirectory(prefix="kiosk-upload-") as tmp:
            head = library.file.read(4)
            library.file.seek(0)
            name = (library.filename or "").lower()
            suffix = next((s for s in (".zip", ".tar.gz", ".tgz", ".tar") if name.endswith(s)), None)
            if suffix is None:
                suffix = ".zip" if head.startswith(b"PK") else ".tar.gz" if head.startswith(b"\x1f\x8b") else ".tar"
            path = Path(tmp) / f"library{suffix}"
            with path.open("wb") as out:
                while chunk := library.file.read(1 << 20):
                    out.write(chunk)
            try:
                result = publish.publish_path(engine, path, by=staff, note=_clean(note, 500))
            except LibraryInvalid as exc:
                problems = [{**p.as_dict(), "text": str(p)} for p in exc.problems]
                return JSONResponse({"detail": f"the library has {len(problems)} problem(s); nothing was published",
                                     "problems": problems}, status_code=422)
        log.info("staff %s published content version %s", staff, result.content_version)
        return result.as_dict()

    @app.get(f"{API}/content/versions", tags=["staff"])
    def content_version_list(staff: StaffDep) -> dict[str, Any]:
        cv = db.content_versions
        with db.read(engine) as conn:
            rows = conn.execute(sa.select(cv.c.version, cv.c.published_at, cv.c.published_by, cv.c.note,
                                          cv.c.rollback_of).order_by(cv.c.version.desc())).mappings().all()
        return {"versions": [dict(r) for r in rows]}

    @app.post(f"{API}/content/rollback", tags=["staff"])
    def content_rollback(req: RollbackRequest, staff: StaffDep) -> Any:
        try:
            result = publish.rollback(engine, req.version, by=staff)
        except LibraryInvalid as exc:
            return JSONResponse({"detail": "cannot roll back", "problems": [p.as_dict() for p in exc.problems]},
                                status_code=404)
        return result.as_dict()

    return app


"""What a route needs, as FastAPI dependencies: the server's shared context, the calling device
(bearer token) and the calling staff member. Routes take them as the Annotated aliases below."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Annotated

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import Depends, HTTPException, Request, Response, Security
from fastapi.security import (
    APIKeyCookie,
    HTTPAuthorizationCredentials,
    HTTPBasic,
    HTTPBasicCredentials,
    HTTPBearer,
)
from sqlalchemy.engine import Engine

from server import auth
from server.config import Config
from server.content import ManifestCache


@dataclass
class Context:
    config: Config
    engine: Engine
    signing_key: Ed25519PrivateKey
    mobile_secret: bytes
    cookie_secret: bytes
    manifests: ManifestCache
    ingest_slots: threading.BoundedSemaphore


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


def check_staff(engine, username: str, password: str) -> bool:
    try:
        return auth.check_staff(engine, username, password)
    except auth.LoginThrottled as exc:
        raise HTTPException(429, str(exc), headers={"Retry-After": str(exc.retry_after)}) from None


class StaffLoginNeeded(HTTPException):
    """No staff login on the request. API clients get this 401 as it is; the dashboard turns it into
    a redirect to its login form (server.dashboard.install)."""

    def __init__(self, request: Request):
        super().__init__(401, "staff login needed", headers={"WWW-Authenticate": 'Basic realm="kiosk-server"'})
        self.next_url = request.url.path + (f"?{request.url.query}" if request.url.query else "")


def require_staff(request: Request,
                  creds: Annotated[HTTPBasicCredentials | None, Security(basic)],
                  cookie: Annotated[str | None, Security(staff_cookie)]) -> str:
    """The one staff check for the API and the dashboard alike: the signed login cookie (set by
    either login, below) or HTTP Basic credentials on the request itself."""
    ctx = ctx_of(request)
    if cookie:
        user = auth.read_cookie(ctx.cookie_secret, cookie)
        if user:
            return user
    if creds is not None and check_staff(ctx.engine, creds.username, creds.password):
        return creds.username
    raise StaffLoginNeeded(request)


def set_staff_cookie(response: Response, request: Request, username: str) -> None:
    """Log the staff member in on this browser or client: the cookie require_staff reads.
    SameSite=Strict, so no other site's page can send it along with a form of its own."""
    response.set_cookie(auth.COOKIE_NAME, auth.make_cookie(ctx_of(request).cookie_secret, username),
                        max_age=auth.COOKIE_MAX_AGE, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


ContextDep = Annotated[Context, Depends(ctx_of)]
DeviceDep = Annotated[auth.Device, Depends(require_device)]
StaffDep = Annotated[str, Depends(require_staff)]

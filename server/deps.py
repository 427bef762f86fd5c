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

from server import auth, csrf
from server.config import Config
from server.content import ManifestCache
from server.retry_slots import RetrySlots


@dataclass
class Context:
    config: Config
    engine: Engine
    signing_key: Ed25519PrivateKey
    mobile_secret: bytes  # never rotated: phone event ids derive from it (links: server.link_keys)
    cookie_secret: bytes
    manifests: ManifestCache
    ingest_slots: threading.BoundedSemaphore
    retry_slots: RetrySlots  # when each refused batch is told to come back


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
    request.state.device_id = device.id  # the request's bytes count as this device's (server/traffic.py)
    return device


def client_address(request: Request) -> str:
    """The caller's address as the server sees it: uvicorn takes it from X-Forwarded-For only when
    the connection comes from one of the trusted proxies (server setting trusted_proxies)."""
    return request.client.host if request.client else "unknown"


def staff_login(request: Request, username: str, password: str) -> bool:
    """Check a staff password as coming from this request's source. Raises auth.LoginThrottled."""
    ctx = ctx_of(request)
    known = auth.read_known_browser(ctx.cookie_secret, request.cookies.get(auth.KNOWN_BROWSER_COOKIE), username)
    limits = auth.LoginLimits(pair=ctx.config.staff_pair_limit, user=ctx.config.staff_user_limit,
                              address=ctx.config.staff_address_limit)
    return auth.check_staff(ctx.engine, username, password, auth.LoginSource(client_address(request), known), limits)


def check_staff(request: Request, username: str, password: str) -> bool:
    """staff_login for the API: a throttled source gets 429 with Retry-After."""
    try:
        return staff_login(request, username, password)
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
                  cookie: Annotated[str | None, Security(staff_cookie)],
                  submitted_csrf: Annotated[str, Depends(csrf.submitted_token)]) -> str:
    """The one staff check for the API and the dashboard alike: the login cookie (a server-side
    session, set by either login, below) or HTTP Basic credentials on the request itself. A
    request that changes something must come from this server's own pages (server.csrf)."""
    ctx = ctx_of(request)
    changes = request.method not in csrf.SAFE_METHODS
    if cookie:
        user = auth.session_user(ctx.engine, cookie)
        if user:
            if changes:
                csrf.require_token(request, submitted_csrf)
            return user
    if creds is not None:
        if changes:
            csrf.require_same_origin(request)
        if check_staff(request, creds.username, creds.password):
            return creds.username
    raise StaffLoginNeeded(request)


class RoleNeeded(HTTPException):
    """The staff member is logged in but their role does not allow this (server.auth.ROLES). The
    dashboard and studio answer with a plain 403 page naming the role (server.dashboard.install);
    the API with this 403 as JSON."""

    def __init__(self, user: str, have: str | None, needed: str):
        super().__init__(403, f"This needs the {needed} role; {user} is {_a(have or 'without a role')}. "
                              "Ask a publisher or the server's administrator "
                              f"(`kiosk-server staff add {user} --role {needed}`).")
        self.needed = needed


def _a(role: str) -> str:
    return f"an {role}" if role[0] in "aeiou" else f"a {role}"


def require_role(needed: str):
    """A dependency: the staff member (as require_staff finds them) when their role is at least
    `needed` (viewer < editor < publisher), else RoleNeeded. Every route that needs a role uses
    one of the aliases below, so the rule is written once."""
    if needed not in auth.ROLES:
        raise ValueError(f"unknown role {needed!r}")

    def check(request: Request, user: Annotated[str, Depends(require_staff)]) -> str:
        have = auth.staff_role(ctx_of(request).engine, user)
        if not auth.role_allows(have, needed):
            raise RoleNeeded(user, have, needed)
        return user

    check.__name__ = f"require_{needed}"
    return check


def set_staff_cookie(response: Response, request: Request, username: str) -> str:
    """Log the staff member in on this browser or client: a new server-side session in the cookie
    require_staff reads, and the known-browser cookie that spares this browser from the lockout
    others can cause. SameSite=Strict, HttpOnly. Returns the session's CSRF token."""
    ctx = ctx_of(request)
    secure = request.url.scheme == "https"
    session = auth.start_session(ctx.engine, username)
    response.set_cookie(auth.COOKIE_NAME, session, max_age=auth.COOKIE_MAX_AGE, httponly=True, samesite="strict",
                        path="/", secure=secure)
    response.set_cookie(auth.KNOWN_BROWSER_COOKIE, auth.make_known_browser(ctx.cookie_secret, username),
                        max_age=auth.KNOWN_BROWSER_MAX_AGE, httponly=True, samesite="strict", path="/",
                        secure=secure)
    return csrf.token_for(ctx.cookie_secret, session)


def end_staff_session(response: Response, request: Request) -> None:
    """Log out: the session ends on the server (a copied cookie stops working too)."""
    if session := request.cookies.get(auth.COOKIE_NAME):
        auth.end_session(ctx_of(request).engine, session)
    response.delete_cookie(auth.COOKIE_NAME, path="/")


ContextDep = Annotated[Context, Depends(ctx_of)]
DeviceDep = Annotated[auth.Device, Depends(require_device)]
StaffDep = Annotated[str, Depends(require_staff)]  # any role: the dashboard's pages
EditorDep = Annotated[str, Depends(require_role("editor"))]  # drafts in the studio
PublisherDep = Annotated[str, Depends(require_role("publisher"))]  # publish, roll back, promote, move

"""Cross-site request forgery: a page on another site (or another port of this host, which counts as
the same site for SameSite cookies) must not make a logged-in staff member's browser change anything.

Every state-changing staff request is checked twice:
- its Origin (and Sec-Fetch-Site, when the browser sends it) must be this server itself; this
  guards cookie and HTTP Basic logins alike (a browser caches Basic credentials too), and a script
  that sends neither header passes;
- when a login cookie authenticated it, it must carry the CSRF token bound to that session: the
  `csrf` field of a form, or the X-CSRF-Token header for scripts on the dashboard's own pages. Pages
  find the token in `<meta name="csrf-token">` and in every form; API clients get it from
  POST /api/v1/staff/login and GET /api/v1/staff/session.
Bearer-token (device) calls are not browser logins and are not checked.
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

from fastapi import HTTPException, Request

from server import auth

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf"
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def token_for(secret: bytes, session_token: str) -> str:
    return hmac.new(secret, b"csrf|" + session_token.encode(), hashlib.sha256).hexdigest()[:40]


def csrf_token(request: Request) -> str:
    """The token for the session in this request's login cookie ('' without one)."""
    session = request.cookies.get(auth.COOKIE_NAME, "")
    return token_for(request.app.state.ctx.cookie_secret, session) if session else ""


def _netloc(scheme: str, netloc: str) -> str:
    netloc = netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(scheme.lower())
    return netloc.removesuffix(default) if default else netloc


def same_origin(request: Request) -> bool:
    """False when a browser says the request comes from another origin than this server's."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not sent by a browser's cross-origin request (browsers send Origin on those)
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:
        return False  # "null": a sandboxed frame, a redirect from elsewhere, a file
    return _netloc(parts.scheme, parts.netloc) == _netloc(parts.scheme, request.headers.get("host", ""))


def require_same_origin(request: Request) -> None:
    if not same_origin(request):
        raise HTTPException(403, "This request came from another site's page; it was refused.")


def require_token(request: Request, submitted: str | None) -> None:
    """The request's own origin and, for its login cookie's session, the right token."""
    require_same_origin(request)
    expected = csrf_token(request)
    if not expected or not hmac.compare_digest((submitted or "").encode(), expected.encode()):
        raise HTTPException(403, "The form has expired or did not come from this dashboard; reload the page "
                                 f"(scripts: send the {HEADER} header).")


async def submitted_token(request: Request) -> str:
    """The CSRF token a state-changing request carries: the header, else the form field."""
    if request.method in SAFE_METHODS:
        return ""
    if header := request.headers.get(HEADER):
        return header
    if request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(FORM_FIELD)  # Starlette parses the body once and keeps it
        return value if isinstance(value, str) else ""
    return ""

"""The CSRF token of the dashboard's forms, bound to the staff member's login cookie."""

from __future__ import annotations

import hashlib
import hmac

from fastapi import HTTPException, Request

from server import auth


def cookie_secret_of(request: Request) -> bytes:
    # The same key the API's staff login signs with, so one login serves the API and the dashboard.
    return request.app.state.ctx.cookie_secret


def csrf_token(request: Request) -> str:
    cookie = request.cookies.get(auth.COOKIE_NAME, "")
    return hmac.new(cookie_secret_of(request), b"csrf|" + cookie.encode(), hashlib.sha256).hexdigest()[:40]


def check_csrf(request: Request, token: str) -> None:
    if not hmac.compare_digest(token or "", csrf_token(request)) or not request.cookies.get(auth.COOKIE_NAME):
        raise HTTPException(403, "The form has expired or did not come from this dashboard; reload the page.")

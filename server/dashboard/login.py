"""Who is asking: the dashboard's cookie login (the login form, logout) and the redirect to it."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from server import auth
from server.dashboard.csrf import check_csrf, cookie_secret_of
from server.dashboard.render import SERVER_DIR, engine_of, render

router = APIRouter(prefix="/dashboard", include_in_schema=False)


def _staff(request: Request) -> str | None:
    cookie = request.cookies.get(auth.COOKIE_NAME)
    return auth.read_cookie(cookie_secret_of(request), cookie) if cookie else None


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


def require_staff(request: Request) -> str:
    user = _staff(request)
    if user is None:
        raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
    return user


def login_redirect(request: Request, exc: LoginRequired) -> Response:
    """Browsers are sent to the login page; anything else asking for CSV gets a plain 401."""
    if "text/html" not in request.headers.get("accept", "") and request.url.path.endswith(".csv"):
        return Response("log in as staff first\n", status_code=401, media_type="text/plain")
    return RedirectResponse("/dashboard/login?" + urlencode({"next": exc.next_url}), status_code=303)


@router.get("/static/dashboard.css")
def stylesheet() -> FileResponse:
    return FileResponse(SERVER_DIR / "static" / "dashboard.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


def _safe_next(value: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if value and value.startswith("/dashboard") and not value.startswith("//"):
        return value
    return "/dashboard"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    try:
        ok = auth.check_staff(engine_of(request), username, password)
    except auth.LoginThrottled as exc:
        resp = render(request, "login.html", None, next=_safe_next(next),
                      error=f"Too many failed attempts. Try again in {max(1, exc.retry_after // 60)} minute(s).")
        resp.status_code = 429
        resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    if not ok:
        resp = render(request, "login.html", None, next=_safe_next(next), error="Wrong username or password.")
        resp.status_code = 401
        return resp
    resp = RedirectResponse(_safe_next(next), status_code=303)
    resp.set_cookie(auth.COOKIE_NAME, auth.make_cookie(cookie_secret_of(request), username), max_age=auth.COOKIE_MAX_AGE,
                    httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/")
    return resp


@router.post("/logout")
def logout(request: Request, csrf: str = Form("")) -> Response:
    check_csrf(request, csrf)
    resp = RedirectResponse("/dashboard/login", status_code=303)
    resp.delete_cookie(auth.COOKIE_NAME, path="/")
    return resp

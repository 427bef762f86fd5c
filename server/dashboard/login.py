"""The dashboard's login form and logout, and the redirect to the form for a page asked for without a
login. Who is logged in is decided by server.deps.require_staff, the same check the API uses."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from server import auth, csrf
from server.dashboard.render import SERVER_DIR, render
from server.deps import RoleNeeded, StaffLoginNeeded, end_staff_session, set_staff_cookie, staff_login

router = APIRouter(prefix="/dashboard", include_in_schema=False)


async def login_redirect(request: Request, exc: StaffLoginNeeded) -> Response:
    """A dashboard page without a staff login: browsers are sent to the login page, anything else
    asking for CSV gets a plain 401. Outside the dashboard the API's 401 stands."""
    path = request.url.path
    if not path.startswith(("/dashboard", "/studio")) or path.startswith("/studio/api"):
        return await http_exception_handler(request, exc)
    if "text/html" not in request.headers.get("accept", "") and request.url.path.endswith(".csv"):
        return Response("log in as staff first\n", status_code=401, media_type="text/plain")
    return RedirectResponse("/dashboard/login?" + urlencode({"next": exc.next_url}), status_code=303)


async def role_refused(request: Request, exc: RoleNeeded) -> Response:
    """A staff member whose role does not allow the request: the dashboard's and the studio's
    pages answer with a plain 403 page naming the role; API paths keep the JSON 403."""
    path = request.url.path
    if not (path.startswith(("/dashboard", "/studio")) and not path.startswith("/studio/api")):
        return await http_exception_handler(request, exc)
    user = auth.session_user(request.app.state.ctx.engine, request.cookies.get(auth.COOKIE_NAME, "")) or ""
    resp = render(request, "forbidden.html", user or None, message=exc.detail, needed=exc.needed)
    resp.status_code = 403
    return resp


@router.get("/static/dashboard.css")
def stylesheet() -> FileResponse:
    return FileResponse(SERVER_DIR / "static" / "dashboard.css", media_type="text/css",
                        headers={"Cache-Control": "max-age=3600"})


def _safe_next(value: str | None) -> str:
    # Only a path on this site: never an open redirect to another host.
    if value and value.startswith(("/dashboard", "/studio")) and not value.startswith("//"):
        return value
    return "/dashboard"


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", None, next=_safe_next(next), error=None)


@router.post("/login")
def login(request: Request, username: str = Form(""), password: str = Form(""), next: str = Form("")) -> Response:
    csrf.require_same_origin(request)  # another site's form must not log this browser in
    try:
        ok = staff_login(request, username, password)
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
    set_staff_cookie(resp, request, username)
    return resp


@router.post("/logout")
def logout(request: Request, token: str = Form("", alias=csrf.FORM_FIELD)) -> Response:
    if auth.session_user(request.app.state.ctx.engine, request.cookies.get(auth.COOKIE_NAME, "")):
        csrf.require_token(request, token)
    resp = RedirectResponse("/dashboard/login", status_code=303)
    end_staff_session(resp, request)  # the session ends on the server, not only in this browser
    return resp

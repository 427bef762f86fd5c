"""The mobile continue page: a phone that scanned a kiosk's QR code goes on through the same
guide, in the same session, and can leave feedback. Plain HTML forms and links, no JavaScript.

Two kinds of link lead here. `/c/...` is made by a kiosk (contract.handoff.make_url) and verified
with that device's handoff key. `/m/...` is made by this server for every next page, in the same
shape, signed with a server secret kept in the database (so any server process can check it).
Either way, a link that does not verify gets a plain 403 page, never a guide.

A photographed QR code must not be a key for ever, nor a tap for a thousand clicks:
- a link expires `phone_link_hours` after it was made (its signed `t`; a kiosk's clock corrected by
  the offset the server learnt from that kiosk's events; an hour of skew forgiven either way). The
  pages a link leads to carry the same time, so walking on never renews it. Links without `t`
  (kiosks from before) are accepted until `phone_legacy_links_until`.
- every request counts against its signed link and its session (server.throttle, shared by all
  processes), never the address: thousands of phones share an airport's one address.
- feedback is one event per (session, guide, outcome): a second submission is refused (the first
  one stands) and the phone is told so.

Events are recorded as the kiosk's device with channel "mobile". Their uuids are derived from the
signed link with the server's secret (an HMAC), so reloading a page or re-submitting a form does not
count twice, and nobody who has the link can work out an id in advance and claim it first. When the
server's disk is full the pages are still shown (their events are lost, and logged); feedback that
cannot be stored says so on a page of its own, with Retry-After.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Annotated
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from contract.events import scrub
from contract.guides import Guide, pick
from contract.handoff import BadHandoff, Handoff, parse_fields, query, sign, verify
from server import db, i18n, link_keys, publish, throttle
from server.auth import device_by_name
from server.content import image_response
from server.ingest import store_events
from server.params import whole

log = logging.getLogger("kiosk-server.mobile")
router = APIRouter(tags=["mobile"])
templates = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(default=True, default_for_string=True))
# No script may run on these pages, whatever text ends up in them.
CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")


def _html(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={
        "Content-Security-Policy": CSP, "Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer"})


def error_page(status: int, lang: str = "en", key: str = "bad_link", retry_after: int | None = None) -> HTMLResponse:
    s = i18n.strings(lang)
    ui = i18n.ui_language(lang)
    page = _html(templates.get_template("error.html").render(
        lang=ui, dir=i18n.direction(ui), s=s, message=s[key],
        hint=s["bad_link_hint"] if key in ("bad_link", "expired") else ""), status)
    if retry_after is not None:
        page.headers["Retry-After"] = str(retry_after)
    return page


def _mobile_url(secret: bytes, h: Handoff, suffix: str = "") -> str:
    return f"/m/{quote(h.device)}/{h.guide}/{h.version}/{quote(h.step)}{suffix}?{query(h, sign(h, secret))}"


def _link_key(request: Request) -> bytes:
    """The key this request's pages sign their links with (read by _check)."""
    return request.state.link_key


def _id_signature(request: Request, h: Handoff) -> str:
    # Event ids must not change with the link's issue time (a kiosk's offset can change between
    # two opens of one QR code), so they are derived from the link without it.
    return sign(replace(h, issued=None), request.app.state.ctx.mobile_secret)


def _event_id(secret: bytes, *parts: object) -> str:
    """The uuid of an event the phone page records: the same for the same page (stored once), and
    made with the server's secret, so it cannot be known before the server makes it."""
    message = "|".join(("mobile-event", *map(str, parts))).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:32]


def _record(request: Request, h: Handoff, kind: str, uuid: str, data: dict, step: str | None = None) -> str:
    """Store one event of the phone page: "stored", "duplicate" (it was there already) or
    "disk_full" (the server's disk is full; the page is served anyway)."""
    event = {"uuid": uuid, "type": kind, "device": h.device, "session": h.session, "channel": "mobile",
             "kiosk_time": time.time(), "mono": None, "guide": h.guide, "guide_version": h.version,
             "step": step or h.step, "lang": h.lang, "data": data}
    try:
        result = store_events(request.app.state.ctx.engine, h.device, [event])
    except Exception as exc:
        if not db.is_disk_full(exc):
            raise
        log.error("mobile %s event of session %s not stored: the server's disk is full", kind, h.session)
        return "disk_full"
    if result.rejected:
        log.warning("mobile event not stored: %s", result.rejected)
    return "stored" if result.accepted else "duplicate"


class _Refused(Exception):
    def __init__(self, status: int, key: str = "bad_link", lang: str = "en", retry_after: int | None = None):
        self.status, self.key, self.lang, self.retry_after = status, key, lang, retry_after

    def page(self) -> HTMLResponse:
        return error_page(self.status, self.lang, self.key, self.retry_after)


CLOCK_SKEW = 3600.0  # seconds a link's time may be off, either way, after the kiosk's offset
RATE_WINDOW = 600  # seconds: the window of phone_link_limit and phone_session_limit


def kiosk_clock_offset(engine, device: str) -> float:
    """How far the kiosk's clock is behind the server's (seconds to add), as its latest events said
    (each event's server_time is its kiosk_time plus the offset the kiosk measured); 0 if unknown."""
    ev = db.events
    with db.read(engine) as conn:
        row = conn.execute(sa.select(ev.c.server_time, ev.c.kiosk_time).where(
            ev.c.device == device, ev.c.channel == "kiosk").order_by(ev.c.server_time.desc()).limit(1)).first()
    return row.server_time - row.kiosk_time if row else 0.0


def _issued_on_server_clock(request: Request, kind: str, h: Handoff, now: float) -> int:
    """The link's issue time by the server's clock, or _Refused(410) when it has expired."""
    config = request.app.state.ctx.config
    if h.issued is None:  # made before links carried a time
        end = config.legacy_links_end
        if end is not None and now >= end:
            raise _Refused(410, "expired", h.lang)
        return int(now)  # the pages it leads to expire a lifetime from now
    issued = h.issued + (kiosk_clock_offset(request.app.state.ctx.engine, h.device) if kind == "kiosk" else 0.0)
    if issued > now + CLOCK_SKEW or now > issued + config.phone_link_hours * 3600 + CLOCK_SKEW:
        raise _Refused(410, "expired", h.lang)
    return int(issued)


def _count_request(request: Request, h: Handoff, signature: str, now: float) -> None:
    """Count this request against its signed link and its session; _Refused(429) past a limit."""
    config = request.app.state.ctx.config
    limits = [throttle.Limit(f"phone-link:{signature}", config.phone_link_limit, RATE_WINDOW),
              throttle.Limit(f"phone-session:{h.device}:{h.session}", config.phone_session_limit, RATE_WINDOW)]
    counts = throttle.count(request.app.state.ctx.engine, limits, now)
    for lim, n in zip(limits, counts, strict=True):
        if n.hits == lim.limit + 1:  # the first refusal in this window: logged and counted once, not per request
            throttle.record_hit(request.app.state.ctx.engine, throttle.PHONE_LIMITED,
                                f"phone page rate limit ({lim.limit} per {RATE_WINDOW // 60} minutes) reached by "
                                f"{lim.name.split(':', 1)[0]} of device {h.device} session {h.session} "
                                f"(link {signature}), from address "
                                f"{request.client.host if request.client else 'unknown'}", now)
    if over := [n for lim, n in zip(limits, counts, strict=True) if n.hits > lim.limit]:
        raise _Refused(429, "busy", h.lang, max(n.retry_after(now) for n in over))


def _check(request: Request, kind: str, device: str, guide: str, version: str, step: str,
           p: str, s: str, l: str, k: str, t: str) -> tuple[Handoff, Guide]:
    try:
        h, sig = parse_fields(device, guide, version, step, p, s, l, k, t=t)
    except BadHandoff:
        raise _Refused(403) from None
    ctx = request.app.state.ctx
    now = time.time()
    keys = link_keys.load(ctx.engine)
    request.state.link_key = keys.current
    if kind == "kiosk":
        dev = device_by_name(ctx.engine, h.device)
        accepted = [dev.handoff_key] if dev else []
    else:
        accepted = keys.accepted(ctx.config.phone_link_hours * 3600 + CLOCK_SKEW, now)
    if not any(verify(h, sig, key) for key in accepted):
        raise _Refused(403, lang=h.lang)
    h = replace(h, issued=_issued_on_server_clock(request, kind, h, now))
    _count_request(request, h, sig, now)
    if device_by_name(ctx.engine, h.device) is None:  # revoked since
        raise _Refused(403, lang=h.lang)
    guide_obj = publish.load_guide(ctx.engine, h.guide, h.version)
    if guide_obj is None or h.step not in guide_obj.steps:
        raise _Refused(404, "gone", h.lang)
    lang = h.lang if h.lang in guide_obj.languages else guide_obj.language
    return replace(h, lang=lang), guide_obj


def _history(guide: Guide, path: tuple[int, ...], lang: str) -> list[tuple[str, str]] | None:
    """(step text, chosen label) for each choice on the path; None if the path does not fit."""
    out, step_id = [], guide.start
    for index in path:
        step = guide.steps[step_id]
        if not 0 <= index < len(step.choices) or not step.choices[index].next:
            return None
        choice = step.choices[index]
        out.append((pick(step.text, lang, guide.language), pick(choice.label, lang, guide.language)))
        step_id = choice.next
    return out


def _page(request: Request, h: Handoff, guide: Guide) -> HTMLResponse:
    secret = _link_key(request)
    lang, step = h.lang, guide.steps[h.step]
    history = _history(guide, h.path, lang)
    if history is not None and len(history) != len(h.path):
        history = None
    choices = [(pick(c.label, lang, guide.language), _mobile_url(secret, h, f"/choose/{i}"))
               for i, c in enumerate(step.choices)]
    languages = [(code, i18n.LANGUAGE_NAMES.get(code, code), _mobile_url(secret, replace(h, lang=code)))
                 for code in guide.languages if code != lang]
    image = guide.images.get(step.image) if step.image else None
    ui = i18n.ui_language(lang)
    return _html(templates.get_template("step.html").render(
        lang=lang, dir=i18n.direction(lang), s=i18n.strings(ui),
        title=pick(guide.title, lang, guide.language), text=pick(step.text, lang, guide.language),
        image=f"/m/img/{image}" if image else None, history=history or [], choices=choices,
        image_alt=pick(step.image_alt, lang, guide.language) if step.image_alt else "",
        outcome=step.end, languages=languages,
        feedback_url=_mobile_url(secret, h, "/feedback") if step.end else None,
        start_url=_mobile_url(secret, replace(h, step=guide.start, path=()))))


def _show(request: Request, kind: str, device: str, guide: str, version: str, step: str,
          p: str, s: str, l: str, k: str, t: str) -> Response:
    try:
        h, guide_obj = _check(request, kind, device, guide, version, step, p, s, l, k, t)
    except _Refused as refused:
        return refused.page()
    secret = request.app.state.ctx.mobile_secret
    sig = _id_signature(request, h)
    if kind == "kiosk":
        _record(request, h, "handoff_opened", _event_id(secret, "handoff_opened", k), {})
    _record(request, h, "step_view", _event_id(secret, "step_view", sig), {"depth": len(h.path) + 1})
    end = guide_obj.steps[h.step].end
    if end:
        _record(request, h, "outcome", _event_id(secret, "outcome", sig), {"outcome": end})
    return _page(request, h, guide_obj)


@router.get("/c/{device}/{guide}/{version}/{step}", response_class=HTMLResponse,
            summary="Mobile continue page, opened from a kiosk's QR code")
def open_from_kiosk(request: Request, device: str, guide: str, version: str, step: str,
                    p: str = "", s: str = "", l: str = "", k: str = "", t: str = "") -> Response:
    return _show(request, "kiosk", device, guide, version, step, p, s, l, k, t)


@router.get("/m/{device}/{guide}/{version}/{step}", response_class=HTMLResponse,
            summary="Mobile continue page, a later step")
def mobile_step(request: Request, device: str, guide: str, version: str, step: str,
                p: str = "", s: str = "", l: str = "", k: str = "", t: str = "") -> Response:
    return _show(request, "server", device, guide, version, step, p, s, l, k, t)


@router.get("/m/{device}/{guide}/{version}/{step}/choose/{index}", summary="Take a choice on the mobile page")
def mobile_choose(request: Request, device: str, guide: str, version: str, step: str,
                  index: Annotated[int, PathParam(ge=0, le=999), whole(0, 999, "the choice")],
                  p: str = "", s: str = "", l: str = "", k: str = "", t: str = "") -> Response:
    try:
        h, guide_obj = _check(request, "server", device, guide, version, step, p, s, l, k, t)
    except _Refused as refused:
        return refused.page()
    choices = guide_obj.steps[h.step].choices
    if not 0 <= index < len(choices):
        return error_page(404, h.lang, "gone")
    choice = choices[index]
    ctx = request.app.state.ctx
    _record(request, h, "choice", _event_id(ctx.mobile_secret, "choice", _id_signature(request, h), index),
            {"index": index, "label": pick(choice.label, guide_obj.language, guide_obj.language),
             "next": choice.next, "guide": choice.guide})
    if choice.guide:
        version_no = publish.current_guide_version(ctx.engine, choice.guide)
        target = publish.load_guide(ctx.engine, choice.guide, version_no) if version_no else None
        if target is None:
            return error_page(404, h.lang, "gone")
        nxt = replace(h, guide=target.id, version=version_no, step=target.start, path=())
    else:
        if len(h.path) >= 199:
            return error_page(404, h.lang, "gone")
        nxt = replace(h, step=choice.next, path=h.path + (index,))
    return RedirectResponse(_mobile_url(_link_key(request), nxt), status_code=303)


@router.post("/m/{device}/{guide}/{version}/{step}/feedback", response_class=HTMLResponse,
             summary="Feedback at an outcome on the mobile page")
def mobile_feedback(request: Request, device: str, guide: str, version: str, step: str,
                    p: str = "", s: str = "", l: str = "", k: str = "", t: str = "",
                    helped: str = Form(""), rating: str = Form(""), comment: str = Form("")) -> Response:
    try:
        h, guide_obj = _check(request, "server", device, guide, version, step, p, s, l, k, t)
    except _Refused as refused:
        return refused.page()
    outcome = guide_obj.steps[h.step].end
    if not outcome:
        return error_page(404, h.lang, "gone")
    helped_value = {"yes": True, "no": False}.get(helped)
    rating_value = int(rating) if rating in ("1", "2", "3", "4", "5") else None
    comment = comment[:5000]
    # One feedback event per (session, guide, outcome): its id says which, so a second submission
    # (reloaded, from another page of the session, or a replayed form) is a duplicate and refused.
    secret = request.app.state.ctx.mobile_secret
    result = _record(request, h, "feedback", _event_id(secret, "feedback", h.device, h.session, h.guide, outcome),
                     {"helped": helped_value, "rating": rating_value, "comment": comment})
    if result == "disk_full":  # say so, on a page the phone can read
        return error_page(503, h.lang, "not_saved", retry_after=300)
    ui = i18n.ui_language(h.lang)
    s_ = i18n.strings(ui)
    return _html(templates.get_template("thanks.html").render(
        lang=h.lang, dir=i18n.direction(h.lang), s=s_, title=pick(guide_obj.title, h.lang, guide_obj.language),
        already=result == "duplicate",
        helped=s_["yes"] if helped_value else s_["no"] if helped_value is False else None,
        rating=rating_value, comment=scrub(comment),
        start_url=_mobile_url(_link_key(request), replace(h, step=guide_obj.start, path=()))))


@router.get("/m/img/{sha256}", summary="A guide image for the mobile page (public, immutable)")
def mobile_image(request: Request, sha256: str) -> Response:
    """Only an image of a published content version: one uploaded to a studio draft is not public
    (the studio's preview reads it from /studio/images/, behind the staff login)."""
    return image_response(request, sha256, published_only=True)

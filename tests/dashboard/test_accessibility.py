"""axe-core (tests/vendor/axe-core, pinned) in Chromium over every page the server answers with
HTML: each dashboard page logged in as staff on the simulated history, each phone page at phone
size, in English and Arabic, and in every colour theme a page's stylesheets offer. WCAG 2.0, 2.1
and 2.2 A and AA: 0 violations.

The pages come from the app's own GET routes that answer HTML, so a page added later is audited
without anyone touching this file; a route with path parameters needs one example in EXAMPLES,
and the test says so when it has none."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

from contract.handoff import Handoff, handoff_key, make_url, query, sign
from devtools.server_screenshots import browser, log_in
from server import auth, db, link_keys, publish
from server.alerts import evaluator
from server.app import create_app
from server.config import Config

from .conftest import PASSWORD, USER

EDITOR = "axe-editor"

AXE_DIR = Path(__file__).resolve().parents[1] / "vendor" / "axe-core"
AXE_VERSION = "4.14.1"  # tests/vendor/axe-core/README.md says where it came from
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
DESKTOP = {"width": 1360, "height": 900}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
PHONE_DEVICE = "axe-kiosk"  # added to the test's copy of the history: its links are signed with its key
GUIDE = "lost-baggage"

# Media features a stylesheet may switch themes on, and how Chromium is told to show each.
THEME_FEATURES = {
    "prefers-color-scheme: dark": {"color_scheme": "dark"},
    "prefers-contrast: more": {"contrast": "more"},
    "forced-colors: active": {"forced_colors": "active"},
}
LIGHT = {"color_scheme": "light", "contrast": "no-preference", "forced_colors": "none"}


@dataclass
class Site:
    """What the examples need to build real links: the server and the signing keys."""
    base: str
    device_key: bytes
    link_key: bytes
    guide_version: int
    draft: int = 0  # a studio draft with an edited guide, being worked on
    in_review: int = 0  # one submitted for review, with a comment: its page shows the diff and the review

    def handoff(self, step: str, path: tuple[int, ...] = (), lang: str = "en") -> Handoff:
        return Handoff(device=PHONE_DEVICE, guide=GUIDE, version=self.guide_version, step=step, path=path,
                       session=f"axe{lang}{step}".replace("-", ""), lang=lang, issued=int(time.time()))

    def kiosk_link(self, step: str, path: tuple[int, ...] = (), lang: str = "en") -> str:
        return make_url(self.base, self.handoff(step, path, lang), self.device_key)

    def phone_link(self, step: str, path: tuple[int, ...] = (), lang: str = "en") -> str:
        h = self.handoff(step, path, lang)
        return f"{self.base}/m/{quote(h.device)}/{h.guide}/{h.version}/{quote(h.step)}?{query(h, sign(h, self.link_key))}"


# Pages to audit for each HTML route with path parameters (routes without any are audited as they
# are). A new route with parameters needs a line here: a real, filled-in page of it.
EXAMPLES: dict[str, Callable[[Site], list[str]]] = {
    "/dashboard/guides/{guide_id}": lambda s: [f"{s.base}/dashboard/guides/{GUIDE}"],
    "/studio/drafts/{draft_id}": lambda s: [f"{s.base}/studio/drafts/{s.draft}", f"{s.base}/studio/drafts/{s.in_review}"],
    # the editor on the step just edited, its form and the tree of steps beside it
    "/studio/drafts/{draft_id}/guides/{guide_id}": lambda s: [f"{s.base}/studio/drafts/{s.draft}/guides/{GUIDE}?step=belt#step"],
    # the step's preview as a kiosk (both orientations, high contrast once) beside the phone's frame
    "/studio/drafts/{draft_id}/guides/{guide_id}/preview": lambda s: [
        f"{s.base}/studio/drafts/{s.draft}/guides/{GUIDE}/preview?step=belt",
        f"{s.base}/studio/drafts/{s.draft}/guides/{GUIDE}/preview?step=belt&orientation=portrait&contrast=1"],
    "/studio/drafts/{draft_id}/guides/{guide_id}/phone": lambda s: [
        f"{s.base}/studio/drafts/{s.draft}/guides/{GUIDE}/phone?step=belt"],
    # the history of the step the editor changed (a draft's revision and the published version)
    "/studio/drafts/{draft_id}/guides/{guide_id}/history": lambda s: [
        f"{s.base}/studio/drafts/{s.draft}/guides/{GUIDE}/history?step=belt"],
    # the library's search synonyms in a draft
    "/studio/drafts/{draft_id}/synonyms": lambda s: [f"{s.base}/studio/drafts/{s.draft}/synonyms"],
    # its categories (each with an icon picker) and help places
    "/studio/drafts/{draft_id}/settings": lambda s: [f"{s.base}/studio/drafts/{s.draft}/settings"],
    # the three-way merge of a draft (the in-review one)
    "/studio/drafts/{draft_id}/resolve": lambda s: [f"{s.base}/studio/drafts/{s.in_review}/resolve"],
    # find and replace with the texts it would change listed
    "/studio/drafts/{draft_id}/replace": lambda s: [f"{s.base}/studio/drafts/{s.draft}/replace?find=belt&replace=belt%206"],
    "/c/{device}/{guide}/{version}/{step}": lambda s: [s.kiosk_link("belt")],  # the first step, with its image
    # a middle step with the path so far, and an outcome with the feedback form (also right to left)
    "/m/{device}/{guide}/{version}/{step}": lambda s: [
        s.phone_link("waited", (0,)), s.phone_link("no-tag", (0, 0, 1)), s.phone_link("no-tag", (0, 0, 1), "ar")],
}


def html_routes(app) -> list[RouteContext]:
    """The app's GET routes that answer HTML, one per endpoint (/dashboard and /dashboard/ are one
    page). FastAPI includes routers lazily, so app.routes alone holds only the top level."""
    seen, out = set(), []
    for route in iter_route_contexts(app.routes):
        response_class = getattr(route, "response_class", None)
        if (isinstance(route.original_route, APIRoute) and "GET" in (route.methods or ())
                and isinstance(response_class, type) and issubclass(response_class, HTMLResponse)
                and route.endpoint not in seen):
            seen.add(route.endpoint)
            out.append(route)
    return out


def pages_to_audit(app, site: Site) -> tuple[list[str], list[str]]:
    """(staff pages, phone pages): the phone pages are server.mobile's, seen at phone size; every
    other page (dashboard, studio, ...) is for staff at a desk, logged in."""
    staff, phone, missing = [], [], []
    for route in html_routes(app):
        urls = phone if route.endpoint.__module__ == "server.mobile" else staff
        if "{" not in route.path:
            urls.append(site.base + route.path)
        elif route.path in EXAMPLES:
            urls.extend(EXAMPLES[route.path](site))
        else:
            missing.append(route.path)
    assert not missing, (
        f"GET {', '.join(missing)} answer(s) HTML, but the accessibility audit cannot fill in the path "
        f"parameters: add an example page for each to EXAMPLES in {Path(__file__).relative_to(AXE_DIR.parents[2])}")
    return staff, phone


def audited_page(chromium, **context_args):
    """A new page whose every document gets axe before anything else runs (an init script: the
    pages' own Content-Security-Policy, which allows no script at all, does not apply to it)."""
    context = chromium.new_context(**context_args)
    context.add_init_script(path=str(AXE_DIR / "axe.min.js"))
    return context.new_page()


def run_axe(page) -> list[dict]:
    return page.evaluate("""async (tags) => {
        const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary}))}));
    }""", TAGS)


def themes_of(page) -> list[str]:
    """The media features among THEME_FEATURES that the page's stylesheets have rules for."""
    found = page.evaluate("""() => {
        const found = new Set();
        const note = text => { for (const m of text.matchAll(/\\(\\s*(prefers-color-scheme|prefers-contrast|forced-colors)\\s*:\\s*([a-z-]+)\\s*\\)/g)) found.add(m[1] + ': ' + m[2]); };
        const walk = rules => { for (const r of rules) { if (r.media) note(r.media.mediaText); if (r.cssRules) walk(r.cssRules); } };
        for (const sheet of document.styleSheets) { note(sheet.media.mediaText); walk(sheet.cssRules); }
        return [...found];
    }""")
    unknown = [f for f in found if f not in THEME_FEATURES and f != "prefers-color-scheme: light"]
    assert not unknown, f"{page.url} has a theme for {unknown}: say in THEME_FEATURES how Chromium shows it"
    return sorted(f for f in found if f in THEME_FEATURES)


def audit(page, url: str, problems: list[str], *, after: Callable | None = None) -> None:
    """Open url (then do `after`, e.g. submit a form) and audit it in the light theme and in each
    other theme its stylesheets have."""
    page.emulate_media(**LIGHT)
    response = page.goto(url)
    if after:
        after(page)
    else:
        assert response is not None and response.ok, f"{url} answered {response.status if response else None}"
    for theme in ["light", *themes_of(page)]:
        page.emulate_media(**(LIGHT | THEME_FEATURES.get(theme, {})))
        for v in run_axe(page):
            nodes = "".join(f"\n    {n['target']}: {' '.join(n['summary'].split())}" for n in v["nodes"])
            where = urlsplit(page.url)._replace(scheme="", netloc="").geturl()[:120]
            problems.append(f"{where} [{theme}] {v['id']} ({v['impact']}): {v['help']}{nodes}")


def editors_work(base: str, comment: int, fix_version: int) -> tuple[int, int]:
    """What an editor does through the pages' own API and forms, as their script and forms send it:
    a comment marked as acted on (so "You said, we did" has a row), and two studio drafts: one
    with an edited step, one submitted for review with a comment. Returns the drafts' ids."""
    with httpx.Client(base_url=base, timeout=30, follow_redirects=False) as editor:
        assert editor.post("/dashboard/login", data={"username": EDITOR, "password": PASSWORD}).status_code == 303
        editor.headers["X-CSRF-Token"] = editor.get("/api/v1/staff/session").json()["csrf_token"]
        assert editor.post(f"/dashboard/feedback/{comment}/triage", data={
            "state": "acted", "note": "New signs by belt 4", "fix_version": str(fix_version)}).status_code == 303
        made = []
        for name in ("Belt numbers for the new hall", "Clearer first step"):
            r = editor.post("/studio/api/drafts", json={"name": name})
            assert r.status_code == 201, r.text
            draft = r.json()["id"]
            belt = editor.get(f"/studio/api/drafts/{draft}/guides/{GUIDE}").json()["document"]["steps"]["belt"]
            r = editor.post(f"/studio/api/drafts/{draft}/guides/{GUIDE}/edit", headers={"If-Match": '"0"'}, json={
                "op": "set_step", "step": "belt", **belt, "text": {**belt["text"], "en": f"{name}: is your bag on the belt?"}})
            assert r.status_code == 200 and r.json()["problems"] == [], r.text
            made.append(draft)
        review = made[1]
        assert editor.post(f"/studio/drafts/{review}/submit", data={"group": "", "note": "please look"}).status_code == 303
        assert editor.post(f"/studio/drafts/{review}/comment", data={"body": "The sign by the belt says hall B."}
                           ).status_code == 303
    return made[0], review


@pytest.fixture
def site(shared_server, tmp_path) -> Site:
    engine = db.make_engine(shared_server.db_url)
    try:
        token = auth.add_device(engine, PHONE_DEVICE, "Gate A accessibility audit")
        version = publish.current_guide_version(engine, GUIDE)
        key = link_keys.load(engine).current
        auth.set_staff_password(engine, EDITOR, PASSWORD, role="editor")
        ev, cg = db.events, db.content_guides
        with db.read(engine) as conn:  # a comment on the guide's first version; the content version with its second
            comment = conn.execute(sa.select(sa.func.min(ev.c.id)).where(
                ev.c.type == "feedback", ev.c.guide == GUIDE, ev.c.guide_version == 1, ev.c.comment != "")).scalar_one()
            fix_version = conn.execute(sa.select(sa.func.min(cg.c.content_version)).where(
                cg.c.guide_id == GUIDE, cg.c.guide_version == 2)).scalar_one()
        # one alert round now, so the Alerts page is audited with its table filled in
        evaluator.run_round(engine, Config(data_dir=tmp_path, db=shared_server.db_url))
    finally:
        engine.dispose()
    draft, in_review = editors_work(shared_server.base, comment, fix_version)
    return Site(shared_server.base, handoff_key(token), key, version, draft, in_review)


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture
def app(tmp_path):
    return create_app(Config(data_dir=tmp_path / "routes", db=f"sqlite:///{tmp_path / 'routes.db'}"))


@pytest.mark.parametrize("template", ["sqlite"], indirect=True)  # the HTML is the same on PostgreSQL
def test_every_page_has_no_wcag_22_aa_violations(template, shared_server, site, app, chromium):
    problems: list[str] = []
    dashboard, phone_pages = pages_to_audit(app, site)
    assert site.base + "/dashboard/fleet" in dashboard and phone_pages
    staff = audited_page(chromium, viewport=DESKTOP)
    log_in(staff, shared_server.base, USER, PASSWORD)
    for url in dashboard:
        audit(staff, url, problems)
    # the pages whose tables are empty until something happens were audited with rows in them
    for path, rows in [("/dashboard/alerts", "table.alerts tbody tr[data-alert]"),
                       ("/dashboard/you-said", "#you-said tbody tr[data-comment]"),
                       ("/dashboard/people", "#people-steps tbody tr[data-step]"),
                       (f"/dashboard/guides/{GUIDE}", "#did-it-help #help-steps tbody tr"),
                       (f"/studio/drafts/{site.in_review}", "#review .diff-guide"),
                       (f"/studio/drafts/{site.in_review}", "#comments li.comment-comment")]:
        staff.goto(site.base + path)
        assert staff.locator(rows).count(), f"{path} has no {rows}: the audit saw it empty"
    # Deleting a guide that other guides' answers lead to: the page listing them (nothing deleted yet).
    audit(staff, f"{site.base}/studio/drafts/{site.draft}", problems, after=lambda page: (
        page.get_by_role("button", name=f"Delete guide {GUIDE} in this draft").click(), page.wait_for_selector("#jumps")))
    # The icon pickers open (a group of radio buttons, each a pictogram and its name).
    audit(staff, f"{site.base}/studio/drafts/{site.draft}/guides/{GUIDE}", problems, after=lambda page: (
        page.locator("#guide-icon summary").click(), page.wait_for_selector("#guide-icon input[value=baggage]")))
    audit(staff, f"{site.base}/studio/drafts/{site.draft}/settings", problems, after=lambda page: (
        page.locator("#cat0-icons summary").click(), page.wait_for_selector("#cat0-icons input[value=baggage]")))
    phone = audited_page(chromium, **PHONE)
    for url in phone_pages:
        audit(phone, url, problems)

    # Pages that only a form or a refusal leads to: the thanks after feedback, a refused link.
    def give_feedback(page):
        page.get_by_label("4").check()
        page.get_by_role("button").last.click()
        page.wait_for_selector("#thanks")

    audit(phone, site.kiosk_link("found", (0, 1, 0)), problems, after=give_feedback)
    audit(phone, site.kiosk_link("belt").replace("k=", "k=AAAA"), problems,
          after=lambda page: page.wait_for_selector("#error"))
    report = "\n".join(problems)
    assert not problems, f"axe-core {AXE_VERSION} found {len(problems)} violation(s) of {', '.join(TAGS)}:\n{report}"


def test_the_vendored_axe_is_the_pinned_version():
    assert (AXE_DIR / "axe.min.js").read_text()[:40].startswith(f"/*! axe v{AXE_VERSION}")
    assert "Mozilla Public License, version 2.0" in (AXE_DIR / "LICENSE").read_text()
    assert AXE_VERSION in (AXE_DIR / "README.md").read_text()


def test_a_theme_of_the_stylesheet_is_audited_too(chromium):
    """A page whose stylesheet has a dark theme is audited in it as well: here only the dark one fails."""
    page_html = ("<!doctype html><html lang=en><title>t</title><style>p { color: #000; background: #fff }"
                 "@media (prefers-color-scheme: dark) { p { color: #333; background: #222 } }</style><p>Text</p>")
    problems: list[str] = []
    audit(audited_page(chromium), "data:text/html," + quote(page_html), problems, after=lambda page: None)
    assert len(problems) == 1 and "[prefers-color-scheme: dark] color-contrast" in problems[0], problems


def test_a_route_without_an_example_is_named(app, tmp_path):
    """A new HTML route with parameters and no example fails the audit with a sentence saying what to do."""
    route = "/dashboard/unaudited-example/{thing_id}"  # a path no real route will ever have
    assert route not in EXAMPLES

    @app.get(route, response_class=HTMLResponse)
    def unfilled_page(thing_id: str) -> str:
        return ""

    site = Site("http://127.0.0.1:1", b"k", b"k", 1)
    with pytest.raises(AssertionError, match=r"GET (.*, )?/dashboard/unaudited-example/\{thing_id\}(, .*)? answer\(s\) HTML"
                                             r".*add an example") as refused:
        pages_to_audit(app, site)
    # the real routes all have theirs: only the new one is named
    assert "{" not in str(refused.value).replace("{thing_id}", "").split(" answer")[0], refused.value

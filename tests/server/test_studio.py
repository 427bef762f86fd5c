"""The content studio's drafts over HTTP (issue 14): autosave with If-Match (a stale write is 412
with who changed what), the live check of the contract's validator on the step it concerns, undo,
and review: submit, the two-person rule, approval publishing through server.publish, and a base
that is no longer the latest. Then images (an upload checked as a library's images are, a hostile
one refused by name; one picked from the library; image_alt and help per language), the preview
of a step as a kiosk and as a phone, and each step's visitors and walk-aways of the last 30 days."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import html
import io
import re
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from babel.messages.pofile import read_po, write_po
from hostile_inputs import FAKE_PNG, png_bomb
from server_testkit import fresh_pg_database, make_library, png, zip_bytes

from contract import theme
from contract.digest import library_digest, manifest_digest
from contract.events import make_event
from contract.icons import ICONS
from contract.translations import library_coverage
from contract.validation import load_library
from server import auth, db, drafts, publish
from server.alerts.evaluator import AlertLoop, Lease
from server.config import load as load_config
from server.studio import library_edits

PASSWORD = "a long enough password"


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.matrix)])
def db_url(request, tmp_path_factory):
    """SQLite in the test command; PostgreSQL in CI's second step (the studio's SQL is Core, the
    same on both, and the upgrade test migrates both)."""
    if request.param == "sqlite":
        yield str(tmp_path_factory.mktemp("sqlite") / "server.db")
    else:
        with fresh_pg_database("test_studio") as url:
            yield url


def login(server, username: str) -> httpx.Client:
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    r = client.post("/dashboard/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    client.headers["X-CSRF-Token"] = client.get("/api/v1/staff/session").json()["csrf_token"]
    return client


@pytest.fixture(scope="module")
def studio(server):
    """The module's server with an editor (two), a publisher and a viewer logged in; each test
    works in drafts of its own."""
    code, out, err = server.cli("staff", "add", "vera", "--role", "viewer", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "(viewer)" in out, err
    engine = server.engine()  # the others as `staff add` makes them, without a command each
    try:
        for name, role in (("ed", "editor"), ("eve", "editor"), ("pia", "publisher"), ("pat", "publisher")):
            auth.set_staff_password(engine, name, PASSWORD, role=role)
    finally:
        engine.dispose()
    with contextlib.ExitStack() as stack:
        clients = {name: stack.enter_context(contextlib.closing(login(server, name)))
                   for name in ("ed", "eve", "pia", "pat", "vera")}
        yield server, clients


def edit(client, draft, guide, op, revision):
    return client.post(f"/studio/api/drafts/{draft}/guides/{guide}/edit", json=op, headers={"If-Match": f'"{revision}"'})


def test_autosave_live_check_stale_write_and_undo(studio):
    _, c = studio
    r = c["ed"].post("/studio/api/drafts", json={"name": "Belt 4 moves to belt 6"})
    assert r.status_code == 201
    draft = r.json()["id"]
    state = c["ed"].get(f"/studio/api/drafts/{draft}/guides/lost-bag").json()
    assert state["revision"] == 0 and state["problems"] == []
    step = state["document"]["steps"]["report"]
    # A text without the default language is a problem on that step, from the contract's validator.
    r = edit(c["ed"], draft, "lost-bag", {"op": "set_step", "step": "report", "text": {"es": step["text"]["es"]},
                                          "end": "resolved"}, 0)
    assert r.status_code == 200 and r.json()["revision"] == 1 and r.headers["etag"] == '"1"'
    assert [(p["step"], p["message"]) for p in r.json()["problems"]] == [
        ("report", "text has no text in the guide's default language 'en' (it has es)")]
    # Someone else saving on revision 0 is refused with who changed what.
    stale = edit(c["eve"], draft, "lost-bag", {"op": "add_step", "step": "extra"}, 0)
    assert stale.status_code == 412
    assert stale.json()["changes"] == [{"revision": 1, "by": "ed", "guide": "lost-bag",
                                        "summary": "lost-bag: step 'report'", "at": stale.json()["changes"][0]["at"]}]
    assert "ed" in stale.json()["detail"]
    assert c["eve"].post(f"/studio/api/drafts/{draft}/guides/lost-bag/edit", json={"op": "add_step", "step": "x"}
                         ).status_code == 428
    # The text put right: the problem is gone.
    fixed = edit(c["ed"], draft, "lost-bag", {"op": "set_step", "step": "report",
                                              "text": {**step["text"], "en": "Go to the desk by belt 6."},
                                              "end": "resolved"}, 1)
    assert fixed.json()["problems"] == [] and fixed.json()["revision"] == 2
    # An unreachable step appears as a problem; undo takes it away again.
    added = edit(c["ed"], draft, "lost-bag", {"op": "add_step", "step": "orphan"}, 2)
    assert {p["step"] for p in added.json()["problems"]} == {"orphan"}
    undone = c["ed"].post(f"/studio/api/drafts/{draft}/undo", headers={"If-Match": '"3"'})
    assert undone.status_code == 200 and undone.json() == {"undid": "lost-bag: added step 'orphan'", "revision": 4}
    doc = c["ed"].get(f"/studio/api/drafts/{draft}/guides/lost-bag").json()
    assert "orphan" not in doc["document"]["steps"] and doc["problems"] == []
    assert doc["document"]["steps"]["report"]["text"]["en"] == "Go to the desk by belt 6."
    # A viewer cannot write.
    assert edit(c["vera"], draft, "lost-bag", {"op": "add_step", "step": "v"}, 4).status_code == 403



def test_the_pages_forms_edit_without_javascript(studio):
    """What a browser without the script posts: the same edits, then the page drawn again."""
    _, c = studio
    draft = c["eve"].post("/studio/api/drafts", json={"name": "forms"}).json()["id"]
    form = f"/studio/drafts/{draft}/guides/wifi/edit"
    r = c["eve"].post(form, data={"revision": "0", "op": "set_step", "step": "staff", "text-en": "Ask at desk 6.",
                                  "text-de": "Fragen Sie am Schalter 6.", "end": "", "choices": "2",
                                  "c0-label-en": "Thanks", "c0-label-de": "Danke", "c0-target": "step:done",
                                  "c1-label-en": "", "c1-target": ""})
    assert r.status_code == 303 and r.headers["location"].endswith("?step=staff#step")
    page = c["eve"].get(r.headers["location"])
    assert "Fragen Sie am Schalter 6." in page.text and 'id="guide-problems"' in page.text
    doc = c["eve"].get(f"/studio/api/drafts/{draft}/guides/wifi").json()["document"]
    assert doc["steps"]["staff"] == {"text": {"en": "Ask at desk 6.", "de": "Fragen Sie am Schalter 6."},
                                     "choices": [{"label": {"en": "Thanks", "de": "Danke"}, "next": "done"}]}
    assert c["eve"].post(form, data={"revision": "1", "op": "move_step", "step": "staff", "by": "up"}).status_code == 303
    assert c["eve"].post(form, data={"revision": "2", "op": "add_step", "step": "later"}).status_code == 303
    assert c["eve"].post(form, data={"revision": "3", "op": "delete_step", "step": "later"}).status_code == 303
    doc = c["eve"].get(f"/studio/api/drafts/{draft}/guides/wifi").json()["document"]
    assert list(doc["steps"]) == ["network", "staff", "done"]  # as a customer meets them; staff moved up one
    # A form from before someone else's save is not applied: a page says who changed what.
    stale = c["ed"].post(form, data={"revision": "1", "op": "add_step", "step": "mine"})
    assert stale.status_code == 412 and "eve" in stale.text and "wifi: deleted step" in stale.text
    # Deleting a guide lists the answers that lead to it first; kept, each is a problem on its step.
    assert 'aria-label="Delete guide wifi in this draft"' in c["eve"].get(f"/studio/drafts/{draft}").text
    asked = c["eve"].post(f"/studio/drafts/{draft}/delete-guide", data={"revision": "4", "guide_id": "wifi"})
    assert asked.status_code == 200 and "1 answer(s) in other guides lead to it" in asked.text
    assert "lost-bag, step 'arrived'</a>, answer 3" in asked.text
    assert c["eve"].get(f"/studio/api/drafts/{draft}").json()["revision"] == 4  # nothing deleted yet
    assert c["eve"].post(f"/studio/drafts/{draft}/delete-guide", data={"revision": "4", "guide_id": "wifi",
                                                                      "jumps": "keep"}).status_code == 303
    page = c["eve"].get(f"/studio/drafts/{draft}").text
    assert "choice 3 leads to guide &#39;wifi&#39;, which is not in the library" in page
    assert "deleted: kiosks will no longer offer it" in page
    # An edit that means nothing is a page saying why, not an error.
    nonsense = c["eve"].post(f"/studio/drafts/{draft}/guides/lost-bag/edit",
                             data={"revision": "5", "op": "delete_step", "step": "nowhere"})
    assert nonsense.status_code == 422 and "There is no step &#39;nowhere&#39;" in nonsense.text

def submit(client, draft, group=""):
    return client.post(f"/studio/drafts/{draft}/submit", data={"group": group, "note": "please look"})


def test_review_two_people_approval_publishes_and_a_newer_base_waits(studio):
    server, c = studio
    draft = c["ed"].post("/studio/api/drafts", json={"name": "wifi wording"}).json()["id"]
    old = c["eve"].post("/studio/api/drafts", json={"name": "started before"}).json()["id"]
    apart = c["eve"].post("/studio/api/drafts", json={"name": "another guide"}).json()["id"]
    bag = c["eve"].get(f"/studio/api/drafts/{apart}/guides/lost-bag").json()["document"]["steps"]["desk"]
    edit(c["eve"], apart, "lost-bag", {"op": "set_step", "step": "desk", "text": {**bag["text"], "en": "See staff."},
                                       "end": "escalate"}, 0)
    doc = c["ed"].get(f"/studio/api/drafts/{draft}/guides/wifi").json()["document"]
    r = edit(c["ed"], draft, "wifi", {"op": "set_step", "step": "network",
                                      "text": {"en": "Can you see AIRPORT-FREE-6?", "de": "Sehen Sie AIRPORT-FREE-6?"},
                                      "choices": doc["steps"]["network"]["choices"]}, 0)
    assert r.json()["problems"] == []
    # pat, a publisher, writes part of it too (the guide's category)
    assert edit(c["pat"], draft, "wifi", {"op": "set_guide", "category": {"en": "Airport services", "de": "Flughafen"}},
                1).status_code == 200
    assert submit(c["ed"], draft).status_code == 303
    page = c["pia"].get(f"/studio/drafts/{draft}").text
    assert "Step 'network'</b>: text (de) added: “Sehen Sie AIRPORT-FREE-6?”" in page
    assert "text (en) changed from “Can you see the network AIRPORT-FREE?” to “Can you see AIRPORT-FREE-6?”" in page
    # An editor cannot approve; a publisher who wrote part of it cannot either (two people).
    assert c["eve"].post(f"/studio/drafts/{draft}/approve", data={"note": "ok"}).status_code == 403
    assert 'id="own-work"' in c["pat"].get(f"/studio/drafts/{draft}").text
    refused = c["pat"].post(f"/studio/drafts/{draft}/approve", data={"note": "mine"})
    assert refused.status_code == 403 and "Two people" in refused.text
    approved = c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "belt six"})
    assert approved.status_code == 303
    versions = c["pia"].get("/api/v1/content/versions").json()["versions"]
    assert versions[0]["version"] == 2 and versions[0]["published_by"] == "pia"
    assert "draft" in versions[0]["note"] and "belt six" in versions[0]["note"]
    kiosk = server.device("kiosk-1")
    manifest = kiosk.get("/api/v1/content/manifest").json()["manifest"]
    assert manifest["content_version"] == 2 and manifest["guides"]["wifi"]["version"] == 2
    # A draft started on version 1 that changes the same step cannot be approved now.
    edit(c["eve"], old, "wifi", {"op": "set_step", "step": "network", "text": {"en": "Network?"},
                                 "choices": doc["steps"]["network"]["choices"]}, 0)
    assert submit(c["eve"], old).status_code == 303
    waits = c["pia"].post(f"/studio/drafts/{old}/approve", data={})
    assert waits.status_code == 409 and "wifi, step &#39;network&#39;" in waits.text and "Approval waits" in waits.text
    assert c["eve"].post(f"/studio/drafts/{old}/update").status_code == 409  # wifi changed on both sides
    # A draft that changes only what nobody published since is brought up to date, then approved.
    assert submit(c["eve"], apart).status_code == 303
    assert c["pia"].post(f"/studio/drafts/{apart}/approve", data={}).status_code == 409
    assert "No step was changed on both sides" in c["pia"].get(f"/studio/drafts/{apart}").text
    assert c["pia"].post(f"/studio/drafts/{apart}/update").status_code == 303
    assert c["pia"].post(f"/studio/drafts/{apart}/approve", data={}).status_code == 303
    manifest = kiosk.get("/api/v1/content/manifest").json()["manifest"]
    assert (manifest["guides"]["wifi"]["version"], manifest["guides"]["lost-bag"]["version"]) == (2, 2)


TAXI = """\
id: taxi
title: Taxi
category: Getting around
start: rank
steps:
  rank:
    text: The taxi rank is outside door 3.
    image: images/rank.png
    end: resolved
"""


def test_with_review_on_an_uploaded_library_waits_for_a_second_publisher(own_server, tmp_path):
    """review_two_people (the default): POST /api/v1/publish makes a submitted draft of exactly what
    the upload changes; kiosks see nothing until another publisher approves it, and then get the
    upload's very content (the same digest as a direct publish of it)."""
    engine = own_server.engine()
    try:
        for name in ("pia", "pat"):
            auth.set_staff_password(engine, name, PASSWORD, role="publisher")
    finally:
        engine.dispose()
    lib = make_library(tmp_path / "upload", wifi_text="Is AIRPORT-FREE-6 in your Wi-Fi list?")  # changed
    (lib / "lost-bag.yaml").write_text((lib / "lost-bag.yaml").read_text().replace(
        "- {label: {en: \"Wi-Fi help instead\", es: \"Ayuda con el Wi-Fi\", ar: \"مساعدة الواي فاي\"}, guide: wifi}",
        "- {label: {en: \"A taxi instead\", es: \"Un taxi\", ar: \"سيارة أجرة\"}, guide: taxi}"))
    (lib / "wifi.yaml").unlink()  # removed
    (lib / "taxi.yaml").write_text(TAXI, encoding="utf-8")  # added, with a picture no version has
    picture = png(30, 20, (250, 200, 0))
    (lib / "images" / "rank.png").write_bytes(picture)
    (lib / "_library.yaml").write_text("synonyms:\n  en:\n    - [taxi, cab]\n", encoding="utf-8")
    sha = hashlib.sha256(picture).hexdigest()
    uploader = httpx.Client(base_url=own_server.url, auth=("pia", PASSWORD), timeout=60)
    with contextlib.closing(uploader), own_server.device() as kiosk, \
            contextlib.closing(login(own_server, "pia")) as pia, contextlib.closing(login(own_server, "pat")) as pat:
        before = kiosk.get("/api/v1/content/manifest")
        same = uploader.post("/api/v1/publish", files={"library": ("same.zip", zip_bytes(own_server.library))})
        assert same.status_code == 200 and same.json()["draft"] is None and "identical" in same.json()["detail"]
        nowhere = uploader.post("/api/v1/publish", files={"library": ("spring.zip", zip_bytes(lib))},
                                data={"to": "nowhere"})
        assert nowhere.status_code == 404 and "no group 'nowhere'" in nowhere.json()["detail"]
        r = uploader.post("/api/v1/publish", files={"library": ("spring.zip", zip_bytes(lib))},
                          data={"note": "spring: taxis, no Wi-Fi guide"})
        assert r.status_code == 202, r.text
        made = r.json()
        draft = made["draft"]
        assert draft == 1, "neither the identical upload nor the one to no group made a draft"
        assert made["review"] == f"/studio/drafts/{draft}" and "second publisher must approve" in made["detail"]
        assert (made["changed"], made["removed"], made["library_settings"]) == (["lost-bag", "taxi"], ["wifi"], True)
        # Nothing reached a kiosk: the same manifest, the new picture not served.
        assert kiosk.get("/api/v1/content/manifest").headers["ETag"] == before.headers["ETag"]
        assert kiosk.get(f"/api/v1/content/images/{sha}").status_code == 404
        assert len(pat.get("/api/v1/content/versions").json()["versions"]) == 1
        review = html.unescape(pat.get(made["review"]).text)
        assert "spring: taxis, no Wi-Fi guide" in review and "deleted: kiosks will no longer offer it" in review
        got = pat.get(f"/studio/api/drafts/{draft}").json()
        assert (got["owner"], got["state"], got["base_version"]) == ("pia", "submitted", 1)
        # The uploader cannot approve their own upload; another publisher can.
        own = pia.post(f"/studio/drafts/{draft}/approve", data={"note": "mine"})
        assert own.status_code == 403 and "Two people" in own.text
        assert pat.post(f"/studio/drafts/{draft}/approve", data={"note": "looks right"}).status_code == 303
        manifest = kiosk.get("/api/v1/content/manifest").json()["manifest"]
        assert manifest_digest(manifest) == made["digest"] == library_digest(load_library(lib))
        assert sorted(manifest["guides"]) == ["lost-bag", "taxi"]
        assert kiosk.get(f"/api/v1/content/images/{sha}").content == picture


# --- roles (issue 14): viewer, editor, publisher ---------------------------------------------------


def test_staff_list_names_every_role_and_the_older_login_is_a_publisher(studio):
    server, _ = studio
    code, out, _ = server.cli("staff", "list")
    rows = dict(line.split("\t")[:2] for line in out.strip().splitlines())
    assert code == 0 and rows["admin"] == "publisher" and rows["vera"] == "viewer" and rows["eve"] == "editor"
    # A password change without --role keeps the role.
    code, out, _ = server.cli("staff", "add", "eve", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "(editor)" in out
    server_clients = studio[1]
    server_clients["eve"].close()
    server_clients["eve"] = login(server, "eve")


@pytest.mark.parametrize("who", ["vera", "eve"])
def test_only_a_publisher_rolls_back_moves_kiosks_or_publishes(studio, who):
    server, c = studio
    client = c[who]
    assert client.get("/dashboard/library").status_code == 200  # every role reads the dashboard
    page = client.post("/dashboard/library/1/rollback", data={"csrf": client.headers["X-CSRF-Token"]})
    assert page.status_code == 403 and "text/html" in page.headers["content-type"]
    assert "Needs the publisher role" in page.text and f"{who} is a" in page.text
    moved = client.post("/dashboard/fleet/kiosk-1/group", data={"group": "default"})
    assert moved.status_code == 403 and "publisher role" in moved.text
    api = client.post("/api/v1/publish", files={"library": ("library.zip", zip_bytes(server.library))})
    assert api.status_code == 403 and "publisher role" in api.json()["detail"]
    assert client.post("/api/v1/content/rollback", json={"version": 1}).status_code == 403
    assert c["pia"].post("/dashboard/fleet/kiosk-2/group", data={"group": "default"}).status_code == 303


def test_a_viewer_reads_the_studio_but_cannot_start_a_draft(studio):
    _, c = studio
    home = c["vera"].get("/studio")
    assert home.status_code == 200 and 'id="new-draft"' not in home.text
    refused = c["vera"].post("/studio/drafts", data={"name": "mine"})
    assert refused.status_code == 403 and "Needs the editor role" in refused.text


def test_a_viewer_cannot_triage_comments_snooze_alerts_or_set_opening_hours(studio):
    # Issue 15's roles: triage and snoozing are an editor's, a group's settings a publisher's.
    _, c = studio
    for path, data, role in (("/dashboard/feedback/1/triage", {"state": "read"}, "editor"),
                             ("/dashboard/alerts/1/snooze", {"hours": "1"}, "editor"),
                             ("/dashboard/fleet/groups/default/hours",
                              {"hours": "08:00-20:00"}, "publisher")):
        refused = c["vera"].post(path, data=data)
        assert refused.status_code == 403 and f"Needs the {role} role" in refused.text, path
    assert c["eve"].post("/dashboard/fleet/groups/default/hours", data={"hours": "08:00-20:00"}).status_code == 403
    assert c["pia"].post("/dashboard/fleet/groups/default/hours", data={"hours": ""}).status_code == 303


# --- kiosk-server export --draft ID DIR (server/export.py's folder writer) -------------------------


def test_export_a_draft_reads_back_as_what_it_would_publish(studio, tmp_path):
    from contract.digest import library_digest
    from contract.validation import load_library
    from server import db, drafts

    server, c = studio
    draft = c["ed"].post("/studio/api/drafts", json={"name": "a copy"}).json()["id"]
    r = c["ed"].post(f"/studio/drafts/{draft}/guides", data={"revision": "0", "guide_id": "lost-bag-t2",
                                                             "title": "Lost baggage, terminal 2", "copy_of": "lost-bag"})
    assert r.status_code == 303 and r.headers["location"] == f"/studio/drafts/{draft}/guides/lost-bag-t2"
    code, out, err = server.cli("export", "--draft", str(draft), str(tmp_path / "draft"))
    assert code == 0 and "Exported draft" in out, err
    written = load_library(tmp_path / "draft")
    assert sorted(written.guides) == ["lost-bag", "lost-bag-t2", "wifi"]
    assert written.guides["lost-bag-t2"].title["en"] == "Lost baggage, terminal 2"
    assert written.guides["lost-bag-t2"].images == written.guides["lost-bag"].images  # the belt photo, copied
    engine = server.engine()
    try:
        with db.read(engine) as conn:
            library, _ = drafts.check_draft(conn, drafts.get(conn, draft))
    finally:
        engine.dispose()
    assert library_digest(written) == library_digest(library)
    # A draft with a problem is written as it is, and the command says what would not publish.
    edit(c["ed"], draft, "lost-bag-t2", {"op": "add_step", "step": "orphan"}, 1)
    code, _, err = server.cli("export", "--draft", str(draft), str(tmp_path / "broken"))
    assert code == 1 and "(step 'orphan'): cannot be reached from the start step" in err
    assert (tmp_path / "broken" / "lost-bag-t2.yaml").exists()


# --- CSRF: every state-changing route of the app, found in app.routes ------------------------------

# Routes that change something without a staff session, each with why the CSRF token is not theirs:
NOT_STAFF_SESSIONS = {
    "/api/v1/events": "a device's bearer token, which no browser sends by itself",
    "/api/v1/heartbeat": "a device's bearer token",
    "/m/{device}/{guide}/{version}/{step}/feedback": "a traveller's phone page: a signed link, no login",
    "/dashboard/login": "no session yet: another site's form is refused by its Origin (tested below)",
    "/api/v1/staff/login": "no session yet: refused by its Origin (tested below)",
}
PATH_VALUES = {"draft_id": "1", "guide_id": "lost-bag", "version": "1", "device": "kiosk-1", "guide": "lost-bag",
               "step": "arrived"}


def state_changing_routes(tmp_path) -> list[tuple[str, str]]:
    """(method, path) of every route of the app that is not GET or HEAD, included routers and all."""
    from server.app import create_app
    from server.config import Config

    def walk(routes, prefix=""):
        for route in routes:
            if hasattr(route, "original_router"):  # FastAPI's included router: its own routes, under its prefix
                yield from walk(route.original_router.routes, prefix + route.include_context.prefix)
            else:
                for method in sorted((getattr(route, "methods", None) or set()) - {"GET", "HEAD"}):
                    yield method, prefix + route.path

    app = create_app(Config(data_dir=tmp_path, db=str(tmp_path / "routes.db")))
    return sorted(set(walk(app.routes)))


def test_every_state_changing_request_needs_the_csrf_token(studio, tmp_path):
    server, c = studio
    routes = state_changing_routes(tmp_path)
    assert ("POST", "/studio/drafts/{draft_id}/approve") in routes and len(routes) > 20  # the walk finds them
    # Logged in as a publisher (every role's routes pass the role check), with the session cookie
    # only: what a page on another site can make a browser send.
    with httpx.Client(base_url=server.url, cookies=c["pia"].cookies, timeout=30) as browser:
        for method, path in routes:
            if path in NOT_STAFF_SESSIONS:
                continue
            # every parameter filled in, a route added later too (an id it has no value for: 1)
            url = re.sub(r"\{(\w+)[^}]*\}", lambda m: PATH_VALUES.get(m[1], "1"), path)
            for form in (True, False):
                r = (browser.request(method, url, data={"name": "x", "revision": "0"}) if form
                     else browser.request(method, url, json={"name": "x"}))
                assert r.status_code == 403 and "did not come from this dashboard" in r.text, (method, path, r.text)
        # The logins, which have no session yet, refuse another site's page by its Origin.
        for path in ("/dashboard/login", "/api/v1/staff/login"):
            r = browser.post(path, json={"username": "pia", "password": PASSWORD},
                             headers={"Origin": "http://evil.example"})
            assert r.status_code == 403, path
    assert c["pia"].get("/studio").status_code == 200  # the session was never ended by the forged logouts


def test_the_group_chosen_at_submit_is_the_only_one_that_receives_it(studio):
    server, c = studio
    code, _, err = server.cli("group", "add", "pilot")
    assert code == 0, err
    before = server.device("kiosk-1").get("/api/v1/content/manifest").json()["manifest"]["content_version"]
    draft = c["ed"].post("/studio/api/drafts", json={"name": "pilot only"}).json()["id"]
    step = c["ed"].get(f"/studio/api/drafts/{draft}/guides/wifi").json()["document"]["steps"]["done"]
    edit(c["ed"], draft, "wifi", {"op": "set_step", "step": "done", "text": {"en": "Connect, then accept."},
                                  "end": step["end"]}, 0)
    assert "only group pilot" in c["ed"].get(f"/studio/drafts/{draft}").text
    assert submit(c["ed"], draft, group="pilot").status_code == 303
    assert "Submitted for group pilot." in c["pia"].get(f"/studio/drafts/{draft}").text
    assert c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "pilot first"}).status_code == 303
    code, out, _ = server.cli("group", "list")
    pilot = next(line for line in out.splitlines() if line.startswith("pilot"))
    assert str(before + 1) in pilot  # the pilot group got the new version ...
    # ... and kiosks in the default group still get what they had.
    assert server.device("kiosk-1").get("/api/v1/content/manifest").json()["manifest"]["content_version"] == before


def test_the_studio_counts_translations_as_the_publish_report_does():
    """The studio's counts are contract/translations.py's: the category is a text to translate, a
    blank text is a missing one, and a draft's unfinished step (no text yet) counts as missing too."""
    library = load_library(Path(__file__).resolve().parents[2] / "assets" / "library")
    docs = {gid: drafts.document_of(g) for gid, g in library.guides.items()}
    assert drafts.library_missing(docs) == {c.lang: len(c.missing) for c in library_coverage(library)}
    doc = {"id": "desk", "language": "en", "title": {"en": "Desk", "de": "Schalter"}, "category": {"en": "Help"},
           "start": "ask", "steps": {"ask": {"text": {"en": "Ask here.", "de": "  "}, "choices": [
               {"label": {"en": "OK"}, "next": "new"}]}, "new": {}}}
    assert drafts.languages_of(doc) == ["en", "de"]
    # en: the empty new step; de: category, the blank text, the answer and the new step
    assert drafts.missing_translations(doc) == {"en": 1, "de": 4}


# --- images, preview and the figures beside the editor -------------------------------------------


def new_draft(client) -> int:
    return client.post("/studio/api/drafts", json={"name": "pictures"}).json()["id"]


def upload(client, draft, guide, step, name, data, revision):
    return client.post(f"/studio/drafts/{draft}/guides/{guide}/image",
                       data={"revision": str(revision), "step": step},
                       files={"image": (name, data, "image/png")})


def state(client, draft, guide):
    return client.get(f"/studio/api/drafts/{draft}/guides/{guide}").json()


def test_an_upload_is_checked_stored_by_its_bytes_and_shown_on_its_step(studio):
    server, c = studio
    draft = new_draft(c["ed"])
    picture = png(64, 40, (200, 60, 30))
    sha = hashlib.sha256(picture).hexdigest()
    r = upload(c["ed"], draft, "wifi", "network", "desk.png", picture, 0)
    assert r.status_code == 303, r.text
    got = state(c["ed"], draft, "wifi")
    assert got["revision"] == 1 and got["problems"] == []
    assert got["document"]["steps"]["network"]["image"] == f"images/{sha[:16]}.png"
    shown = c["vera"].get(f"/studio/images/{sha}")
    assert shown.status_code == 200 and shown.content == picture
    page = c["ed"].get(f"/studio/drafts/{draft}/guides/wifi", params={"step": "network"}).text
    assert f'src="/studio/images/{sha}"' in page
    # The picture's words per language, and the guide's help, saved by the step's and guide's forms.
    step = got["document"]["steps"]["network"]
    r = c["ed"].post(f"/studio/api/drafts/{draft}/guides/wifi/edit", headers={"If-Match": '"1"'}, json={
        "op": "set_step", "step": "network", "text": step["text"], "choices": step["choices"],
        "image": step["image"], "image_alt": {"en": "The information desk, a red counter"}})
    assert r.status_code == 200 and r.json()["problems"] == []
    r = c["ed"].post(f"/studio/api/drafts/{draft}/guides/wifi/edit", headers={"If-Match": '"2"'}, json={
        "op": "set_guide", "help": {"en": "Ask at the information desk by gate 4"}})
    doc = state(c["ed"], draft, "wifi")["document"]
    assert doc["steps"]["network"]["image_alt"] == {"en": "The information desk, a red counter"}
    assert doc["help"] == {"en": "Ask at the information desk by gate 4"}
    # Not public while only the draft has it: neither the phone pages' image route nor a kiosk's serves it.
    with server.anonymous() as phone, server.device("kiosk-2") as kiosk:
        assert phone.get(f"/m/img/{sha}").status_code == 404
        assert kiosk.get(f"/api/v1/content/images/{sha}").status_code == 404
        # The whole draft publishes: submit runs the full check, the image's bytes included.
        r = c["ed"].post(f"/studio/drafts/{draft}/submit", data={"note": "a picture"})
        assert r.status_code == 303, r.text
        assert c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "a picture"}).status_code == 303
        shown = phone.get(f"/m/img/{sha}")
        assert shown.status_code == 200 and shown.content == picture
        assert kiosk.get(f"/api/v1/content/images/{sha}").content == picture
        assert phone.get(f"/m/img/{sha}", headers={"If-None-Match": f'"{sha}"'}).status_code == 304


@pytest.mark.parametrize("name, data, said", [
    ("huge.png", png_bomb(20_000), "image 'huge.png' is 20000x20000 pixels; an image may be at most 4096x4096"),
    ("liar.png", FAKE_PNG, "image 'liar.png' is not a PNG or JPEG picture"),
    ("notes.png", b"just some words", "image 'notes.png' is not a PNG or JPEG picture"),
], ids=["20000x20000", "lying-header", "not-a-picture"])
def test_a_hostile_upload_is_refused_by_name_and_nothing_is_saved(studio, name, data, said):
    _, c = studio
    draft = new_draft(c["ed"])
    began = time.monotonic()
    r = upload(c["ed"], draft, "wifi", "network", name, data, 0)
    took = time.monotonic() - began
    assert r.status_code == 422 and said in html.unescape(r.text), r.text[-600:]
    assert took < 10, f"refusing {name} took {took:.1f} s"
    assert state(c["ed"], draft, "wifi")["revision"] == 0


def test_a_step_picks_an_image_the_library_has(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    page = c["ed"].get(f"/studio/drafts/{draft}/guides/wifi", params={"step": "network"}).text
    assert '<option value="images/belt.png">images/belt.png</option>' in page  # lost-bag's picture
    step = state(c["ed"], draft, "wifi")["document"]["steps"]["network"]
    # The form without JavaScript: the image select and the picture's words.
    form = {"csrf": c["ed"].headers["X-CSRF-Token"], "revision": "0", "op": "set_step", "step": "network",
            "text-en": step["text"]["en"], "image": "images/belt.png", "alt-en": "The baggage belt",
            "choices": str(len(step["choices"]))}
    for n, choice in enumerate(step["choices"]):
        form[f"c{n}-label-en"] = choice["label"]["en"]
        form[f"c{n}-target"] = f"step:{choice['next']}" if choice.get("next") else f"guide:{choice['guide']}"
    r = c["ed"].post(f"/studio/drafts/{draft}/guides/wifi/edit", data=form)
    assert r.status_code == 303, r.text
    got = state(c["ed"], draft, "wifi")
    assert got["problems"] == []
    assert got["document"]["steps"]["network"]["image"] == "images/belt.png"
    assert got["document"]["steps"]["network"]["image_alt"] == {"en": "The baggage belt"}


def test_the_preview_draws_a_step_as_a_kiosk_and_as_the_phone_page(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    r = c["vera"].get(f"/studio/drafts/{draft}/guides/lost-bag/preview",
                      params={"step": "arrived", "lang": "es", "orientation": "portrait"})
    assert r.status_code == 200
    assert "frame-src 'self'" in r.headers["content-security-policy"]
    page = r.text
    assert 'class="kiosk portrait" lang="es"' in page and "¿Salió su maleta por la cinta?" in page
    assert "(approximate)" in page
    # An answer leads to the next step's preview, in the same language and orientation.
    assert f'href="/studio/drafts/{draft}/guides/lost-bag/preview?step=waited&amp;lang=es&amp;orientation=portrait"' in page
    ar = c["vera"].get(f"/studio/drafts/{draft}/guides/lost-bag/preview",
                       params={"step": "arrived", "lang": "ar"}).text
    assert 'class="kiosk landscape" lang="ar" dir="rtl"' in ar
    # The kiosk's sizes are the contract's millimetres on the panel.
    css = c["vera"].get("/studio/static/kiosk-preview.css").text
    mm = theme.px_per_mm((1920, 1080), theme.DEFAULT_DIAGONAL_IN) * 0.5
    assert f"min-height: {theme.TARGET_MM * mm:.2f}px" in css and theme.PALETTES["normal"]["accent"] in css
    src = re.search(r'<iframe class="phone portrait" src="([^"]+)"', page).group(1).replace("&amp;", "&")
    phone = c["vera"].get(src)
    assert phone.status_code == 200 and "frame-ancestors 'self'" in phone.headers["content-security-policy"]
    assert "¿Salió su maleta por la cinta?" in phone.text and 'class="step" src="/studio/images/' in phone.text


def test_each_step_shows_its_visitors_and_walk_aways_of_the_last_30_days(studio):
    server, c = studio
    now = time.time()
    engine = server.engine()  # the version kiosks have now (other tests of the module published some)
    try:
        version = publish.current_guide_version(engine, "lost-bag")
    finally:
        engine.dispose()

    def ev(kind, session, step):
        return make_event(kind, device="kiosk-1", session=session, guide="lost-bag", guide_version=version, step=step,
                          lang="en", now=now - 3600)
    events = [ev("step_view", f"figures-{n}", "waited") for n in range(5)]
    events += [ev("idle_timeout", f"figures-{n}", "waited") for n in range(2)]
    with server.device("kiosk-1") as k:
        r = k.post("/api/v1/events", json={"events": events})
        assert len(r.json()["accepted"]) == len(events), r.text
    draft = new_draft(c["ed"])
    page = c["vera"].get(f"/studio/drafts/{draft}/guides/lost-bag", params={"step": "waited"}).text
    figures = page.split('id="step-stats"')[1].split("</section>")[0]
    assert "5 visitor(s); 2 walked away here (40%)" in figures
    quiet = c["vera"].get(f"/studio/drafts/{draft}/guides/lost-bag", params={"step": "damaged"}).text
    assert "No customer reached this step in the last 30 days" in quiet


def test_rename_a_guide_and_its_jumps_follow_or_delete_it_pointing_them_elsewhere(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    page = c["ed"].get(f"/studio/drafts/{draft}/guides/wifi").text
    jumps = page.split('id="jumps-here"')[1].split("</section>")[0]
    assert "lost-bag, step 'arrived'</a>, answer 3" in jumps
    r = c["ed"].post(f"/studio/drafts/{draft}/guides/wifi/rename", data={"revision": "0", "new_id": "airport-wifi"})
    assert r.status_code == 303 and r.headers["location"].endswith("/guides/airport-wifi")
    state_now = c["ed"].get(f"/studio/api/drafts/{draft}").json()
    assert "wifi" not in state_now["guides"] and "airport-wifi" in state_now["guides"]
    arrived = state(c["ed"], draft, "lost-bag")["document"]["steps"]["arrived"]
    assert arrived["choices"][2]["guide"] == "airport-wifi"
    assert state(c["ed"], draft, "lost-bag")["problems"] == [] and state(c["ed"], draft, "airport-wifi")["problems"] == []
    # Deleting it with its jumps pointed at another guide leaves no problem behind.
    revision = state_now["revision"]
    r = c["ed"].post(f"/studio/drafts/{draft}/delete-guide", data={
        "revision": str(revision), "guide_id": "airport-wifi", "jumps": "repoint", "repoint_to": "lost-bag"})
    assert r.status_code == 303, r.text
    # (a jump from lost-bag to itself is the start again: the contract's rule, not the studio's)
    arrived = state(c["ed"], draft, "lost-bag")["document"]["steps"]["arrived"]
    assert arrived["choices"][2]["guide"] == "lost-bag"


def test_a_rename_that_fails_half_way_leaves_the_guide_and_its_jumps_as_they_were(studio, monkeypatch):
    """The renamed guide, the answers that follow it and the old id's removal are one transaction."""
    server, c = studio
    draft = new_draft(c["ed"])
    stored, calls = drafts._store, []

    def fails_on_the_jump(conn, draft_id, guide_id, *args):
        calls.append(guide_id)
        if guide_id == "lost-bag":  # after the renamed guide was stored, before its old id went
            raise RuntimeError("the disk is full")
        return stored(conn, draft_id, guide_id, *args)

    monkeypatch.setattr(drafts, "_store", fails_on_the_jump)
    engine = server.engine()
    try:
        with pytest.raises(RuntimeError):
            library_edits.rename_guide(engine, draft, "wifi", "airport-wifi", "ed", 0)
    finally:
        engine.dispose()
    assert calls == ["airport-wifi", "lost-bag"]
    now = c["ed"].get(f"/studio/api/drafts/{draft}").json()
    assert now["revision"] == 0 and "wifi" in now["guides"] and "airport-wifi" not in now["guides"]
    assert state(c["ed"], draft, "lost-bag")["document"]["steps"]["arrived"]["choices"][2]["guide"] == "wifi"


def test_a_guides_icon_is_picked_by_keyboard_or_form_and_checked_like_a_files(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    page = c["ed"].get(f"/studio/drafts/{draft}/guides/wifi").text
    picker = html.unescape(page.split('id="guide-icon"')[1].split("</details>")[0])
    assert "<legend>Icon on the guide's button and step heading</legend>" in picker
    assert '<input type="radio" name="icon" value="" checked> none' in picker
    assert picker.count('type="radio"') == len(ICONS) + 1 and '<img src="/studio/icons/wifi.png" alt=""' in picker
    drawn = c["vera"].get("/studio/icons/wifi.png")
    assert drawn.status_code == 200 and drawn.content.startswith(b"\x89PNG")
    assert c["vera"].get("/studio/icons/nothing.png").status_code == 404
    # The form without JavaScript, then the API as the script sends it: a misspelt name is a live problem.
    doc = state(c["ed"], draft, "wifi")["document"]
    form = {"csrf": c["ed"].headers["X-CSRF-Token"], "revision": "0", "op": "set_guide", "start": doc["start"],
            "icon": "wifi", **{f"title-{k}": v for k, v in doc["title"].items()},
            **{f"category-{k}": v for k, v in doc["category"].items()}}
    assert c["ed"].post(f"/studio/drafts/{draft}/guides/wifi/edit", data=form).status_code == 303
    assert state(c["ed"], draft, "wifi")["document"]["icon"] == "wifi"
    r = edit(c["ed"], draft, "wifi", {"op": "set_guide", "icon": "wify"}, 1)
    assert [p["message"] for p in r.json()["problems"]] == ["icon 'wify' is not a shipped icon; did you mean wifi?"]
    r = edit(c["ed"], draft, "wifi", {"op": "set_guide", "icon": "charging"}, 2)
    assert r.status_code == 200 and r.json()["problems"] == []
    assert "icon now charging (was none)" in c["vera"].get(f"/studio/drafts/{draft}").text
    assert "icon" not in edit(c["ed"], draft, "wifi", {"op": "set_guide", "icon": ""}, 3).json().get("document", {})
    assert "icon" not in state(c["ed"], draft, "wifi")["document"]


def test_find_and_replace_across_guides_shows_then_changes_every_text_in_a_draft(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    page = c["vera"].get(f"/studio/drafts/{draft}/replace", params={"find": "belt 4", "replace": "belt 6"}).text
    assert "1 text(s) contain “belt 4”" in page
    assert "Go to the Baggage Service desk by belt 6 with your tag receipt." in page
    assert 'id="apply"' not in page  # a viewer sees what would change, and cannot change it
    es = c["ed"].get(f"/studio/drafts/{draft}/replace", params={"find": "cinta 4", "replace": "cinta 6", "lang": "es"}).text
    assert "1 text(s) contain “cinta 4”" in es and 'id="apply"' in es
    for find, replace, lang, revision in (("belt 4", "belt 6", "", 0), ("cinta 4", "cinta 6", "es", 1)):
        r = c["ed"].post(f"/studio/drafts/{draft}/replace", data={"revision": str(revision), "find": find,
                                                                  "replace": replace, "lang": lang})
        assert r.status_code == 303, r.text
    report = state(c["ed"], draft, "lost-bag")["document"]["steps"]["report"]["text"]
    assert report["en"] == "Go to the Baggage Service desk by belt 6 with your tag receipt."
    assert report["es"] == "Vaya al mostrador junto a la cinta 6."
    assert report["ar"] == "توجه إلى مكتب خدمة الأمتعة بجوار السير 4."  # untouched: only English and Spanish were asked
    nothing = c["ed"].post(f"/studio/drafts/{draft}/replace", data={"revision": "2", "find": "belt 99"})
    assert nothing.status_code == 422 and "No text contains “belt 99”" in nothing.text


def test_a_steps_history_says_who_changed_what_in_drafts_and_published_versions(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    step = state(c["ed"], draft, "wifi")["document"]["steps"]["staff"]
    r = c["ed"].post(f"/studio/api/drafts/{draft}/guides/wifi/edit", headers={"If-Match": '"0"'}, json={
        "op": "set_step", "step": "staff", "text": {"en": "Ask at the information desk by gate 9."},
        "end": step["end"]})
    assert r.status_code == 200
    page = c["vera"].get(f"/studio/drafts/{draft}/guides/wifi/history", params={"step": "staff"}).text
    rows = page.split('id="history"')[1].split("</table>")[0]
    assert f"draft {draft} (open), revision 1" in rows and "<td>ed</td>" in rows
    assert "text (en) changed from “Ask at the information desk.” to “Ask at the information desk by gate 9.”" in rows
    assert "published as guide version 1 (content version 1)" in rows and "<td>tests</td>" in rows
    # Undone, the change is a second row: back as it was.
    assert c["ed"].post(f"/studio/api/drafts/{draft}/undo", headers={"If-Match": '"1"'}).status_code == 200
    again = c["vera"].get(f"/studio/drafts/{draft}/guides/wifi/history", params={"step": "staff"}).text
    assert f"draft {draft} (open), revision 2" in again


def test_a_draft_approved_for_a_time_waits_then_the_periodic_round_publishes_it(studio):
    """Scheduled publishing: approved in the form for a time ahead (in the site's time zone, as the
    form's field sends it), the draft waits as scheduled and kiosks see nothing new; at its time
    the periodic round's hook (drafts.publish_due, on the server's own database) publishes it as
    the publisher who approved it, with the note."""
    server, c = studio
    draft = new_draft(c["ed"])
    step = state(c["ed"], draft, "wifi")["document"]["steps"]["staff"]
    assert edit(c["ed"], draft, "wifi", {"op": "set_step", "step": "staff", "end": step["end"],
                                          "text": {"en": "Ask at the desk by gate 9."}}, 0).status_code == 200
    assert c["ed"].post(f"/studio/drafts/{draft}/submit", data={"note": ""}).status_code == 303
    zone = ZoneInfo("UTC")  # the module's server has the default time zone
    at = datetime.datetime.now(zone).replace(microsecond=0) + datetime.timedelta(hours=2)
    past = c["pia"].post(f"/studio/drafts/{draft}/approve", data={
        "note": "gate 9", "publish_at": (at - datetime.timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")})
    assert past.status_code == 422 and "must lie ahead" in past.text
    r = c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "gate 9", "publish_at": at.strftime("%Y-%m-%dT%H:%M")})
    assert r.status_code == 303, r.text
    page = c["vera"].get(f"/studio/drafts/{draft}").text
    assert ">scheduled</span>" in page and "goes live at" in page
    engine = server.engine()
    try:
        with engine.connect() as conn:
            before = publish.latest_content_version(conn)
        assert drafts.publish_due(engine, now=at.timestamp() - 60) == []  # not yet
        published = drafts.publish_due(engine, now=at.timestamp() + 1)
    finally:
        engine.dispose()
    assert published == [before + 1]
    assert c["vera"].get(f"/studio/api/drafts/{draft}").json()["state"] == "published"
    with server.device("kiosk-2") as k:  # every group receives it (the draft chose none)
        assert k.get("/api/v1/content/manifest").json()["manifest"]["content_version"] == before + 1
    assert "approved by pia: gate 9" in c["pia"].get("/dashboard/library").text


def test_the_librarys_synonyms_are_edited_in_a_draft_checked_and_published(studio):
    server, c = studio
    draft = new_draft(c["ed"])
    assert 'id="syn-en"' in c["ed"].get(f"/studio/drafts/{draft}/synonyms").text
    lonely = c["ed"].post(f"/studio/drafts/{draft}/synonyms", data={"revision": "0", "syn-en": "toilet"})
    assert lonely.status_code == 422 and "_library.yaml" in html.unescape(lonely.text)
    r = c["ed"].post(f"/studio/drafts/{draft}/synonyms", data={
        "revision": "0", "syn-en": "toilet, restroom, WC\nbag, luggage, suitcase", "syn-es": ""})
    assert r.status_code == 303, r.text
    page = c["vera"].get(f"/studio/drafts/{draft}").text
    assert 'data-guide="_library.yaml"' in page and "synonyms (en): 2 group(s), were 0" in page
    assert c["ed"].post(f"/studio/drafts/{draft}/submit", data={"note": ""}).status_code == 303
    assert c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "synonyms"}).status_code == 303
    with server.device("kiosk-2") as k:
        manifest = k.get("/api/v1/content/manifest").json()["manifest"]
    assert manifest["library"]["synonyms"]["en"] == [["toilet", "restroom", "WC"], ["bag", "luggage", "suitcase"]]


def test_categories_with_icons_and_help_places_are_edited_checked_and_kept_by_other_settings(studio):
    server, c = studio
    draft = new_draft(c["ed"])
    page = html.unescape(c["ed"].get(f"/studio/drafts/{draft}/settings").text)
    assert 'id="cat0-text-en"' in page and "<legend>Icon of the new category</legend>" in page
    assert "Save the categories in the draft" in page and "Save the places in the draft" in page
    assert "Save the categories" not in c["vera"].get(f"/studio/drafts/{draft}/settings").text, "a viewer reads only"
    assert '<option value="wifi">wifi</option>' in page.split('id="place0-guide"')[1]
    form = {"revision": "0", "cat-rows": "1", "cat0-text-en": "Baggage", "cat0-text-es": "Equipaje",
            "cat0-icon": "baggage"}
    assert c["ed"].post(f"/studio/drafts/{draft}/categories", data=form).status_code == 303
    twice = c["ed"].post(f"/studio/drafts/{draft}/categories", data={
        **form, "revision": "1", "cat-rows": "2", "cat1-text-en": "baggage"})
    assert twice.status_code == 422 and "category 2 names the same category as category 1" in html.unescape(twice.text)
    r = c["ed"].post(f"/studio/drafts/{draft}/help-places", data={
        "revision": "1", "place-rows": "2", "place0-text-en": "The information desk", "place1-text-en": "Belt 4",
        "place1-site": "terminal-2", "place1-guide": "lost-bag"})
    assert r.status_code == 303, r.text
    # Saving the synonyms keeps the categories and the places (it once dropped them).
    assert c["ed"].post(f"/studio/drafts/{draft}/synonyms", data={"revision": "2", "syn-en": "bag, luggage"}
                        ).status_code == 303
    engine = server.engine()
    try:
        with db.read(engine) as conn:
            settings = drafts.settings_of(conn, drafts.get(conn, draft))
    finally:
        engine.dispose()
    assert settings.to_dict() == {
        "synonyms": {"en": [["bag", "luggage"]]},
        "categories": [{"title": {"en": "Baggage", "es": "Equipaje"}, "icon": "baggage"}],
        "help": [{"text": {"en": "The information desk"}},
                 {"guide": "lost-bag", "site": "terminal-2", "text": {"en": "Belt 4"}}]}
    review = html.unescape(c["vera"].get(f"/studio/drafts/{draft}").text)
    assert "category 1 (“Baggage”) added, icon baggage" in review
    assert "help place 2 (“Belt 4”) added, site terminal-2, guide lost-bag" in review
    # The category deleted: the page lists none but the empty row for a new one.
    assert c["ed"].post(f"/studio/drafts/{draft}/categories", data={
        "revision": "3", "cat-rows": "1", "cat0-text-en": "Baggage", "cat0-delete": "1"}).status_code == 303
    assert 'id="cat1-text-en"' not in c["ed"].get(f"/studio/drafts/{draft}/settings").text


def test_a_language_goes_to_translators_as_a_po_file_and_comes_back_into_the_draft(studio):
    _, c = studio
    draft = new_draft(c["ed"])
    r = c["vera"].get(f"/studio/drafts/{draft}/translations", params={"lang": "de"})
    assert r.status_code == 200 and 'filename="draft-' in r.headers["content-disposition"]
    catalog = read_po(io.BytesIO(r.content))
    assert catalog.get("Free Wi-Fi", context="wifi/title").string == ""
    assert catalog.get("Did your bag come out on the baggage belt?", context="lost-bag/arrived/text")
    catalog.get("Free Wi-Fi", context="wifi/title").string = "Kostenloses WLAN"
    catalog.get("Yes", context="wifi/network/choice 1").string = "Ja"
    fuzzy = catalog.get("No", context="wifi/network/choice 2")
    fuzzy.string, fuzzy.flags = "Nein", {"fuzzy"}

    def sent(cat, revision):
        out = io.BytesIO()
        write_po(out, cat)
        return c["ed"].post(f"/studio/drafts/{draft}/translations", data={"revision": str(revision)},
                            files={"po": ("de.po", out.getvalue(), "text/x-gettext-translation")})

    # A file translating a text that has changed since its export: nothing of it is imported.
    stale = read_po(io.BytesIO(r.content))
    stale.get("Free Wi-Fi", context="wifi/title").string = "Kostenloses WLAN"
    stale.add("Old words", "Alte Worte", context="wifi/done/text")
    refused = sent(stale, 0)
    assert refused.status_code == 422 and "the en text changed since the export" in html.unescape(refused.text)
    assert state(c["ed"], draft, "wifi")["revision"] == 0
    assert sent(catalog, 0).status_code == 303
    doc = state(c["ed"], draft, "wifi")["document"]
    assert doc["title"] == {"en": "Free Wi-Fi", "de": "Kostenloses WLAN"}
    assert [ch["label"] for ch in doc["steps"]["network"]["choices"]] == [{"en": "Yes", "de": "Ja"}, {"en": "No"}]
    review = html.unescape(c["vera"].get(f"/studio/drafts/{draft}").text)
    assert "title (de) added: “Kostenloses WLAN”" in review
    assert 'class="diff-guide" data-guide="lost-bag"' not in review, "a guide the file did not translate is not changed"
    assert 'class="diff-guide" data-guide="wifi"' in review


def test_the_alert_loop_runs_its_hooks_only_in_the_process_holding_the_lease(tmp_path):
    """The periodic hook (the studio's scheduled publishing) rides on the alert loop's rounds and
    its lease: one process of all runs it."""
    engine = db.make_engine(str(tmp_path / "server.db"))
    db.migrate(engine)
    config = load_config(tmp_path, alert_interval=0.05)
    ran = threading.Event()
    other = Lease(engine)  # another process's lease, held: this loop must not run the hook
    assert other.held()
    loop = AlertLoop(engine, config, hooks=(lambda e, c: ran.set(),))
    loop.start()
    try:
        assert not ran.wait(0.5)
        other.release()
        assert ran.wait(10), "the hook did not run once the lease was free"
    finally:
        loop.stop()
        engine.dispose()


def test_a_draft_behind_the_latest_version_is_resolved_step_by_step_then_approved(studio, tmp_path):
    """Someone publishes from files while a draft is in review: the step both changed is a
    conflict resolved on the page, the step only the files changed is kept from them, and the
    draft, now based on the latest version, is approved."""
    server, c = studio
    draft = new_draft(c["ed"])
    step = state(c["ed"], draft, "wifi")["document"]["steps"]["staff"]
    assert edit(c["ed"], draft, "wifi", {"op": "set_step", "step": "staff", "end": step["end"],
                                          "text": {"en": "Ask at the desk by gate 11."}}, 0).status_code == 200
    assert c["ed"].post(f"/studio/drafts/{draft}/submit", data={"note": ""}).status_code == 303
    files = make_library(tmp_path / "files", wifi_text="Can you see the network AIRPORT-GUEST?")
    wifi = files / "wifi.yaml"
    wifi.write_text(wifi.read_text().replace("Ask at the information desk.", "Ask at desk 2."))
    code, _out, err = server.cli("publish", str(files), "--by", "files")
    assert code == 0, err
    waits = c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": ""})
    assert waits.status_code == 409 and "Changed on both sides: wifi, step &#39;staff&#39;" in waits.text
    page = c["pia"].get(f"/studio/drafts/{draft}/resolve").text
    guide = page.split('data-guide="wifi"')[1].split("</section>")[0]
    kept = guide.split("Kept from the side that changed it:")[1].split("</p>")[0]
    assert "step &#39;network&#39;" in kept and "staff" not in kept
    assert "Keep this draft's: text (en) changed from" in guide and "to “Ask at the desk by gate 11.”" in guide
    assert "to “Ask at desk 2.”" in guide
    revision = c["pia"].get(f"/studio/api/drafts/{draft}").json()["revision"]
    unanswered = c["pia"].post(f"/studio/drafts/{draft}/resolve", data={"revision": str(revision)})
    assert unanswered.status_code == 422 and "Choose mine or theirs" in unanswered.text
    r = c["pia"].post(f"/studio/drafts/{draft}/resolve", data={"revision": str(revision), "r|wifi|staff": "mine"})
    assert r.status_code == 303, r.text
    doc = state(c["pia"], draft, "wifi")["document"]
    assert doc["steps"]["staff"]["text"] == {"en": "Ask at the desk by gate 11."}
    assert doc["steps"]["network"]["text"] == {"en": "Can you see the network AIRPORT-GUEST?"}
    # Resolving is writing part of the draft: another publisher approves it.
    assert c["pia"].post(f"/studio/drafts/{draft}/approve", data={"note": "merged"}).status_code == 403
    assert c["pat"].post(f"/studio/drafts/{draft}/approve", data={"note": "merged"}).status_code == 303

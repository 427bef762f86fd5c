"""The content studio in Chromium (issue 14), as staff use it: an editor writes a new guide in the
browser (three steps in English and German, an answer that jumps to another guide, a picture
uploaded for its first step), sees a live problem appear on its step and go away, and submits; a
publisher, another person, approves; a kiosk syncs with `kiosk sync`, finds the new guide with
`kiosk search`, and then the real kiosk app (Kivy, under Xvfb, driven as tests/ui drives it) is
tapped through the new guide to its outcome. A viewer cannot edit, and the editor cannot publish.

Screenshots of each studio page land in STUDIO_SHOTS (default /tmp/studio-shots/).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "server"))
from server_testkit import png, prepare, start, stop
from test_end_to_end import start_xvfb
from ui.conftest import Kiosk

from server import auth

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
PASSWORD = "a long enough password"
SHOTS = Path(os.environ.get("STUDIO_SHOTS", "/tmp/studio-shots"))


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("studio-e2e")
    srv = prepare(tmp, str(tmp / "server.db"), devices=("kiosk-1",))
    engine = srv.engine()
    try:
        for name, role in (("ed", "editor"), ("pia", "publisher"), ("vera", "viewer")):
            auth.set_staff_password(engine, name, PASSWORD, role=role)  # as `staff add NAME --role` does
    finally:
        engine.dispose()
    start(srv)
    try:
        yield srv
    finally:
        stop(srv)
    assert "Traceback" not in srv.log.read_text(errors="replace")


def log_in(page: Page, base: str, user: str, then: str = "/studio") -> None:
    page.goto(f"{base}/dashboard/login?next={then}")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"**{then}")


def typed(page: Page, selector: str, text: str) -> None:
    """Type into a field and wait for the autosave it sets off to be answered (and shown)."""
    with page.expect_response(lambda r: "/studio/api/" in r.url and r.request.method == "POST") as reply:
        page.fill(selector, text)
    assert reply.value.status == 200, reply.value.text()
    expect(page.locator("#save-status")).to_contain_text(f"saved (revision {reply.value.json()['revision']})")


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def answer(page: Page, n: int, labels: dict[str, str], target: str) -> None:
    """Fill the form's new-answer row: its labels typed, then where it leads chosen, which saves the
    step and draws the page again with the next empty row."""
    for lang, text in labels.items():
        typed(page, f"#c{n}-label-{lang}", text)
    with page.expect_navigation():
        page.select_option(f"#c{n}-target", target)


def kiosk(data_dir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIOSK_")}
    out = subprocess.run([str(BIN / "kiosk"), *args, "--data-dir", str(data_dir)], env=env, capture_output=True,
                         text=True, timeout=180, check=False)
    assert out.returncode == 0, f"kiosk {' '.join(args)}:\n{out.stdout}\n{out.stderr}"
    return out


def test_an_editor_writes_a_guide_a_publisher_approves_and_a_kiosk_receives_it(server, tmp_path):
    base = server.url
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        editor = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        log_in(editor, base, "ed")
        editor.get_by_label("New draft").fill("Trolleys in the arrivals hall")
        editor.get_by_role("button", name="Start a draft").click()
        editor.wait_for_url("**/studio/drafts/*")
        draft_url = editor.url

        # A new guide from scratch: its one empty step is a problem until it has words and a way on.
        editor.get_by_label("Guide id").fill("trolleys")
        editor.get_by_label("Title (default language)").fill("Where are the luggage trolleys?")
        editor.get_by_role("button", name="Add the guide").click()
        editor.wait_for_url("**/guides/trolleys")
        expect(editor.locator("#guide-problems")).to_contain_text("problem(s) in this guide")
        for step in ("found", "none-left"):
            editor.get_by_label("New step id").fill(step)
            editor.get_by_role("button", name="Add step").click()
            editor.wait_for_load_state()
        # German beside English: the language's fields, every German text marked missing.
        editor.get_by_label("Add a language").fill("de")
        editor.get_by_role("button", name="Show its fields").click()
        editor.wait_for_url("**lang=de**")
        editor.get_by_role("link", name="start", exact=True).click()
        editor.wait_for_url("**step=start**")
        expect(editor.locator("label[for=text-de] .missing-tag")).to_have_text("missing")
        typed(editor, "#title-de", "Wo sind die Gepäckwagen?")
        typed(editor, "#text-en", "Can you see the trolley bay next to the exit?")
        typed(editor, "#text-de", "Sehen Sie die Gepäckwagen neben dem Ausgang?")
        answer(editor, 0, {"en": "Yes, but there are none", "de": "Ja, aber es gibt keine"}, "step:none-left")
        answer(editor, 1, {"en": "I found one", "de": "Ich habe einen"}, "step:found")
        answer(editor, 2, {"en": "Wi-Fi help instead", "de": "Lieber WLAN-Hilfe"}, "guide:wifi")
        expect(editor.locator("#step-problems li")).to_have_count(0)
        # A picture of the trolley bay, uploaded for the first step and described in words.
        picture = tmp_path / "trolley-bay.png"
        picture.write_bytes(png(160, 90, (30, 120, 60)))
        editor.set_input_files("#image-file", str(picture))
        with editor.expect_navigation():
            editor.get_by_role("button", name="Upload and use it").click()
        expect(editor.locator("img.step-img")).to_be_visible()
        typed(editor, "#alt-en", "The trolley bay: a row of trolleys by the exit")
        expect(editor.locator("#step-problems li")).to_have_count(0)

        editor.goto(f"{draft_url}/guides/trolleys?step=found&lang=de#step")
        typed(editor, "#text-en", "Good. Trolleys are free; return them to any bay.")
        typed(editor, "#text-de", "Gut. Die Wagen sind kostenlos.")
        with editor.expect_navigation():
            editor.select_option("#end", "resolved")

        # A live problem on the step it concerns: German words but none in the default language.
        editor.goto(f"{draft_url}/guides/trolleys?step=none-left&lang=de#step")
        with editor.expect_navigation():
            editor.select_option("#end", "escalate")
        typed(editor, "#text-de", "Ein Mitarbeiter bringt Ihnen einen Wagen.")
        problem = editor.locator("#step-problems li")
        expect(problem).to_have_text("text has no text in the guide's default language 'en' (it has de)")
        expect(editor.locator("#problem-list")).to_contain_text("step 'none-left'")
        box = editor.locator("svg g.step[data-step=none-left] rect")  # its box in the tree, outlined red
        expect(box).to_have_attribute("stroke", "#c0392b")
        expect(editor.locator("small.step-count[data-step=none-left]")).to_have_text("1 problem(s)")
        shot(editor, "studio-guide-live-problem")
        typed(editor, "#text-en", "A member of staff will bring you one; please ask at the information desk.")
        expect(problem).to_have_count(0)
        expect(box).to_have_attribute("stroke", "#9fb4c9")
        expect(editor.locator("small.step-count[data-step=none-left]")).to_have_text("")
        expect(editor.locator("label[for=text-en] .missing-tag")).to_have_count(0)
        expect(editor.locator("#guide-problems")).to_contain_text("No problems: this guide can be published")
        expect(problem).to_have_count(0)
        # The guide's icon by keyboard alone: Enter opens the picker, an arrow key picks the next
        # pictogram, and it is saved as chosen (the picker's summary names it).
        editor.locator("#guide-icon summary").focus()
        editor.keyboard.press("Enter")
        editor.locator("#guide-icon input[value='']").focus()
        with editor.expect_response(lambda r: "/studio/api/" in r.url and r.request.method == "POST") as reply:
            editor.keyboard.press("ArrowDown")
        assert reply.value.status == 200 and reply.value.json()["problems"] == []
        expect(editor.locator("#guide-icon-shown")).to_have_text("accessible")
        assert editor.request.get(f"{base}/studio/api/drafts/{draft_url.rsplit('/', 1)[1]}/guides/trolleys"
                                  ).json()["document"]["icon"] == "accessible"
        shot(editor, "studio-guide")

        editor.goto(draft_url)
        expect(editor.locator(".diff-guide[data-guide=trolleys]")).to_contain_text("New guide with 3 step(s)")
        expect(editor.locator(".diff-guide [data-step=start]")).to_contain_text("answer 3 to guide 'wifi'")
        editor.get_by_label("Note for the reviewer").fill("New guide for the trolley bays.")
        editor.get_by_role("button", name="Submit for review").click()
        expect(editor.locator("#done")).to_contain_text("Submitted for review")
        expect(editor.locator("#approve-form")).to_have_count(0)
        # The editor cannot publish, by the page or by a crafted request.
        refused = editor.request.post(f"{draft_url}/approve", form={"note": "mine"},
                                      headers={"X-CSRF-Token": editor.locator("meta[name=csrf-token]")
                                               .get_attribute("content")})
        assert refused.status == 403 and "Needs the publisher role" in refused.text()
        shot(editor, "studio-draft-submitted")

        # A viewer reads the guide but has nothing to edit with, and the API refuses them.
        viewer = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        log_in(viewer, base, "vera", then=draft_url.removeprefix(base) + "/guides/trolleys")
        expect(viewer.locator("#step fieldset[disabled], #guide-form fieldset[disabled]")).to_have_count(1)
        expect(viewer.get_by_role("button", name="Add step")).to_have_count(0)
        token = viewer.locator("meta[name=csrf-token]").get_attribute("content")
        draft_id = draft_url.rsplit("/", 1)[1]
        api = viewer.request.post(f"{base}/studio/api/drafts/{draft_id}/guides/trolleys/edit",
                                  data=json.dumps({"op": "add_step", "step": "sneaky"}),
                                  headers={"X-CSRF-Token": token, "If-Match": '"0"',
                                           "Content-Type": "application/json"})
        assert api.status == 403 and "editor role" in api.json()["detail"]

        # The publisher, another person, reads the change in words and approves it.
        publisher = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        log_in(publisher, base, "pia", then=draft_url.removeprefix(base))
        expect(publisher.locator("#comments")).to_contain_text("New guide for the trolley bays.")
        shot(publisher, "studio-review")
        publisher.get_by_label("Publish note").fill("Trolley guide for arrivals")
        publisher.get_by_role("button", name="Approve and publish").click()
        expect(publisher.locator("#done")).to_contain_text("published as content version 2")
        publisher.goto(f"{base}/studio")
        shot(publisher, "studio-home")
        browser.close()

    # A kiosk syncs and has the new guide, in both languages.
    data_dir = tmp_path / "kiosk"
    synced = json.loads(kiosk(data_dir, "sync", "--server", base, "--token", server.tokens["kiosk-1"], "--json").stdout)
    assert (synced["result"], synced["content_version"]) == ("ok", "2")
    found = json.loads(kiosk(data_dir, "search", "Gepäckwagen", "--lang", "de", "--json").stdout)
    assert [(h["guide"], h["title"]) for h in found["hits"]][:1] == [("trolleys", "Wo sind die Gepäckwagen?")]

    # On the kiosk's own screen: search, the new guide's first step with its picture, an answer,
    # its outcome.
    xvfb, display = start_xvfb()
    app = None
    try:
        app = Kiosk(data_dir, display, {})
        app.wait_screen("attract", timeout=90)
        app.wait_input_ready()
        app.touch_to_start()
        app.type_search("trolley")
        app.tap("guide:trolleys")
        app.wait_label("Can you see the trolley bay next to the exit?", timeout=20)
        app.tap_and_wait("choice:1", lambda s: any("Trolleys are free" in label for label in s["labels"]),
                         "the step the answer leads to")
    finally:
        if app is not None:
            app.stop()
        xvfb.terminate()
        xvfb.wait(timeout=10)

"""The mobile continue page in headless Chromium at phone size: open a link a kiosk made, follow
three choices, give feedback; tampered links are refused; hostile text stays inert."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from playwright.sync_api import sync_playwright
from server_testkit import make_library

from contract.handoff import Handoff, handoff_key, make_url
from server import db

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    yield page
    context.close()


def kiosk_url(server, session: str, step="arrived", path=(), lang="en", device="kiosk-1") -> str:
    h = Handoff(device=device, guide="lost-bag", version=1, step=step, path=tuple(path), session=session, lang=lang)
    return make_url(server.url, h, handoff_key(server.tokens[device]))


def events_of(server, session: str):
    engine = server.engine()
    with engine.connect() as conn:
        rows = conn.execute(sa.select(db.events).where(db.events.c.session == session)
                            .order_by(db.events.c.received_at, db.events.c.id)).all()
    engine.dispose()
    return rows


def shot(page, tmp_path: Path, name: str, server) -> Path:
    kind = "postgres" if server.db_url.startswith("postgres") else "sqlite"
    path = tmp_path / f"{name}-{kind}.png"
    page.screenshot(path=str(path), full_page=True)
    SCREENSHOTS.mkdir(exist_ok=True)
    shutil.copy(path, SCREENSHOTS / path.name)
    return path


def test_continue_on_phone_through_three_choices_and_feedback(server, phone, tmp_path):
    session = "sessmobile"
    # the kiosk customer had already answered "No, it never came" (choice 0) at the first step
    phone.goto(kiosk_url(server, session, step="waited", path=(0,)))
    assert phone.locator("#step-text").inner_text() == "Have you waited 30 minutes after the last bags came out?"
    assert "Did your bag come out on the baggage belt?" in phone.locator("ol.path").inner_text()
    assert "No, it never came" in phone.locator("ol.path").inner_text()
    # fits a 390px phone with nothing wider than the screen, and needs no JavaScript
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert phone.locator("script").count() == 0
    phone.get_by_role("link", name="Not yet").click()
    assert phone.locator("#step-text").inner_text().startswith("Bags can take a while")
    phone.get_by_role("link", name="I have waited").click()
    phone.get_by_role("link", name="Yes, I have it").click()
    assert phone.locator("#step-text").inner_text().startswith("Go to the Baggage Service desk")
    assert phone.get_by_text("We hope this solved it.").is_visible()
    shot(phone, tmp_path, "mobile-outcome", server)
    phone.get_by_label("Yes").check()
    phone.get_by_label("4").check()
    phone.get_by_label("Comment (optional)").fill("Quick and clear, thanks! Mail me: jo@example.org")
    phone.get_by_role("button", name="Send feedback").click()
    assert phone.locator("#thanks").inner_text() == "Thank you for your feedback!"
    assert "jo@example.org" not in phone.content()
    shot(phone, tmp_path, "mobile-thanks", server)

    rows = events_of(server, session)
    kinds = [r.type for r in rows]
    assert kinds.count("handoff_opened") == 1
    assert [r.step for r in rows if r.type == "step_view"] == ["waited", "wait-more", "tag", "report"]
    assert [r.step for r in rows if r.type == "choice"] == ["waited", "wait-more", "tag"]
    assert [r.outcome for r in rows if r.type == "outcome"] == ["resolved"]
    (fb,) = [r for r in rows if r.type == "feedback"]
    assert fb.helped is True and fb.rating == 4 and "jo@example.org" not in fb.comment
    assert {r.channel for r in rows} == {"mobile"} and {r.device for r in rows} == {"kiosk-1"}
    assert {(r.guide, r.guide_version) for r in rows} == {("lost-bag", 1)}


def test_reopening_the_same_qr_records_one_handoff(server, phone):
    url = kiosk_url(server, "sessreopen")
    phone.goto(url)
    phone.goto(url)
    rows = events_of(server, "sessreopen")
    assert [r.type for r in rows].count("handoff_opened") == 1


@pytest.mark.parametrize("tamper", [
    lambda u: u.replace("/arrived?", "/report?"),  # jump to the outcome
    lambda u: u.replace("&l=en", "&l=es"),
    lambda u: re.sub(r"k=[^&]+", "k=AAAAAAAAAAAAAAAAAAAAAA", u),
    lambda u: u.replace("/c/kiosk-1/", "/c/kiosk-2/"),  # signed by another kiosk's key
    lambda u: u.replace("/c/", "/m/"),  # a kiosk signature is no server signature
    lambda u: u.replace("/lost-bag/1/", "/lost-bag/2/"),
])
def test_a_tampered_link_is_refused(server, phone, tamper):
    url = tamper(kiosk_url(server, "sesstamper"))
    response = phone.goto(url)
    assert response.status == 403
    assert phone.locator("#error").inner_text() in ("This link is not valid.", "Este enlace no es válido.")
    assert phone.locator("#step-text").count() == 0
    assert events_of(server, "sesstamper") == []


def test_a_tampered_next_link_is_refused(server):
    with httpx.Client(base_url=server.url, follow_redirects=False) as c:
        page = c.get(kiosk_url(server, "sessnext")).text
        link = re.search(r'href="(/m/[^"]*/choose/0[^"]*)"', page).group(1).replace("&amp;", "&")
        assert c.get(link).status_code == 303
        assert c.get(link.replace("/arrived/", "/damaged/")).status_code == 403
        assert c.get(link.replace("p=-", "p=1")).status_code == 403


def test_a_script_in_a_comment_stays_inert(server, phone, tmp_path):
    dialogs = []
    phone.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    phone.goto(kiosk_url(server, "sessxss", step="desk", path=(0, 0, 1)))
    phone.get_by_label("No").check()
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    phone.get_by_label("Comment (optional)").fill(hostile)
    phone.get_by_role("button", name="Send feedback").click()
    assert phone.locator("#comment-echo").inner_text() == hostile  # shown as text
    assert phone.locator("script").count() == 0 and phone.locator("#comment-echo img").count() == 0
    assert dialogs == []
    (fb,) = [r for r in events_of(server, "sessxss") if r.type == "feedback"]
    assert fb.comment == hostile and fb.helped is False


def test_arabic_page_is_right_to_left_and_the_language_can_be_switched(server, phone, tmp_path):
    phone.goto(kiosk_url(server, "sessar", lang="ar"))
    assert phone.locator("html").get_attribute("dir") == "rtl"
    assert phone.locator("html").get_attribute("lang") == "ar"
    assert phone.locator("#step-text").inner_text() == "هل خرجت حقيبتك على سير الأمتعة؟"
    assert phone.get_by_role("link", name="لا، لم تخرج").is_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    shot(phone, tmp_path, "mobile-arabic", server)
    phone.get_by_role("link", name="Español").click()
    assert phone.locator("#step-text").inner_text() == "¿Salió su maleta por la cinta?"
    # the guide image is served to the phone without a device token
    src = phone.locator("img.step").get_attribute("src")
    assert httpx.get(server.url + src).status_code == 200


def test_a_choice_into_another_guide_goes_on_there(server, phone):
    phone.goto(kiosk_url(server, "sessjump"))
    phone.get_by_role("link", name="Wi-Fi help instead").click()
    assert phone.locator("h1").inner_text() == "Free Wi-Fi"
    assert phone.locator("#step-text").inner_text() == "Can you see the network AIRPORT-FREE?"
    phone.get_by_role("link", name="No").click()
    assert phone.locator("#step-text").inner_text() == "Ask at the information desk."
    rows = events_of(server, "sessjump")
    jump = next(r for r in rows if r.type == "choice")
    assert jump.guide == "lost-bag" and '"guide":"wifi"' in jump.data
    assert [(r.guide, r.step) for r in rows if r.type == "step_view"] == [
        ("lost-bag", "arrived"), ("wifi", "network"), ("wifi", "staff")]


def test_the_version_in_the_link_is_served_after_newer_content(own_server, phone, tmp_path):  # it publishes
    newer = make_library(tmp_path / "newer")
    yaml = (newer / "lost-bag.yaml").read_text().replace("Did your bag come out on the baggage belt?",
                                                         "Has your bag appeared on the belt yet?")
    (newer / "lost-bag.yaml").write_text(yaml)
    code, out, err = own_server.cli("publish", str(newer))
    assert code == 0 and "lost-bag v2" in out, err
    phone.goto(kiosk_url(own_server, "sessold"))  # a QR code made before the update names version 1
    assert phone.locator("#step-text").inner_text() == "Did your bag come out on the baggage belt?"
    phone.get_by_role("link", name="No, it never came").click()
    assert "/lost-bag/1/waited" in phone.url

"""kiosk.handoff: a kiosk offers "Continue on your phone" only when a server could open the link
(a device token and a public address), and then the QR's URL is on the public address and signed
with the key the server derives from the token. No window needed."""

from __future__ import annotations

import pytest

from contract.handoff import handoff_key, parse_url, verify
from kiosk.engine import Position
from kiosk.handoff import HandoffLinks, HandoffUnavailable
from kiosk.settings import Settings

AT = Position(guide_id="lost-baggage", guide_version=3, step_id="waited", path=(0, 1))


@pytest.mark.parametrize("config", [
    {},  # a new kiosk, nobody configured it (this once made QR codes for http://127.0.0.1:8000)
    {"server_url": "https://kiosk.example.org"},  # a server, but not registered with it
    {"public_url": "https://kiosk.example.org"},
    {"token": "kt_abc"},  # a token, but no address for the phone to go to
], ids=["unregistered", "server-no-token", "public-no-token", "token-no-address"])
def test_no_handoff_without_a_token_and_an_address(config):
    links = HandoffLinks(Settings(device="kiosk-7", **config))
    assert not links.available
    with pytest.raises(HandoffUnavailable):
        links.url_for(AT, "s1", "en")


def test_the_url_is_on_the_public_address_and_signed_with_the_devices_key():
    settings = Settings(device="kiosk-7", token="kt_abc", server_url="http://10.0.0.5:8000",
                        public_url="https://help.example.org")
    links = HandoffLinks(settings)
    assert links.available
    url = links.url_for(AT, "s1", "ar")
    assert url.startswith("https://help.example.org/c/kiosk-7/lost-baggage/3/waited?")
    handoff, signature = parse_url(url)
    assert (handoff.device, handoff.path, handoff.session, handoff.lang) == ("kiosk-7", (0, 1), "s1", "ar")
    assert verify(handoff, signature, handoff_key("kt_abc")), "the server's key for this token opens it"
    assert not verify(handoff, signature, handoff_key("kt_other")), "no other device's key does"


def test_without_a_public_url_the_link_uses_the_server_url():
    links = HandoffLinks(Settings(device="kiosk-7", token="kt_abc", server_url="https://kiosk.example.org/"))
    assert links.url_for(AT, "s1", "en").startswith("https://kiosk.example.org/c/kiosk-7/")



def test_the_kiosk_signs_the_time_it_made_the_link(monkeypatch):
    import time

    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.7)
    links = HandoffLinks(Settings(device="kiosk-7", token="kt_abc", server_url="https://kiosk.example.org"),
                         lambda: 3)  # the server said at the last sync that it speaks protocol 3
    url = links.url_for(AT, "s1", "en")
    assert url.endswith("&t=1800000000")
    handoff, signature = parse_url(url)
    assert handoff.issued == 1_800_000_000
    assert verify(handoff, signature, handoff_key("kt_abc"))
    from dataclasses import replace
    assert not verify(replace(handoff, issued=1_900_000_000), signature, handoff_key("kt_abc"))
    # a link from before (no issue time) keeps the signature it always had
    legacy, legacy_sig = parse_url(url.replace("&t=1800000000", ""))
    assert legacy.issued is None and not verify(legacy, legacy_sig, handoff_key("kt_abc"))


@pytest.mark.parametrize("announced", [None, 2], ids=["never-synced-or-previous-server", "protocol-2"])
def test_no_time_in_the_link_until_the_server_reads_it(announced):
    """The previous release's server refuses a link signed with its time: until a sync has shown
    the server speaks protocol 3, the kiosk makes the link that server opens (an unexpiring one)."""
    links = HandoffLinks(Settings(device="kiosk-7", token="kt_abc", server_url="https://kiosk.example.org"),
                         lambda: announced)
    url = links.url_for(AT, "s1", "en")
    assert "&t=" not in url
    handoff, signature = parse_url(url)
    assert handoff.issued is None and verify(handoff, signature, handoff_key("kt_abc"))

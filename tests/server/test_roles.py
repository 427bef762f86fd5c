"""Staff roles (issue 14): viewer (the dashboard's pages), editor (drafts), publisher (publish, roll
back, move kiosks between groups). Staff from before roles are publishers; `staff add --role` and
`staff list` manage them. A refused request is a plain 403 that names the role it needs."""

from __future__ import annotations

import contextlib

import httpx
import pytest
from server_testkit import zip_bytes

PASSWORD = "a long enough password"


def logged_in(server, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=server.url, timeout=30, follow_redirects=False)
    r = client.post("/dashboard/login", data={"username": username, "password": PASSWORD})
    assert r.status_code == 303, r.text
    token = client.get("/api/v1/staff/session").json()["csrf_token"]
    return client, token


@pytest.fixture(scope="module")
def staffed(server):
    for name, role in (("vera", "viewer"), ("ed", "editor"), ("pia", "publisher")):
        code, out, err = server.cli("staff", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")
        assert code == 0 and f"({role})" in out, err
    return server


def test_staff_list_names_every_role_and_the_older_login_is_a_publisher(staffed):
    code, out, _ = staffed.cli("staff", "list")
    rows = dict(line.split("\t")[:2] for line in out.strip().splitlines())
    assert code == 0 and rows == {"admin": "publisher", "ed": "editor", "pia": "publisher", "vera": "viewer"}
    # A password change without --role keeps the role.
    code, out, _ = staffed.cli("staff", "add", "ed", "--password-stdin", stdin=PASSWORD + "\n")
    assert code == 0 and "(editor)" in out


@pytest.mark.parametrize("who", ["vera", "ed"])
def test_only_a_publisher_rolls_back_moves_kiosks_or_publishes(staffed, who):
    client, token = logged_in(staffed, who)
    with contextlib.closing(client):
        assert client.get("/dashboard/library").status_code == 200  # every role reads the dashboard
        page = client.post("/dashboard/library/1/rollback", data={"csrf": token})
        assert page.status_code == 403 and "text/html" in page.headers["content-type"]
        assert "Needs the publisher role" in page.text and f"{who} is a" in page.text
        moved = client.post("/dashboard/fleet/kiosk-1/group", data={"csrf": token, "group": "default"})
        assert moved.status_code == 403 and "publisher role" in moved.text
        api = client.post("/api/v1/publish", headers={"X-CSRF-Token": token},
                          files={"library": ("library.zip", zip_bytes(staffed.library))})
        assert api.status_code == 403 and "publisher role" in api.json()["detail"]
        assert client.post("/api/v1/content/rollback", json={"version": 1},
                           headers={"X-CSRF-Token": token}).status_code == 403


def test_a_publisher_may(staffed):
    client, token = logged_in(staffed, "pia")
    with contextlib.closing(client):
        r = client.post("/dashboard/fleet/kiosk-2/group", data={"csrf": token, "group": "default"})
        assert r.status_code == 303

"""The rollout guard with two rollout groups and real kiosks (issue 15): each kiosk syncs with its
own sync code (SyncService over the real HttpTransport; the last round by the `kiosk sync` command,
no Kivy) against `kiosk-server serve` on loopback; its customers' sessions are recorded by the
kiosk's own SessionEngine into its outbox, and the sync sends them through the device API exactly
as a kiosk in the field does. The server is administered with the `kiosk-server` command's own
main() in this process (a subprocess per command cost ~2 s each under load).

The pilot group gets a staged version of one guide on which customers walk away; the other group
keeps the old version and its customers finish. Before the guard's minimum (sessions a side, days
of stage) it only waits; once there it rolls the pilot group back, once, through the one rollback
path, records the decision with a sentence (read through the alerts' seam), and after their next
sync the pilot kiosks show the previous content while the other group's kiosk never moved.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from kiosk.engine import SessionEngine
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from server import db
from server.cli import main as kiosk_server
from server.rollout_guard import guard_decisions_since
from tests.server.alert_receivers import smtp_relay, webhook_receiver
from tests.sync.conftest import Kiosk, ServerProc
from tests.sync.libgen import write_library

GUIDE = "guide-0001"
STAGE_AGE = 4 * 86400  # the stage has been running for four days


class Server(ServerProc):
    def cli(self, *args: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = kiosk_server([*args, "--data-dir", str(self.data_dir)])
        assert code == 0, f"kiosk-server {' '.join(args)} failed:\n{out.getvalue()}\n{err.getvalue()}"
        return out.getvalue()


SMTP_USER, SMTP_PASSWORD = "alerts", "relay password"


@pytest.fixture
def receivers(tmp_path: Path):
    """A real SMTP relay (aiosmtpd, STARTTLS and login) and a webhook receiver, in this process."""
    (tmp_path / "relay").mkdir()
    with smtp_relay(tmp_path / "relay", SMTP_USER, SMTP_PASSWORD) as box, webhook_receiver() as hook:
        yield box, hook


@pytest.fixture
def server(tmp_path: Path, receivers):
    box, hook = receivers
    data = tmp_path / "server"
    data.mkdir()
    # Alerts by e-mail and webhook; the server's own rounds off (alert_interval 0), so the test
    # runs the one round that must tell staff (`kiosk-server alerts run`).
    (data / "server.toml").write_text(f'''
alert_interval = 0
guard_interval = 0
smtp_host = "127.0.0.1"
smtp_port = {box.port}
smtp_security = "starttls"
smtp_user = "{SMTP_USER}"
smtp_password = "{SMTP_PASSWORD}"
smtp_ca_file = "{box.ca_file}"
alert_from = "kiosks@example.org"
alert_to = "ops@example.org"
webhook_url = "{hook.url}"
''')
    srv = Server(data).start()
    yield srv
    srv.stop()


def _sync(kiosk: Kiosk) -> dict:
    """One sync round by the kiosk's sync code, in this process."""
    transport = HttpTransport(kiosk.settings.server_url, kiosk.token, kiosk.data_dir)
    store = kiosk.store()
    try:
        service = SyncService(store, transport, device=kiosk.name, server_key=kiosk.settings.server_key,
                              data_dir=kiosk.data_dir)
        return service.sync_once().__dict__
    finally:
        transport.close()
        store.close()


def _kiosk_sync(kiosk: Kiosk) -> dict:
    """One sync round by the `kiosk sync` command."""
    return json.loads(kiosk.run("sync", "--json").stdout)


def _customers(kiosk: Kiosk, sessions: int, walk_away_every: int) -> None:
    """`sessions` customers open GUIDE; every `walk_away_every`-th walks away at its first step
    (the idle timeout), the others answer "Yes" and reach the resolved outcome."""
    store = kiosk.store()
    engine = SessionEngine(store, kiosk.name)
    for n in range(sessions):
        engine.start_session()
        engine.open_guide(GUIDE)
        if walk_away_every and n % walk_away_every == 0:
            engine.idle_timeout()
        else:
            engine.choose(0)
            engine.end_session()
    store.close()


def _guide_version(kiosk: Kiosk) -> int:
    store = kiosk.store()
    try:
        return store.guide_versions()[GUIDE][0]
    finally:
        store.close()


def test_the_guard_rolls_back_a_staged_version_customers_walk_away_from(tmp_path, server: Server, receivers):
    lib = write_library(tmp_path / "lib", guides=3, images=0)
    server.publish(lib)  # content version 1, every group
    server.cli("group", "add", "pilot")
    server.cli("group", "guard", "pilot", "--on", "--min-sessions", "40", "--min-days", "3")
    gate = Kiosk(tmp_path / "gate", server, "gate-1")
    pilots = [Kiosk(tmp_path / f"pilot{n}", server, f"pilot-{n}", group="pilot") for n in (1, 2)]
    write_library(lib, guides=3, images=0, revision={GUIDE: 1})
    server.cli("publish", str(lib), "--to", "pilot")  # content version 2, the pilot group only
    for kiosk in (gate, *pilots):
        _sync(kiosk)
    assert [_guide_version(k) for k in (gate, *pilots)] == [1, 2, 2]

    # A first day of traffic: below the minimum, the guard only waits (and records nothing).
    _customers(gate, 20, walk_away_every=0)
    for kiosk in pilots:
        _customers(kiosk, 10, walk_away_every=2)
    for kiosk in (gate, *pilots):
        assert _sync(kiosk)["outbox_depth"] == 0
    waiting = server.cli("guard", "run")
    assert "Group 'pilot' on content version 2: waiting for 40 sessions a side and 3 days" in waiting

    # Four days in (the stage's start moved back; the sessions are today's) and 40+ sessions a side.
    with server.db() as conn:
        conn.execute("UPDATE content_versions SET published_at = published_at - ? WHERE version = 2", [STAGE_AGE])
        conn.execute("UPDATE rollout_groups SET changed_at = changed_at - ? WHERE name = 'pilot'", [STAGE_AGE])
    _customers(gate, 30, walk_away_every=10)
    for kiosk in pilots:
        _customers(kiosk, 15, walk_away_every=2)
    for kiosk in (gate, *pilots):
        assert _sync(kiosk)["outbox_depth"] == 0

    decided = server.cli("guard", "run")
    assert "Group 'pilot' was rolled back from content version 2 to 1: walk-aways were worse with 95% " \
           "confidence" in decided, decided
    assert "No staged rollout is open" in server.cli("guard", "run"), "it decides once"

    # The pilot kiosks go back to the previous content at their next sync; the gate never moved.
    for kiosk, sync in zip(pilots, (_kiosk_sync, _sync), strict=True):
        result = sync(kiosk)
        assert (result["result"], result["content_version"]) == ("ok", "1")
        assert _guide_version(kiosk) == 1
    assert _sync(gate)["result"] == "unchanged" and _guide_version(gate) == 1

    # What staff are told, through the seam the alerts read.
    engine = db.make_engine(f"sqlite:///{server.data_dir / 'server.db'}", pool_size=1)
    with db.read(engine) as conn:
        decisions = guard_decisions_since(conn, 0)
        group_version = conn.execute(sa.select(db.rollout_groups.c.content_version)
                                     .where(db.rollout_groups.c.name == "pilot")).scalar()
    engine.dispose()
    assert group_version == 1
    [decision] = decisions
    assert (decision.rollout_group, decision.content_version, decision.base_version, decision.action) == \
        ("pilot", 2, 1, "rolled_back")
    assert decision.details["staged"] == {"sessions": 50, "walked_away": 26, "escalated": 0}
    assert decision.details["others"] == {"sessions": 50, "walked_away": 3, "escalated": 0}
    assert decision.sentence.startswith("Group 'pilot' was rolled back")

    # Staff are told: one alert round sends the rollback once by e-mail and once to the webhook (with,
    # here, the walk-aways that rose on the staged version's step: an alert of its own).
    box, hook = receivers
    server.cli("alerts", "run")
    [mail] = [m for m in box.messages if "Rollout rolled back" in m["Subject"]]
    assert decision.sentence in mail.get_content()
    [posted] = [p for p in hook.received if decision.sentence in p["text"]]
    assert "/dashboard/library" in posted["text"]
    sent = len(box.messages)
    assert "0 alert(s) opened" in server.cli("alerts", "run") and len(box.messages) == sent, "told once"

"""Did it help? (issue 15): the per-(day, guide, version, group, step) summaries that ingest keeps,
checked against a count in plain Python over the events the kiosks sent (none of the server's
code), on SQLite and PostgreSQL, with events arriving shuffled, twice and a session days late; and
`kiosk-server compare` checked against intervals computed here from the textbook formulas and
published tables, including a comparison that must say "not enough sessions yet"."""

from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from server_testkit import cli

from devtools.simulate import corrected_time, generate
from server import auth, db, groups, ingest, intervals, summary

GROUP_OF = {"kiosk-01": "default", "kiosk-02": "pilot", "kiosk-03": "pilot"}
COUNTS = ("sessions", "resolved", "escalated", "walked_away", "handoffs", "rating_sum", "ratings",
          "rating_squares", "views")


def expected_summaries(events: list[dict]) -> dict[tuple, dict[str, int]]:
    """The summaries as docs/dashboard.md defines them, counted session by session."""
    sessions: dict[tuple, list[dict]] = defaultdict(list)
    for e in events:
        sessions[(e["device"], e["session"])].append(e)
    out: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTS, 0))
    for (device, _), evs in sessions.items():
        starts = [corrected_time(e) for e in evs if e["type"] == "session_start"]
        first = min(starts) if starts else min(corrected_time(e) for e in evs)
        day = datetime.fromtimestamp(first, UTC).date().isoformat()
        group = GROUP_OF[device]
        outcome_seen = any(e["type"] == "outcome" for e in evs)
        opened = {(e["guide"], e["guide_version"]) for e in evs if e["type"] == "step_view"}
        for guide, version in opened:
            row = out[(day, guide, version, group, "")]
            here = [e for e in evs if (e["guide"], e["guide_version"]) == (guide, version)]
            row["sessions"] += 1
            outcomes = {e["data"]["outcome"] for e in here if e["type"] == "outcome"}
            row["resolved"] += "resolved" in outcomes
            row["escalated"] += "escalate" in outcomes
            idle_steps = set() if outcome_seen else {e["step"] for e in here if e["type"] == "idle_timeout" and e["step"]}
            row["walked_away"] += bool(idle_steps)
            row["handoffs"] += any(e["type"] == "handoff_shown" for e in here)
            stars = [e["data"]["rating"] for e in here if e["type"] == "feedback" and e["data"].get("rating")]
            row["rating_sum"] += sum(stars)
            row["ratings"] += len(stars)
            row["rating_squares"] += sum(s * s for s in stars)
            escalated_at = {e["step"] for e in here if e["type"] == "outcome" and e["data"]["outcome"] == "escalate"}
            for step in {e["step"] for e in here if e["type"] == "step_view"} | idle_steps | escalated_at:
                srow = out[(day, guide, version, group, step)]
                srow["views"] += any(e["type"] == "step_view" and e["step"] == step for e in here)
                srow["walked_away"] += step in idle_steps
                srow["escalated"] += step in escalated_at
    return {k: v for k, v in out.items() if any(v.values())}


def stored_summaries(engine) -> dict[tuple, dict[str, int]]:
    cs = db.comparison_summary
    with db.read(engine) as conn:
        rows = conn.execute(sa.select(cs)).mappings().all()
    return {(r["day"], r["guide"], r["guide_version"], r["rollout_group"], r["step"]): {n: r[n] for n in COUNTS}
            for r in rows if any(r[n] for n in COUNTS)}


@pytest.fixture(scope="module")
def history():
    return generate(kiosks=3, days=6, sessions=300, seed=23)


@pytest.fixture(scope="module")
def loaded(db_url, history):
    """The history sent through ingest the way kiosks send it: in batches of 100 per kiosk, shuffled,
    one batch twice; one session of kiosk-02 held back and sent last (days late)."""
    engine = db.make_engine(db_url, pool_size=2)
    db.migrate(engine)
    groups.add_group(engine, "pilot")
    for name, group in GROUP_OF.items():
        auth.add_device(engine, name, "Hall", group)
    late = next(e["session"] for e in history.events if e["device"] == "kiosk-02")
    rng = random.Random(4)
    for device in GROUP_OF:
        mine = [e for e in history.events if e["device"] == device and e["session"] != late]
        rng.shuffle(mine)
        batches = [mine[i:i + 100] for i in range(0, len(mine), 100)]
        for batch in [*batches, batches[0]]:
            result = ingest.store_events(engine, device, batch)
            assert not result.rejected
    held_back = [e for e in history.events if e["session"] == late]
    # the late session in two halves, the second sent twice
    for part in (held_back[::2], held_back[1::2], held_back[1::2]):
        ingest.store_events(engine, "kiosk-02", part)
    yield engine
    engine.dispose()


def test_summaries_equal_an_independent_count(loaded, history):
    want = expected_summaries(history.events)
    got = stored_summaries(loaded)
    assert got == want
    # merged batch by batch == built in one pass from every raw event
    with db.write(loaded) as conn:
        summary.rebuild_comparisons(conn)
    assert stored_summaries(loaded) == want


def test_intervals_match_published_values():
    lo, hi = intervals.wilson(8, 10)
    assert (round(lo, 4), round(hi, 4)) == (0.4902, 0.9433)  # Newcombe 1998, table I
    lo, hi = intervals.newcombe(48, 80, 56, 70)  # Newcombe 1998, table II, example (a): 0.0524 to 0.3339
    assert (round(lo, 4), round(hi, 4)) == (0.0524, 0.3339)
    for p, df, t in [(0.975, 1, 12.706), (0.975, 10, 2.228), (0.975, 30, 2.042), (0.995, 5, 4.032),
                     (0.95, 120, 1.658)]:
        assert round(intervals.t_quantile(p, df), 3) == t
    assert intervals.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert intervals.sessions_needed(0.5, 0.05) == 1565  # two-sided 5%, 80% power, 50% vs 55%


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    centre = (2 * n * p + z * z) / (2 * (n + z * z))
    half = z * math.sqrt(z * z + 4 * n * p * (1 - p)) / (2 * (n + z * z))
    return centre - half, centre + half


def test_compare_cli_against_the_counts(loaded, history, db_url):
    want = expected_summaries(history.events)
    guide, (a, b) = next((g, sorted(vs)[:2]) for g, vs in _versions(want).items() if len(vs) >= 2)
    code, out, err = cli("compare", guide, str(a), str(b), "--json", "--db", db_url)
    assert code == 0, err
    got = json.loads(out)
    for arm, version in (("a", a), ("b", b)):
        rows = [v for k, v in want.items() if k[1] == guide and k[2] == version and k[4] == ""]
        n = sum(r["sessions"] for r in rows)
        assert got[arm]["sessions"] == n
        for figure in got["figures"][:3]:
            k = sum(r[figure["key"]] for r in rows)
            assert figure[arm] == pytest.approx(k / n)
            assert figure[f"{arm}_interval"] == pytest.approx(_wilson(k, n))
    # A few hundred sessions cannot show a 5-point change: every rate says so, with how many more.
    walked = next(f for f in got["figures"] if f["key"] == "walked_away")
    assert walked["verdict"] == "not enough sessions yet" and walked["more_needed"] > 0
    assert "more sessions are needed" in walked["sentence"]
    code, text, err = cli("compare", guide, str(a), str(b), "--db", db_url)
    assert code == 0 and "Walked away: not enough sessions yet" in text, err

    # the two groups over the same days
    first = min(k[0] for k in want)
    code, out, err = cli("compare", guide, "--groups", "default", "pilot", "--since", first, "--json", "--db", db_url)
    assert code == 0, err
    got = json.loads(out)
    pilot = sum(v["sessions"] for k, v in want.items() if k[1] == guide and k[3] == "pilot" and k[4] == "")
    assert got["b"]["sessions"] == pilot


def test_a_moved_kiosk_keeps_its_past_sessions_in_their_group(loaded, history):
    """(last in the module: it adds sessions)"""
    want = expected_summaries(history.events)
    groups.move_device(loaded, "kiosk-01", "pilot")
    extra = generate(kiosks=1, days=1, sessions=5, seed=99).events
    for e in extra:
        e["device"] = "kiosk-01"
    ingest.store_events(loaded, "kiosk-01", extra)
    # a late event of an old session of kiosk-01 still lands in the default group
    old_session = next(e for e in history.events if e["device"] == "kiosk-01" and e["type"] == "step_view")
    late = dict(old_session, uuid="f" * 32, type="feedback", data={"helped": True, "rating": 5, "comment": ""})
    ingest.store_events(loaded, "kiosk-01", [late])
    history.events.append(late)
    want = expected_summaries(history.events)
    history.events.pop()
    got = stored_summaries(loaded)
    assert {k: v for k, v in got.items() if k[3] == "default"} == {k: v for k, v in want.items() if k[3] == "default"}
    assert sum(v["sessions"] for k, v in got.items() if k[3] == "pilot" and k[4] == "") > \
        sum(v["sessions"] for k, v in want.items() if k[3] == "pilot" and k[4] == "")


def _versions(want):
    out = defaultdict(set)
    for day, guide, version, group, step in want:
        out[guide].add(version)
    return out


def test_clear_difference_is_called_better_or_worse():
    from server.compare import Arm, Effects, figures

    a = Arm("A", sessions=2000, resolved=1000, escalated=300, walked_away=400, handoffs=100, rating_sum=7000,
            ratings=2000, rating_squares=26000, steps={"s1": (2000, 300), "s2": (1500, 100)})
    b = Arm("B", sessions=2000, resolved=1200, escalated=300, walked_away=200, handoffs=100, rating_sum=7000,
            ratings=2000, rating_squares=26000, steps={"s1": (2000, 100), "s2": (1500, 100)})
    main, steps = figures(a, b, Effects())
    verdicts = {f.key: f.verdict for f in main}
    assert verdicts["resolved"] == "better" and verdicts["walked_away"] == "better"
    assert verdicts["escalated"] == "no clear difference"  # 2,000 a side is enough to see 5 points
    assert {f.key: f.verdict for f in steps} == {"step:s1": "better", "step:s2": "no clear difference"}
    assert "Resolved: better (60.0% against 50.0%)" in main[0].sentence


def test_one_guard_evaluator_at_a_time_and_config_check_names_bad_settings(tmp_path):
    """Two server processes, each with its alerts loop: only the one holding the evaluator's lease
    runs the guard (and the alerts round after it); when it goes, the other takes over."""
    from server_testkit import make_library

    from server import config, publish
    from server.alerts.evaluator import AlertLoop

    engine = db.make_engine(f"sqlite:///{tmp_path / 'server.db'}", pool_size=1)
    db.migrate(engine)
    publish.publish_path(engine, make_library(tmp_path / "lib"), "ops")
    groups.add_group(engine, "pilot")
    publish.publish_path(engine, make_library(tmp_path / "lib", wifi_text="Do you see AIRPORT-FREE?"), "ops",
                         to="pilot")
    cfg = config.Config(guard=True, guard_interval=15, alert_interval=60)
    first, second = AlertLoop(engine, cfg), AlertLoop(engine, cfg)
    try:
        done = first.tick()
        assert [(s.rollout_group, s.state) for s in done["guard"]] == [("pilot", "waiting")]
        assert done["round"].failed_sources == []
        assert second.tick() is None, "the other process neither guards nor evaluates"
        first.stop()  # the leader's process ends
        assert [s.state for s in second.tick()["guard"]] == ["waiting"], "the other one takes over"
    finally:
        first.stop()
        second.stop()
    engine.dispose()
    (tmp_path / "server.toml").write_text("guard_min_sessions = 5\nguard_confidence = 1.5\n"
                                          "compare_effect_points = 0.0\n")
    errors = [m for level, m in config.check(tmp_path) if level == "error"]
    assert any(m.startswith("guard_min_sessions must be at least 30") for m in errors)
    assert any(m.startswith("guard_confidence must be at least 0.5") for m in errors)
    assert any(m.startswith("compare_effect_points must be more than 0") for m in errors)

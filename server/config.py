"""Server settings, declared once in `Config`: the key in server.toml is the field's name, the type
and default are the field's, and KIOSK_SERVER_<NAME> overrides it. Every uvicorn worker process
reads them the same way (`kiosk-server serve` turns its options into those environment variables
before starting the workers); `kiosk-server config check` reads the same declaration.

A new setting is one field here (name, type, default, a comment saying what it is for), one example
value in tests/test_settings_env.py, and a line in README's "Configuration"; server.toml, the
environment variable, the check and the error messages follow from the field.
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

from pydantic import AfterValidator, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.config_files import Layer, Problem, env_layer, env_name, file_layer, is_loopback
from server.db import DEFAULT_DATA_DIR, default_url

log = logging.getLogger(__name__)

CONFIG_NAME = "server.toml"
MAX_OFFLINE_DAYS = 90  # the longest a kiosk may be offline (shared/DESIGN.md); ingest dates no event older


class ConfigError(ValueError):
    """The settings cannot be used; str() names every problem, each with its file or variable."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("the server's settings cannot be used:\n" + "\n".join(f"  - {p}" for p in problems))


def _time_zone(value: str) -> str:
    """An IANA time zone name; checked where every setting is read (server.toml, the environment)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{value}' is not an IANA time zone such as Europe/Paris or Asia/Dubai") from None
    return value


class Config(BaseSettings):
    """The server's settings. Config(...) holds just the values given; from_env() and load() layer
    server.toml, the environment and the command's options over the defaults."""

    model_config = SettingsConfigDict(env_prefix="KIOSK_SERVER_", env_ignore_empty=True, frozen=True,
                                      extra="forbid")

    data_dir: Path = Field(DEFAULT_DATA_DIR, exclude=True)  # --data-dir or KIOSK_SERVER_DATA_DIR; holds server.toml
    db: str = ""  # database URL or SQLite file; empty: server.db in the data dir
    # The address `serve` listens on (--host overrides it). The server speaks plain http: keep it on
    # loopback behind nginx with TLS (docs/deployment.md); `config check` warns of anything else.
    host: str = "127.0.0.1"
    stale_after: float = 15.0  # minutes without contact before the fleet view calls a device stale
    ingest_concurrency: int = 4  # event batches stored at once per process; more wait, then get 429
    ingest_wait: float = 2.0  # seconds a batch may wait for a slot before 429
    # When the server answers 429 it tells each kiosk a second to come back in (server/retry_slots.py):
    # a burst's returns are spread evenly over at least retry_window seconds (75: no second gets
    # more than 1/75 of them), over more when more are waiting than retry_rate a second per process
    # can take back in that time, and never over more than retry_max_wait seconds. Set retry_rate
    # near what one process stores per second (docs/deployment.md measures it); too low only makes
    # kiosks wait longer.
    retry_rate: float = 20.0
    retry_window: float = 75.0
    retry_max_wait: float = 600.0
    # Days raw events are kept (server/partitions.py); summaries and feedback are kept for ever.
    # Never fewer than a kiosk may be offline (MAX_OFFLINE_DAYS): its outbox may repeat that old a uuid.
    raw_event_days: int = 90
    traffic_flush: float = 30.0  # seconds between writes of each process's byte counts per device (server/traffic.py)

    # The largest request body the server takes, in bytes: a library upload with photos. nginx's
    # client_max_body_size in deploy/nginx-fleet.conf is the same (tests/server/test_body_limit.py).
    max_upload: int = 200 * 1024**2
    # Every other request body has a smaller limit of its own kind (server.guard.BODY_LIMITS).

    # Slow clients (server.serving), for a deployment without nginx in front: seconds a client may
    # take to send its request line and headers, seconds a request body may pause, and how many
    # connections the process keeps open (fewer if its file descriptor limit says so).
    header_timeout: float = 10.0
    body_timeout: float = 20.0
    max_connections: int = 1000

    # Phone pages (server/mobile.py). A QR link lives this many hours from when the kiosk made it (by
    # the kiosk's clock, corrected with the offset it reports; an hour of skew is forgiven).
    phone_link_hours: float = 24.0
    # Links from kiosks built before links carried their time are refused from this date (UTC,
    # YYYY-MM-DD) on; empty: still accepted (`config check` warns), so a fleet can upgrade first.
    phone_legacy_links_until: str = ""
    phone_link_limit: int = 30  # requests per signed link per 10 minutes (a page, its choices, its form)
    phone_session_limit: int = 120  # requests per phone session per 10 minutes, over all its links

    # Staff logins (server/auth.py), failures per 15 minutes. The client address is the one
    # uvicorn reports: X-Forwarded-For is believed only from trusted_proxies (nginx on loopback).
    staff_pair_limit: int = 10  # per (address, username); also per known browser
    staff_user_limit: int = 50  # per username, from browsers that never logged in as it
    staff_address_limit: int = 30  # per address over all usernames (password spraying)
    trusted_proxies: str = "127.0.0.1"  # comma-separated addresses whose X-Forwarded-For is believed

    # The studio's review (docs/studio.md): a draft is published only when a publisher who wrote
    # none of it approves it, and a library uploaded to POST /api/v1/publish becomes such a draft.
    # false: an author who is a publisher may approve their own draft, and an upload publishes.
    review_two_people: bool = True
    # Did it help? (server/compare.py): the smallest change a comparison should be able to see, for
    # "not enough sessions yet" and how many more are needed (80% power at 95% confidence):
    # percentage points for rates, stars for the average rating.
    compare_effect_points: float = 5.0
    compare_effect_stars: float = 0.25
    # The rollout guard (server/rollout_guard.py), defaults for every group; a group may set its own
    # (`kiosk-server group guard`). It decides once per staged version, when both sides have
    # guard_min_sessions sessions of the changed guides and the stage is guard_min_days days old: a
    # version worse on walk-aways or escalations with guard_confidence is rolled back for its group.
    guard: bool = False
    guard_confidence: float = 0.95
    guard_min_sessions: int = 200
    guard_min_days: float = 3.0
    guard_interval: float = 15.0  # minutes between the server's own guard runs; 0: only `guard run`
    # "Where customers need a person": minutes of staff time one escalation costs.
    staff_minutes_per_escalation: float = 6.0
    # The site's time zone (an IANA name such as Asia/Dubai): every date and time on the dashboard,
    # and the groups' opening hours, are read in it.
    time_zone: Annotated[str, AfterValidator(_time_zone)] = "UTC"
    # The address staff open the dashboard at (https://kiosks.example.org): links in alert e-mails
    # and webhooks start with it; empty: they carry the path alone.
    public_url: str = ""

    # Alerts (server/alerts/, docs/alerts.md). One server process evaluates every alert_interval
    # seconds (0: never); each threshold below is what makes an alert open.
    alert_interval: float = 60.0
    alert_disk_low_mb: float = 1024.0  # a kiosk's free disk below this many MB
    alert_outbox_events: int = 500  # events waiting on a kiosk, not yet sent
    alert_dead_panel_hours: float = 4.0  # opening hours with heartbeats but not one session
    alert_walkaway_points: float = 15.0  # a step's walk-away rate up by this many points after an edit
    alert_walkaway_views: int = 30  # ...once the new version's step has this many views
    alert_no_result_factor: float = 3.0  # no-result searches today this many times the daily average
    alert_no_result_min: int = 10  # ...and at least this many today
    alert_rating_drop: float = 0.5  # a guide's mean rating this week this much below the 4 weeks before
    alert_rating_min: int = 20  # ...with at least this many ratings this week
    # E-mail over SMTP: a relay, its port, "starttls" (587), "tls" (465) or "none" (a relay on
    # loopback), the login, and a CA file for a relay whose certificate no public CA signed.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_user: str = ""
    smtp_password: str = Field("", repr=False)  # never printed; `config check` says only whether it is set
    smtp_ca_file: str = ""
    alert_from: str = ""  # the From address
    alert_to: str = ""  # comma-separated addresses
    # A webhook that takes JSON (Slack's incoming webhooks, or your own): {"text": ..., "alert": {...}}.
    webhook_url: str = Field("", repr=False)  # its path is often the secret

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)  # server.toml and the environment are layered by load()

    @property
    def db_url(self) -> str:
        return self.db or default_url(self.data_dir)

    @property
    def stale_after_minutes(self) -> float:
        return self.stale_after

    @field_validator("raw_event_days")
    @classmethod
    def _kept_while_offline(cls, value: int) -> int:
        if value < MAX_OFFLINE_DAYS:
            raise ValueError(f"raw events must be kept at least {MAX_OFFLINE_DAYS} days, the longest a kiosk "
                             "may be offline")
        return value

    @field_validator("phone_legacy_links_until")
    @classmethod
    def _a_date(cls, value: str) -> str:
        if value:
            datetime.strptime(value, "%Y-%m-%d")  # ValueError names the format
        return value

    @property
    def zone(self):
        """time_zone as a ZoneInfo."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.time_zone)

    @property
    def alert_recipients(self) -> list[str]:
        return [a.strip() for a in self.alert_to.split(",") if a.strip()]

    @property
    def legacy_links_end(self) -> float | None:
        """phone_legacy_links_until as unix seconds (its midnight, UTC); None when unset."""
        if not self.phone_legacy_links_until:
            return None
        return datetime.strptime(self.phone_legacy_links_until, "%Y-%m-%d").replace(tzinfo=UTC).timestamp()

    @classmethod
    def from_env(cls) -> Config:
        """What a worker process runs with: server.toml in $KIOSK_SERVER_DATA_DIR, then the
        environment. Raises ConfigError when a value cannot be used."""
        return load()


def data_dir_from(arg: Path | None) -> Path:
    return Path(arg or os.environ.get(env_name(Config, "data_dir")) or DEFAULT_DATA_DIR)


def worker_env(**values: object) -> dict[str, str]:
    """The KIOSK_SERVER_* variables that hand these settings (a command's options; None: not
    given) to uvicorn's worker processes, which read them with from_env()."""
    if unknown := set(values) - set(Config.model_fields):
        raise TypeError(f"not server settings: {', '.join(sorted(unknown))}")
    return {env_name(Config, key): str(value) for key, value in values.items() if value is not None}


def read_layers(data_dir: Path, *, strict: bool = False) -> tuple[Path, Layer, Layer]:
    """server.toml's path, what it sets and what the environment overrides. strict is `config
    check`'s reading: each value must already have its type in TOML."""
    path = data_dir / CONFIG_NAME
    return path, file_layer(Config, path, strict=strict), env_layer(Config)


def load(data_dir: Path | None = None, **options: object) -> Config:
    """defaults < server.toml < KIOSK_SERVER_* < options (a command's --db and the like; None means
    not given). Raises ConfigError naming every value that cannot be used. An unknown key, or a
    server.toml that cannot be read, is logged and the rest serves, as before (`kiosk-server config
    check` names them)."""
    data_dir = data_dir_from(data_dir)
    _, file, env = read_layers(data_dir)
    problems = file.problems + env.problems
    for problem in problems:
        if problem.key not in Config.model_fields:
            log.warning("%s", problem)
    if unusable := [problem for problem in problems if problem.key in Config.model_fields]:
        raise ConfigError(unusable)
    given = {key: value for key, value in options.items() if value is not None}
    return Config(**{**file.values, **env.values, **given}, data_dir=data_dir)


def plain_http_warning(host: str) -> str | None:
    """The warning for serving plain http on `host`, None on loopback."""
    if is_loopback(host):
        return None
    return (f"the server listens on {host} with plain http: device tokens and staff passwords would cross the "
            "network in clear; listen on 127.0.0.1 behind nginx with TLS (docs/deployment.md), or set host "
            "back to 127.0.0.1")


def check(data_dir: Path) -> list[tuple[str, str]]:
    """Everything wrong or risky in the server's configuration, as (level, plain sentence)."""
    import sqlalchemy as sa

    from server import db

    path, file, env = read_layers(data_dir, strict=True)
    if file.unreadable:
        return [("error", str(file.unreadable))]  # not TOML at all, or unreadable
    out: list[tuple[str, str]] = [("error", str(problem)) for problem in file.problems + env.problems]
    for key in env.raw:
        if key in file.raw:
            out.append(("warning", f"environment variable {env_name(Config, key)} overrides '{key}' from {path}"))
    _, usable, _ = read_layers(data_dir)
    cfg = Config(**{**usable.values, **env.values}, data_dir=data_dir)
    if cfg.stale_after <= 0:
        out.append(("error", "stale_after must be more than 0 minutes"))
    if cfg.ingest_concurrency < 1:
        out.append(("error", "ingest_concurrency must be at least 1"))
    if cfg.retry_rate <= 0:
        out.append(("error", "retry_rate must be more than 0 returns a second"))
    if cfg.retry_window < 1 or cfg.retry_max_wait < cfg.retry_window:
        out.append(("error", "retry_window must be at least 1 second and retry_max_wait at least retry_window"))
    if warning := plain_http_warning(cfg.host):
        out.append(("warning", warning))
    if cfg.header_timeout <= 0 or cfg.body_timeout <= 0:
        out.append(("error", "header_timeout and body_timeout must be more than 0 seconds"))
    if cfg.max_connections < 16:
        out.append(("error", "max_connections must be at least 16"))
    for name in ("phone_link_limit", "phone_session_limit", "staff_pair_limit", "staff_user_limit",
                 "staff_address_limit"):
        if getattr(cfg, name) < 1:
            out.append(("error", f"{name} must be at least 1"))
    if cfg.compare_effect_points <= 0 or cfg.compare_effect_points >= 50:
        out.append(("error", "compare_effect_points must be more than 0 and less than 50 percentage points"))
    if cfg.compare_effect_stars <= 0 or cfg.compare_effect_stars > 4:
        out.append(("error", "compare_effect_stars must be more than 0 and at most 4 stars"))
    if not 0.5 <= cfg.guard_confidence < 1:
        out.append(("error", "guard_confidence must be at least 0.5 and less than 1 (0.95 is 95%)"))
    if cfg.guard_min_sessions < 30:
        out.append(("error", "guard_min_sessions must be at least 30: fewer sessions decide on noise"))
    if cfg.guard_min_days < 1:
        out.append(("error", "guard_min_days must be at least 1 day (3 covers weekday and weekend traffic)"))
    if cfg.guard_interval < 0:
        out.append(("error", "guard_interval must be 0 (off) or more minutes"))
    if cfg.staff_minutes_per_escalation < 0:
        out.append(("error", "staff_minutes_per_escalation must be 0 or more minutes"))
    if cfg.phone_link_hours <= 0:
        out.append(("error", "phone_link_hours must be more than 0"))
    if not cfg.phone_legacy_links_until:
        out.append(("warning", ("phone_legacy_links_until is not set: QR links from kiosks that do not yet stamp "
                                "their links with a time never expire; set a date once the fleet is upgraded")))
    out.extend(_alert_problems(cfg))
    key_file = data_dir / "server_key.pem"
    if not key_file.exists():
        out.append(("warning", (f"no signing key yet in {data_dir}: `kiosk-server key` makes one; every "
                                "server process behind a load balancer needs the same file")))
    elif key_file.stat().st_mode & 0o077:
        out.append(("error", f"{key_file} can be read by other users; chmod 600 it"))
    sqlite_file = db.normalize_url(cfg.db_url).removeprefix("sqlite:///")
    if db.normalize_url(cfg.db_url).startswith("sqlite") and not Path(sqlite_file).exists():
        out.append(("warning", f"the database {sqlite_file} does not exist yet; `kiosk-server serve` creates it"))
        return out
    try:
        engine = db.make_engine(cfg.db_url, pool_size=1)
        with engine.connect() as conn:
            version = db.current_version(conn)
            staff = conn.execute(sa.select(sa.func.count()).select_from(db.metadata.tables["staff"])).scalar() \
                if version else 0
        engine.dispose()
        if version < db.SCHEMA_VERSION:
            out.append(("warning", (f"the database schema is at version {version}; it migrates to "
                                    f"{db.SCHEMA_VERSION} when the server next starts")))
        if version and not staff:
            out.append(("warning", "no staff login exists: add one with `kiosk-server staff add NAME`"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect is reported, not raised
        out.append(("error", (f"cannot open the database {db.normalize_url(cfg.db_url).split('@')[-1]}: "
                              f"{str(exc).splitlines()[0]}")))
    return out


def _alert_problems(cfg: Config) -> list[tuple[str, str]]:
    """The alerts' thresholds and channels (server/alerts/). The password is never part of a message."""
    out: list[tuple[str, str]] = []
    if cfg.alert_interval < 0:
        out.append(("error", "alert_interval must be 0 (alerts off) or more seconds"))
    elif 0 < cfg.alert_interval < 5:
        out.append(("warning", f"alert_interval {cfg.alert_interval:g} s evaluates every alert very often; 60 is usual"))
    for name in ("alert_disk_low_mb", "alert_dead_panel_hours", "alert_walkaway_points", "alert_rating_drop"):
        if getattr(cfg, name) <= 0:
            out.append(("error", f"{name} must be more than 0"))
    for name in ("alert_outbox_events", "alert_walkaway_views", "alert_no_result_min", "alert_rating_min"):
        if getattr(cfg, name) < 1:
            out.append(("error", f"{name} must be at least 1"))
    if cfg.alert_no_result_factor <= 1:
        out.append(("error", "alert_no_result_factor must be more than 1 (times the daily average)"))
    if cfg.smtp_security not in ("starttls", "tls", "none"):
        out.append(("error", f"smtp_security '{cfg.smtp_security}' must be starttls, tls or none"))
    if cfg.smtp_host:
        if not cfg.alert_from or not cfg.alert_recipients:
            out.append(("error", "smtp_host is set but alert_from or alert_to is empty: no alert e-mail can be sent"))
        if cfg.smtp_security == "none" and not is_loopback(cfg.smtp_host):
            out.append(("warning", (f"smtp_security is none for {cfg.smtp_host}: the login and the alerts cross "
                                    "the network in clear; use starttls or tls")))
        if bool(cfg.smtp_user) != bool(cfg.smtp_password):
            out.append(("error", "smtp_user and smtp_password go together: set both or neither"))
        if cfg.smtp_ca_file and not Path(cfg.smtp_ca_file).is_file():
            out.append(("error", f"smtp_ca_file {cfg.smtp_ca_file} is not a file"))
    elif cfg.alert_recipients:
        out.append(("warning", "alert_to is set but smtp_host is empty: no alert e-mail is sent"))
    if cfg.webhook_url and not cfg.webhook_url.startswith(("https://", "http://")):
        out.append(("error", "webhook_url must start with https:// (or http:// on loopback)"))
    elif cfg.webhook_url.startswith("http://") and not is_loopback(_host_of(cfg.webhook_url)):
        out.append(("warning", "webhook_url uses plain http beyond loopback: the alerts cross the network in clear"))
    if cfg.public_url and not cfg.public_url.startswith(("https://", "http://")):
        out.append(("error", "public_url must start with https:// or http://"))
    if cfg.alert_interval and not cfg.smtp_host and not cfg.webhook_url:
        out.append(("warning", ("no alert channel is configured (smtp_host, webhook_url): alerts show only on "
                                "the dashboard's Alerts page")))
    return out


def _host_of(url: str) -> str:
    from urllib.parse import urlsplit

    return urlsplit(url).hostname or ""

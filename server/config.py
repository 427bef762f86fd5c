"""Server settings, read from the environment so every uvicorn worker process gets the same ones
(`kiosk-server serve` turns its options into these variables before starting the workers)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from server.db import DEFAULT_DATA_DIR, default_url


@dataclass(frozen=True)
class Config:
    data_dir: Path
    db_url: str
    stale_after_minutes: float = 15.0
    ingest_concurrency: int = 4  # event batches stored at once per process; more wait, then get 429
    ingest_wait: float = 2.0  # seconds a batch may wait for a slot before 429
    max_body: int = 5_000_000
    # The largest request body the server takes (a library upload with photos); nginx's
    # client_max_body_size in deploy/nginx-fleet.conf is the same (tests/server/test_body_limit.py).
    max_upload: int = 200 * 1024**2

    @classmethod
    def from_env(cls) -> Config:
        data_dir = Path(os.environ.get("KIOSK_SERVER_DATA_DIR") or DEFAULT_DATA_DIR)
        return cls(
            data_dir=data_dir,
            db_url=os.environ.get("KIOSK_SERVER_DB") or default_url(data_dir),
            stale_after_minutes=float(os.environ.get("KIOSK_SERVER_STALE_AFTER", "15")),
            ingest_concurrency=int(os.environ.get("KIOSK_SERVER_INGEST_CONCURRENCY", "4")),
            ingest_wait=float(os.environ.get("KIOSK_SERVER_INGEST_WAIT", "2.0")),
            max_upload=int(os.environ.get("KIOSK_SERVER_MAX_UPLOAD", str(cls.max_upload))),
        )


# --- the server's config file ------------------------------------------------------------------
# <data dir>/server.toml holds what an operator sets once; environment variables override it, and
# `serve`'s options override both. Each key maps to the environment variable the workers read.

CONFIG_NAME = "server.toml"
FILE_KEYS: dict[str, tuple[str, type]] = {
    "db": ("KIOSK_SERVER_DB", str),
    "stale_after": ("KIOSK_SERVER_STALE_AFTER", float),
    "ingest_concurrency": ("KIOSK_SERVER_INGEST_CONCURRENCY", int),
    "ingest_wait": ("KIOSK_SERVER_INGEST_WAIT", float),
    "max_upload": ("KIOSK_SERVER_MAX_UPLOAD", int),
}


def data_dir_from(arg: Path | None) -> Path:
    return Path(arg or os.environ.get("KIOSK_SERVER_DATA_DIR") or DEFAULT_DATA_DIR)


def read_file(data_dir: Path) -> dict:
    import tomllib

    path = data_dir / CONFIG_NAME
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def apply_file(data_dir: Path) -> None:
    """Fill in environment variables from server.toml where the environment does not set them."""
    try:
        values = read_file(data_dir)
    except (OSError, ValueError):
        return  # `kiosk-server config check` says what is wrong; the defaults still serve
    for key, value in values.items():
        if key in FILE_KEYS:
            env, _ = FILE_KEYS[key]
            os.environ.setdefault(env, str(value))


def check(data_dir: Path) -> list[tuple[str, str]]:
    """Everything wrong or risky in the server's configuration, as (level, plain sentence)."""
    import difflib
    import tomllib

    import sqlalchemy as sa

    from server import db

    out: list[tuple[str, str]] = []
    path = data_dir / CONFIG_NAME
    try:
        values = read_file(data_dir)
    except tomllib.TOMLDecodeError as exc:
        return [("error", f"{path} is not valid TOML: {exc}")]
    for key, value in values.items():
        if key not in FILE_KEYS:
            close = difflib.get_close_matches(key, list(FILE_KEYS), n=1)
            out.append(("error", f"unknown setting '{key}' in {path}" + (f" (did you mean '{close[0]}'?)" if close else "")))
            continue
        want = FILE_KEYS[key][1]
        if not isinstance(value, want) and not (want is float and isinstance(value, int)):
            out.append(("error", f"'{key}' in {path} should be {'text' if want is str else 'a number'}, not {value!r}"))
    os.environ["KIOSK_SERVER_DATA_DIR"] = str(data_dir)
    apply_file(data_dir)
    try:
        cfg = Config.from_env()
    except ValueError as exc:
        return out + [("error", f"a setting is not a number: {exc}")]
    if cfg.stale_after_minutes <= 0:
        out.append(("error", "stale_after must be more than 0 minutes"))
    if cfg.ingest_concurrency < 1:
        out.append(("error", "ingest_concurrency must be at least 1"))
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

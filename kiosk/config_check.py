"""`kiosk config check`: read kiosk.toml the way an operator wrote it and say, in plain words,
everything that is wrong or risky. load_settings() is forgiving so a kiosk always starts; this is
the strict reading an operator runs after editing the file."""

from __future__ import annotations

import base64
import difflib
import os
import shutil
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contract.guides import LANGUAGE
from kiosk.settings import CONFIG_NAME, Settings, default_data_dir

LOW_DISK_BYTES = 200_000_000


@dataclass(frozen=True)
class Finding:
    level: str  # "error" stops the kiosk from doing its job; "warning" is worth fixing
    message: str

    def __str__(self) -> str:
        return f"{self.level.upper()}: {self.message}"


def _url_ok(url: str) -> bool:
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _types() -> dict[str, type]:
    example = Settings()
    return {f.name: type(getattr(example, f.name)) for f in fields(Settings)}


def check_config(data_dir: str | Path | None = None) -> list[Finding]:
    data = Path(data_dir) if data_dir else default_data_dir()
    path = data / CONFIG_NAME
    out: list[Finding] = []

    def err(message: str) -> None:
        out.append(Finding("error", message))

    def warn(message: str) -> None:
        out.append(Finding("warning", message))

    if not path.exists():
        return [Finding("error", f"{path} does not exist; `kiosk run` or `kiosk status` creates one with defaults")]
    try:
        with path.open("rb") as fh:
            raw: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        return [Finding("error", f"{path} is not valid TOML: {exc}")]
    types = _types()
    for key, value in raw.items():
        if key not in types or key == "data_dir":
            close = difflib.get_close_matches(key, list(types), n=1)
            err(f"unknown setting '{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            continue
        want = types[key]
        ok = isinstance(value, want) or (want is float and isinstance(value, int) and not isinstance(value, bool))
        if not ok:
            kind = {"float": "a number", "int": "a whole number", "bool": "true or false",
                    "str": "text in quotes", "list": "a list like [\"en\", \"es\"]"}[want.__name__]
            err(f"'{key}' should be {kind}, not {value!r}")
    # env overrides apply on top, as they will when the kiosk runs
    for key in types:
        if os.environ.get(f"KIOSK_{key.upper()}") is not None and key != "data_dir":
            warn(f"environment variable KIOSK_{key.upper()} overrides '{key}' from the file")
    try:
        from kiosk.settings import load_settings

        s = load_settings(data, create=False)
    except (TypeError, ValueError) as exc:
        err(f"the settings cannot be used: {exc}")
        return out
    if s.server_url:
        if not _url_ok(s.server_url):
            err(f"server_url '{s.server_url}' is not an http:// or https:// address")
        if not s.token:
            err("server_url is set but token is empty: add the token printed by `kiosk-server device add`")
        if not s.server_key:
            err("server_key is empty: pin the server's key (run `kiosk-server key` on the server) so the "
                "kiosk accepts content only from it")
    else:
        warn("no server_url: this kiosk runs offline only; content comes from `kiosk import`")
    if s.server_key:
        try:
            if len(base64.b64decode(s.server_key, validate=True)) != 32:
                raise ValueError
        except ValueError:
            err("server_key is not an Ed25519 public key (44 characters of base64, from `kiosk-server key`)")
    if s.public_url and not _url_ok(s.public_url):
        err(f"public_url '{s.public_url}' is not an http:// or https:// address that phones can open")
    if not s.device:
        err("device is empty: name this kiosk as it was added on the server")
    bad = [lang for lang in s.languages if not isinstance(lang, str) or not LANGUAGE.match(lang)]
    if bad:
        err(f"languages has codes that are not language codes: {', '.join(map(str, bad))}")
    if s.default_language not in s.languages:
        err(f"default_language '{s.default_language}' is not among languages ({', '.join(s.languages)})")
    if not 10 <= s.idle_timeout <= 600:
        err(f"idle_timeout is {s.idle_timeout:g} s; use 10 to 600 seconds (45 is the default)")
    if not 3 <= s.idle_countdown <= 120:
        err(f"idle_countdown is {s.idle_countdown:g} s; use 3 to 120 seconds")
    if s.sync_interval <= 0:
        err("sync_interval must be more than 0 minutes")
    if s.outbox_limit < 1000:
        err("outbox_limit below 1000 events would drop usage data after a short time offline")
    if not s.staff_pin_hash:
        warn("staff_pin_hash is empty, so the default staff PIN 1234 opens staff mode; "
             "set one with `kiosk config set-pin`")
    elif not s.staff_pin_hash.startswith("scrypt$") or s.staff_pin_hash.count("$") != 2:
        err("staff_pin_hash is not a PIN hash; set it with `kiosk config set-pin`, never the PIN itself")
    if data.exists():
        if not os.access(data, os.W_OK):
            err(f"the data dir {data} is not writable by this user")
        elif shutil.disk_usage(data).free < LOW_DISK_BYTES:
            warn(f"only {shutil.disk_usage(data).free / 1e6:.0f} MB free in {data}")
    return out

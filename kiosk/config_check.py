"""`kiosk config check`: read kiosk.toml the way an operator wrote it and say, in plain words,
everything that is wrong or risky. The commands refuse a file they cannot use at all
(load_command_settings); this is the strict reading an operator runs after editing the file, and it
lists every problem, the risky ones too."""

from __future__ import annotations

import base64
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import tomli_w

from contract.brand import brand_problems, read_logo
from contract.config_files import default, env_name, plain_http_beyond_loopback
from contract.guides import LANGUAGE
from contract.images import ImageRefused
from kiosk.keymap import ACTIONS, map_problems, setting_name
from kiosk.settings import Settings, load_with_problems, read_layers
from offline_cache.errors import StoreError
from offline_cache.health import check_database

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


def check_config(data_dir: str | Path | None = None) -> list[Finding]:
    path, file, env = read_layers(data_dir, strict=True)
    data = path.parent
    out: list[Finding] = []

    def err(message: str) -> None:
        out.append(Finding("error", message))

    def warn(message: str) -> None:
        out.append(Finding("warning", message))

    if not path.exists():
        return [Finding("error", f"{path} does not exist; `kiosk run` or `kiosk status` creates one with defaults")]
    if file.unreadable:
        return [Finding("error", str(file.unreadable))]  # not TOML at all, or unreadable
    for problem in file.problems + env.problems:
        err(str(problem))
    # env overrides apply on top, as they will when the kiosk runs
    for key in env.raw:
        warn(f"environment variable {env_name(Settings, key)} overrides '{key}' from the file")
    s, _ = load_with_problems(data, create=False)  # what the kiosk will use; the problems are above
    if s.server_url:
        if not _url_ok(s.server_url):
            err(f"server_url '{s.server_url}' is not an http:// or https:// address")
        if not s.token:
            err("server_url is set but token is empty: add the token printed by `kiosk-server device add`")
        if plain_http_beyond_loopback(s.server_url):
            warn(f"server_url '{s.server_url}' is plain http to another machine: the device token and every "
                 "event cross the network in clear, readable by anyone on it; use the server's https:// "
                 "address (docs/deployment.md puts nginx with TLS in front)")
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
        err(f"idle_timeout is {s.idle_timeout:g} s; use 10 to 600 seconds "
            f"({default(Settings, 'idle_timeout'):g} is the default)")
    if not 3 <= s.idle_countdown <= 120:
        err(f"idle_countdown is {s.idle_countdown:g} s; use 3 to 120 seconds")
    elif s.idle_countdown < 20:
        warn(f"idle_countdown is {s.idle_countdown:g} s; WCAG 2.2.1 gives a traveller at least 20 seconds to "
             "ask for more time")
    if not s.idle_timeout <= s.idle_timeout_assisted <= 1800:
        err(f"idle_timeout_assisted is {s.idle_timeout_assisted:g} s; in audio mode and with large text "
            f"travellers need at least idle_timeout ({s.idle_timeout:g} s), and at most 1800 seconds "
            f"({default(Settings, 'idle_timeout_assisted'):g} is the default)")
    for problem in map_problems({a: getattr(s, setting_name(a)) for a in ACTIONS}):
        err(f"audio mode keys: {problem}")
    if not 1 <= s.speech_volume <= 10:
        err(f"speech_volume is {s.speech_volume}; use 1 to 10 ({default(Settings, 'speech_volume')} is the default)")
    if not 80 <= s.speech_rate <= 450:
        err(f"speech_rate is {s.speech_rate} words per minute; use 80 to 450 "
            f"({default(Settings, 'speech_rate')} is the default)")
    if not shutil.which("espeak-ng"):
        warn("espeak-ng is not installed (apt install espeak-ng): the kiosk cannot speak, so blind travellers "
             "cannot use audio mode")
    if not 2 <= s.thanks_timeout <= 60:
        err(f"thanks_timeout is {s.thanks_timeout:g} s; use 2 to 60 seconds "
            f"({default(Settings, 'thanks_timeout'):g} is the default)")
    if not 7 <= s.panel_diagonal_in <= 100:
        err(f"panel_diagonal_in is {s.panel_diagonal_in:g}; give the panel's visible diagonal in inches, "
            f"7 to 100 ({default(Settings, 'panel_diagonal_in'):g} is the default)")
    if not 0 <= s.panel_bottom_mm <= 2000:
        err(f"panel_bottom_mm is {s.panel_bottom_mm:g}; give the height of the panel's lower edge above the "
            f"floor in millimetres, 0 to 2000 ({default(Settings, 'panel_bottom_mm'):g} is the default)")
    for problem in brand_problems(s.brand()):
        err(problem)
    if s.logo_path is not None:
        try:
            read_logo(s.logo_path)
        except ImageRefused as exc:
            err(str(exc))
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
        try:
            damage = check_database(s.db_path)
        except StoreError as exc:
            err(str(exc))
        else:
            if damage:
                err(f"the kiosk's database {s.db_path} is damaged ({damage}); the next `kiosk run` or "
                    "`kiosk status` moves it aside and rebuilds it, keeping the events it can still read")
    return out


def show_config(data_dir: str | Path | None = None) -> str:
    """`kiosk config show`: every setting as the kiosk uses it, in kiosk.toml's format; a value the
    environment overrides says so, and what the file holds, in a comment. A new data dir gets its
    kiosk.toml first, as `kiosk run` would make it."""
    settings, _ = load_with_problems(data_dir)
    path, file, env = read_layers(data_dir)
    lines = [f"# {path}" + (", with the environment's overrides" if env.values else "")]
    for key, value in settings.to_toml().items():
        line = tomli_w.dumps({key: value}).strip()
        if key in env.values:
            held = f"kiosk.toml has {tomli_w.dumps({key: file.values[key]}).split(' = ', 1)[1].strip()}" \
                if key in file.values else "not set in kiosk.toml"
            line += f"  # from {env_name(Settings, key)}; {held}"
        lines.append(line)
    return "\n".join(lines) + "\n"

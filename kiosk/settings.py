"""The kiosk's settings: one TOML file in the data dir, with KIOSK_* environment overrides.

Everything an operator sets per kiosk lives here (see README, "Configuration"). A new data dir
gets a kiosk.toml with a fresh device name and the documented defaults, so `kiosk run` works on a
machine nobody has configured yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import socket
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import tomli_w

from contract.languages import CODES

log = logging.getLogger(__name__)

CONFIG_NAME = "kiosk.toml"
DEFAULT_PIN = "1234"


def default_data_dir() -> Path:
    env = os.environ.get("KIOSK_DATA_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "guide-kiosk"


def hash_pin(pin: str, salt: bytes | None = None) -> str:
    """scrypt, so a copied config file does not give the staff PIN away."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


def check_pin(pin: str, stored: str) -> bool:
    try:
        scheme, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(pin.encode(), salt=base64.b64decode(salt), n=2**14, r=8, p=1, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@dataclass
class Settings:
    device: str = ""
    site: str = ""
    server_url: str = ""  # where sync goes, e.g. https://kiosk.example.org
    token: str = ""  # this device's token from `kiosk-server device add`
    server_key: str = ""  # the server's Ed25519 public key (base64), pinned
    public_url: str = ""  # the server's address as phones see it, for QR codes; default server_url
    languages: list[str] = field(default_factory=lambda: list(CODES))
    default_language: str = "en"
    idle_timeout: float = 45.0  # seconds without a touch before "Are you still there?"
    idle_countdown: float = 15.0  # seconds the overlay counts down before the session ends
    staff_pin_hash: str = ""
    sync_interval: float = 5.0  # minutes between sync rounds
    outbox_limit: int = 200_000
    fullscreen: bool = True
    data_dir: str = ""

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    @property
    def db_path(self) -> Path:
        return self.data_path / "kiosk.db"

    @property
    def log_dir(self) -> Path:
        return self.data_path / "logs"

    @property
    def handoff_base(self) -> str:
        return self.public_url or self.server_url or "http://127.0.0.1:8000"

    def check_staff_pin(self, pin: str) -> bool:
        return check_pin(pin, self.staff_pin_hash or hash_pin(DEFAULT_PIN, b"default-pin-salt"))

    def to_toml(self) -> dict[str, Any]:
        doc = asdict(self)
        doc.pop("data_dir")
        return doc

    def save(self) -> Path:
        path = self.data_path / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(self.to_toml()))
        os.replace(tmp, path)  # never a half-written config after a power cut
        return path


def _coerce(name: str, kind: Any, raw: str) -> Any:
    if kind in ("bool", bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if kind in ("float", float):
        return float(raw)
    if kind in ("int", int):
        return int(raw)
    if kind in ("list[str]",) or name == "languages":
        return [x.strip() for x in raw.split(",") if x.strip()]
    return raw


def load_settings(data_dir: str | Path | None = None, create: bool = True) -> Settings:
    """Read <data dir>/kiosk.toml (creating it on first start), then apply KIOSK_* overrides."""
    data = Path(data_dir) if data_dir else default_data_dir()
    path = data / CONFIG_NAME
    values: dict[str, Any] = {}
    if path.exists():
        with path.open("rb") as fh:
            values = tomllib.load(fh)
    known = {f.name: f.type for f in fields(Settings)}
    defaults = Settings()
    accepted = {}
    for key, value in values.items():
        if key not in known or key == "data_dir":
            continue  # `kiosk config check` names unknown keys; the kiosk still starts
        want = type(getattr(defaults, key))
        try:
            accepted[key] = value if isinstance(value, want) else _coerce(key, want, str(value))
        except ValueError:
            log.warning("ignoring %s = %r in %s: not a %s", key, value, path, want.__name__)
    settings = Settings(**accepted)
    settings.data_dir = str(data)
    if not path.exists() and create:
        host = socket.gethostname().split(".")[0].lower() or "kiosk"
        settings.device = settings.device or f"{host}-{secrets.token_hex(3)}"
        settings.save()
    for name, kind in known.items():
        env = os.environ.get(f"KIOSK_{name.upper()}")
        if env is not None and name != "data_dir":
            setattr(settings, name, _coerce(name, kind, env))
    return settings

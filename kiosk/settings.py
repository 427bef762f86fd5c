"""The kiosk's settings: one TOML file in the data dir, with KIOSK_* environment overrides.

Everything an operator sets per kiosk lives here (see README, "Configuration"), declared once in
`Settings`: the key in kiosk.toml is the field's name, the type and default are the field's, and
KIOSK_<NAME> overrides it. load_settings(), `kiosk config check` and `kiosk config show` all read that
one declaration (through contract/config_files.py, which the server's config uses the same way).
A new data dir gets a kiosk.toml with a fresh device name and the documented defaults, so `kiosk run`
works on a machine nobody has configured yet.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import secrets
import socket
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import tomli_w
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from contract.brand import BRAND_ROLES
from contract.config_files import Layer, Problem, env_layer, env_name, file_layer, write_private
from contract.guides import LANGUAGE
from contract.languages import CODES
from kiosk.keymap import DEFAULT_KEYS

log = logging.getLogger(__name__)

CONFIG_NAME = "kiosk.toml"
DEFAULT_PIN = "1234"


def default_data_dir() -> Path:
    env = os.environ.get(env_name(Settings, "data_dir"))
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


@lru_cache(maxsize=8)
def _is_default_pin(stored: str) -> bool:
    return not stored or check_pin(DEFAULT_PIN, stored)


def valid_new_pin(pin: str) -> str | None:
    """Why `pin` cannot be the staff PIN, in words for staff; None when it can."""
    if not (pin.isascii() and pin.isdigit()) or not 4 <= len(pin) <= 12:
        return "A staff PIN is 4 to 12 digits."
    if pin == DEFAULT_PIN:
        return f"Choose a PIN other than the factory PIN {DEFAULT_PIN}."
    return None


def save_staff_pin(data_dir: str | Path, pin: str) -> tuple[Path, str]:
    """Hash `pin` and save it in <data dir>/kiosk.toml with what the file already holds (never
    the KIOSK_* overrides): `kiosk config set-pin` and staff mode's new-PIN screen both call this.
    Returns the file and the stored hash. A kiosk.toml it cannot use raises SettingsInvalid rather
    than being written over with defaults (which would lose the token and device name)."""
    settings = load_command_settings(data_dir, environment=False)
    settings.staff_pin_hash = hash_pin(pin)
    return settings.save(), settings.staff_pin_hash


class Settings(BaseSettings):
    """One kiosk's settings. Settings(device=...) holds just the values given (on top of the
    defaults); load_settings() layers kiosk.toml and then the KIOSK_* environment over them."""

    model_config = SettingsConfigDict(env_prefix="KIOSK_", extra="forbid")

    device: str = ""
    site: str = ""
    server_url: str = ""  # where sync goes, e.g. https://kiosk.example.org
    token: str = ""  # this device's token from `kiosk-server device add`
    server_key: str = ""  # the server's Ed25519 public key (base64), pinned
    public_url: str = ""  # the server's address as phones see it, for QR codes; default server_url
    languages: list[str] = Field(default_factory=lambda: list(CODES), examples=[["en", "es"]])
    default_language: str = "en"
    idle_timeout: float = 45.0  # seconds without a touch before "Are you still there?"
    idle_countdown: float = 20.0  # seconds the overlay counts down before the session ends (WCAG 2.2.1: >= 20)
    # in audio mode or with large text, people take longer (WCAG 2.2.1): the idle_timeout then
    idle_timeout_assisted: float = 120.0
    thanks_timeout: float = 8.0  # seconds the thanks screen shows before the session ends
    # a guide not written in the customer's language: shown in its own language with a language
    # tag ("mark"), or left out of the lists ("hide")
    untranslated: Literal["mark", "hide"] = "mark"
    staff_pin_hash: str = ""
    sync_interval: float = 5.0  # minutes between sync rounds
    outbox_limit: int = 200_000
    fullscreen: bool = True
    # the panel's physical size and height, so the UI lays out in millimetres (screens/theme.py)
    panel_diagonal_in: float = 23.8  # the visible diagonal in inches
    panel_bottom_mm: float = 700.0  # height of the panel's lower edge above the floor
    # the site's brand (contract/brand.py): colours as #RRGGBB that pass the contrast rules
    # (`kiosk config check` refuses others), and a PNG logo for the attract screen; "" for none
    brand_primary: str = Field("", examples=["#00529B"])  # the strong buttons' fill
    brand_accent: str = Field("", examples=["#00529B"])  # every control's frame
    brand_logo: str = Field("", examples=["/etc/guide-kiosk/logo.png"])  # a path, relative to the data dir or absolute
    # Audio mode (docs/accessibility.md): the keys of each action (kiosk/keymap.py) and the voice.
    keys_next: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["next"]), examples=[["tab", "down"]])
    keys_previous: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["previous"]),
                                     examples=[["shift+tab", "up"]])
    keys_activate: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["activate"]), examples=[["enter"]])
    keys_back: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["back"]), examples=[["backspace"]])
    keys_help: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["help"]), examples=[["f1"]])
    keys_volume_up: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["volume_up"]), examples=[["f10"]])
    keys_volume_down: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["volume_down"]),
                                        examples=[["f9"]])
    keys_repeat: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["repeat"]), examples=[["f2"]])
    keys_pause: list[str] = Field(default_factory=lambda: list(DEFAULT_KEYS["pause"]), examples=[["f3"]])
    speech_volume: int = 7  # 1 to 10, where each traveller starts
    speech_rate: int = 165  # words per minute (espeak-ng's -s)
    data_dir: str = Field("", exclude=True)  # --data-dir or KIOSK_DATA_DIR; never in kiosk.toml

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **_sources):
        return (init_settings,)  # the file and the environment are layered by load_settings()

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir) if self.data_dir else default_data_dir()

    def brand(self) -> dict[str, str]:
        """The brand colours set ({setting: #RRGGBB}; contract/brand.py judges them)."""
        return {name: getattr(self, name) for name in BRAND_ROLES if getattr(self, name)}

    @property
    def logo_path(self) -> Path | None:
        """brand_logo as a path (relative ones are in the data dir), None when unset."""
        if not self.brand_logo:
            return None
        path = Path(self.brand_logo).expanduser()
        return path if path.is_absolute() else self.data_path / path

    @property
    def db_path(self) -> Path:
        return self.data_path / "kiosk.db"

    @property
    def log_dir(self) -> Path:
        return self.data_path / "logs"

    def check_staff_pin(self, pin: str) -> bool:
        return check_pin(pin, self.staff_pin_hash or hash_pin(DEFAULT_PIN, b"default-pin-salt"))

    @property
    def uses_default_pin(self) -> bool:
        """No PIN set, or one set to the factory PIN (checked once per stored hash: scrypt is slow)."""
        return _is_default_pin(self.staff_pin_hash)

    def to_toml(self) -> dict[str, Any]:
        return self.model_dump()  # every field but data_dir, in declaration order

    def save(self) -> Path:
        """Write kiosk.toml: 0600 (it holds the device token and the PIN hash) and atomically."""
        path = self.data_path / CONFIG_NAME
        path.parent.mkdir(parents=True, exist_ok=True)
        write_private(path, tomli_w.dumps(self.to_toml()).encode())
        return path


class SettingsInvalid(Exception):
    """kiosk.toml cannot be used as written. str() is one paragraph naming the file, every problem
    and what to do; `kiosk` prints it and exits 2."""

    def __init__(self, path: Path, problems: list[Problem]):
        self.path, self.problems = path, problems
        said = "; ".join(str(p) for p in problems)
        super().__init__(f"The kiosk's settings file {path} cannot be used: {said}. Nothing was done: fix "
                         "the file and try again (`kiosk config check` lists every problem).")


def read_layers(data_dir: str | Path | None = None, *, strict: bool = False) -> tuple[Path, Layer, Layer]:
    """kiosk.toml's path in the data dir, what the file sets and what the environment overrides.
    strict is `kiosk config check`'s reading: a value must have its type in TOML already."""
    data = Path(data_dir) if data_dir else default_data_dir()
    path = data / CONFIG_NAME
    return path, file_layer(Settings, path, strict=strict), env_layer(Settings)


def load_settings(data_dir: str | Path | None = None, create: bool = True, environment: bool = True) -> Settings:
    """Read <data dir>/kiosk.toml (creating it on first start), then apply KIOSK_* overrides
    (unless environment=False: what is about to be saved back to the file, as `set-pin` does).
    A value the kiosk cannot use is logged and left at its default, so the kiosk still starts;
    `kiosk config check` names it, and unknown keys too."""
    settings, problems = load_with_problems(data_dir, create=create, environment=environment)
    for problem in problems:
        if not problem.key:
            log.warning("%s; the kiosk runs on the defaults", problem)
        elif problem.key in Settings.model_fields:  # unknown keys: only `kiosk config check` names them
            log.warning("%s; using the default", problem)
    return settings


def load_command_settings(data_dir: str | Path | None = None, *, environment: bool = True) -> Settings:
    """The settings a `kiosk` command runs with. Unlike load_settings() it refuses a kiosk.toml it
    cannot use as written (not TOML, a value of the wrong type, an unknown key, a language code that
    is not one): a kiosk quietly running on defaults would have lost its device name, its server or
    its PIN, and `set-pin` would write those defaults over the file. Raises SettingsInvalid.
    Environment overrides stay forgiving: a bad one is logged and its default used."""
    path, file, _ = read_layers(data_dir)
    problems = list(file.problems)
    for key in ("languages", "default_language"):
        codes = file.values.get(key)
        codes = [codes] if isinstance(codes, str) else codes or []
        bad = [code for code in codes if not LANGUAGE.match(code)]
        if bad:
            problems.append(Problem(key, f"'{key}' has {', '.join(repr(c) for c in bad)}, which "
                                         f"{'is not a language code' if len(bad) == 1 else 'are not language codes'}"
                                         " (like \"en\" or \"pt-BR\")"))
    if problems:
        raise SettingsInvalid(path, problems)
    return load_settings(data_dir, environment=environment)


def load_with_problems(data_dir: str | Path | None = None, *, create: bool = True,
                       environment: bool = True) -> tuple[Settings, list[Problem]]:
    """load_settings() without the logging: the settings and every problem found on the way."""
    path, file, env = read_layers(data_dir)
    if not environment:
        env = Layer()
    settings = Settings(**file.values, data_dir=str(path.parent))
    if not path.exists() and create:
        host = socket.gethostname().split(".")[0].lower() or "kiosk"
        settings.device = settings.device or f"{host}-{secrets.token_hex(3)}"
        settings.save()  # the file holds what the operator set, never the environment's overrides
    for key, value in env.values.items():
        setattr(settings, key, value)
    return settings, file.problems + env.problems

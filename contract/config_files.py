"""Reading a typed settings model from a TOML file and from the environment, with every problem said
in plain words. The kiosk (kiosk/settings.py) and the server (server/config.py) each declare their
settings once, as a pydantic-settings model: the field's name is its key in the TOML file, its type
and default are the field's, and its environment variable is the model's `env_prefix` + NAME. This
module reads both layers the same way for both, so neither repeats a type, a default or a name.

Each layer is validated field by field, so one bad value costs only that value: a kiosk with a
mistake in kiosk.toml still starts, and `config check` names the file or variable, the key and what
was expected. A pydantic ValidationError never reaches an operator.

Environment values keep the format they always had: booleans are true for 1/true/yes/on (any case)
and false for anything else, numbers are read as Python reads them, lists are comma-separated.
"""

from __future__ import annotations

import contextlib
import difflib
import ipaddress
import os
import tempfile
import tomllib
import typing
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import TypeAdapter, ValidationError
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, EnvSettingsSource

TRUE_WORDS = ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a setting, as a sentence an operator can act on."""

    key: str  # the setting, or "" when the whole file is unreadable
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Layer:
    """What one source (a TOML file or the environment) sets: usable values and what is wrong."""

    values: dict[str, Any] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)  # as written, for the keys it sets

    @property
    def unreadable(self) -> Problem | None:
        """The problem when the whole file could not be read (not TOML, no permission)."""
        return next((p for p in self.problems if not p.key), None)


def file_keys(model: type[BaseSettings]) -> list[str]:
    """The keys a settings file may hold: every field not marked exclude=True (those are locations,
    like the data dir, that come from the command line or the environment)."""
    return [name for name, info in model.model_fields.items() if not info.exclude]


def env_name(model: type[BaseSettings], key: str) -> str:
    return (model.model_config.get("env_prefix") or "").upper() + key.upper()


def _is_list(annotation: Any) -> bool:
    return typing.get_origin(annotation) is list


def expected(info: FieldInfo, *, env: bool = False) -> str:
    """What a value of this field looks like, in words."""
    kind = info.annotation
    if kind is bool:
        return "true or false"
    if kind is int:
        return "a whole number"
    if kind is float:
        return "a number"
    if _is_list(kind):
        example = (info.examples or [["a", "b"]])[0]
        if env:
            return "a comma-separated list like " + ",".join(example)
        return "a list like [" + ", ".join(f'"{x}"' for x in example) + "]"
    if typing.get_origin(kind) is typing.Literal:  # one of a few words
        return " or ".join(f'"{x}"' for x in typing.get_args(kind))
    return "text" if env else "text in quotes"


def parse_env_text(annotation: Any, raw: str) -> Any:
    """An environment variable's text as the field's type, the way it has always been read. Text
    that is not a number is passed on unchanged, for the field's validation to name."""
    if annotation is bool:
        return raw.strip().lower() in TRUE_WORDS
    if annotation in (int, float):
        try:
            return annotation(raw)
        except ValueError:
            return raw
    if _is_list(annotation):
        return [x.strip() for x in raw.split(",") if x.strip()]
    return raw


@cache
def _adapter(model: type[BaseSettings], key: str) -> TypeAdapter:
    info = model.model_fields[key]
    return TypeAdapter(Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation)


def _validate(model: type[BaseSettings], key: str, value: Any, *, strict: bool) -> Any:
    return _adapter(model, key).validate_python(value, strict=strict)


def read_toml(path: Path) -> dict[str, Any]:
    """The file's table, {} when it does not exist. Raises tomllib.TOMLDecodeError or OSError."""
    if not path.exists():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _validator_said(exc: ValidationError) -> str | None:
    """The sentence a field's own validator raised (a time zone that does not exist), if that is
    what refused the value; None when it was the type."""
    return next((str(e["ctx"]["error"]) for e in exc.errors() if e["type"] == "value_error" and "ctx" in e), None)


def file_layer(model: type[BaseSettings], path: Path, *, strict: bool, raw: dict | None = None) -> Layer:
    """The settings in a TOML file. strict: each value must already have its type in TOML (what
    `config check` asks of a file an operator wrote); otherwise text is read the way the environment
    is ("30" for a number, "en,es" for a list), so a running kiosk uses what it can."""
    layer = Layer()
    if raw is None:
        try:
            raw = read_toml(path)
        except tomllib.TOMLDecodeError as exc:
            layer.problems.append(Problem("", f"{path} is not valid TOML: {exc}"))
            return layer
        except OSError as exc:
            layer.problems.append(Problem("", f"{path} cannot be read: {exc.strerror or exc}"))
            return layer
    keys = file_keys(model)
    for key, value in raw.items():
        if key not in keys:
            close = difflib.get_close_matches(key, keys, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            layer.problems.append(Problem(key, f"unknown setting '{key}'{hint} in {path}"))
            continue
        info = model.model_fields[key]
        given = value
        if not strict and isinstance(value, str) and info.annotation is not str:
            given = parse_env_text(info.annotation, value)
        try:
            layer.values[key] = _validate(model, key, given, strict=strict)
            layer.raw[key] = value
        except ValidationError as exc:
            said = _validator_said(exc)
            layer.problems.append(Problem(key, f"'{key}': {said} (in {path})" if said else
                                          f"'{key}' should be {expected(info)}, not {value!r} (in {path})"))
    return layer


class _EnvAsAlways(EnvSettingsSource):
    """pydantic-settings' reading of <env_prefix><NAME>, with the values parsed the way they always
    were (not as JSON), and the raw text kept for messages."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(settings_cls)
        self.raw: dict[str, str] = {}

    def prepare_field_value(self, field_name: str, field: FieldInfo, value: Any, value_is_complex: bool) -> Any:
        if value is None or field.exclude:
            return None
        self.raw[field_name] = value
        return parse_env_text(field.annotation, value)

    def _field_is_complex(self, field: FieldInfo) -> tuple[bool, bool]:
        return False, False  # lists are comma-separated text here, never JSON


def env_layer(model: type[BaseSettings]) -> Layer:
    """The settings the environment overrides, each as the field's type."""
    source = _EnvAsAlways(model)
    parsed = source()
    layer = Layer()
    for key, value in parsed.items():
        info = model.model_fields[key]
        try:
            layer.values[key] = _validate(model, key, value, strict=False)
            layer.raw[key] = source.raw[key]
        except ValidationError as exc:
            said = _validator_said(exc)
            layer.problems.append(Problem(key, f"environment variable {env_name(model, key)}: {said}" if said else (
                f"environment variable {env_name(model, key)} should be {expected(info, env=True)} "
                f"for '{key}', not {source.raw[key]!r}")))
    return layer


def default(model: type[BaseSettings], key: str) -> Any:
    return model.model_fields[key].get_default(call_default_factory=True)


def write_private(path: Path, data: bytes) -> None:
    """Replace the file at `path` with `data`, readable and writable by this user only (a settings
    file holds tokens and hashes), atomically: a new file made 0600 from the start (mkstemp), synced,
    then renamed over the old one, so no reader and no power cut ever sees half a file or a
    world-readable moment."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)  # the rename itself survives a power cut
    finally:
        os.close(folder)


def is_loopback(host: str) -> bool:
    """True for an address that never leaves the machine: localhost, 127.0.0.0/8, ::1."""
    host = host.strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_http_beyond_loopback(url: str) -> bool:
    """True when `url` is http:// to an address off this machine: what it carries (a device token,
    a staff password) crosses the network readable by anyone on it."""
    parts = urlsplit(url.strip())
    return parts.scheme.lower() == "http" and bool(parts.hostname) and not is_loopback(parts.hostname or "")

"""Reading guide files as YAML 1.2: libyaml's C parser as the fast path, ruamel.yaml as the
judge whenever libyaml refuses something. Problems are collected, never raised."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from contract.guides import MAX_GUIDE_FILE_BYTES, Problem

# --- YAML reading ------------------------------------------------------------------------------
# ruamel.yaml reads YAML 1.2, where `No` stays the word "No" (not False) and a plain
# "Did your bag come out?," inside {…} parses as DESIGN.md's example is written; it also refuses
# duplicate keys, so two steps called 'report' cannot silently merge into one.


def ruamel_loader() -> YAML:
    return YAML(typ="safe", pure=True)


class _FastLoader(yaml.CSafeLoader):
    """libyaml's C parser with YAML 1.2 core-schema scalars, refusing duplicate keys.

    ruamel's pure-Python parser costs ~14 ms a guide; this costs ~1 ms. It is only a fast path:
    on anything it does not accept (a parse error, a duplicate key, an odd scalar) the file is
    read again by ruamel, whose answer, or error message, is the one that counts. Its scalar
    rules match YAML 1.2 so both readers give the same data (tests/test_guide_fuzz.py checks).
    """

    yaml_implicit_resolvers: ClassVar[dict] = {}

    def construct_mapping(self, node, deep=False):
        keys = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, (str, int, float, bool, type(None))) or key in keys:
                raise yaml.constructor.ConstructorError(None, None, "duplicate or complex key", key_node.start_mark)
            keys.add(key)
        return super().construct_mapping(node, deep=deep)


for _tag, _pattern, _first in (
    # numbers written with underscores (1_000, 0_.5, and after a sign: ruamel reads "-_0" as 0)
    # have corner cases between readers: leave them to ruamel (the constructor below refuses
    # them, which sends the file down the slow path)
    ("kiosk-ambiguous", r"^(?=[-+]?[._0-9])(?=[^ ]*_)", "-+._0123456789"),
    ("bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|0b[01]+)$", "-+0123456789"),
    ("float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
     "-+.0123456789"),
    ("null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
):
    _FastLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(_pattern), list(_first))
_FastLoader.add_implicit_resolver(  # dates, as ruamel reads them (a text field shows them as written)
    "tag:yaml.org,2002:timestamp", yaml.resolver.Resolver.yaml_implicit_resolvers["2"][-1][1], list("0123456789"))


def _construct_int_1_2(loader: _FastLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node)
    if value.startswith(("0o", "0x", "0b")):
        return int(value[2:], {"o": 8, "x": 16, "b": 2}[value[1]])
    return int(value, 10)  # YAML 1.2: 010 is ten, not eight


_FastLoader.add_constructor("tag:yaml.org,2002:int", _construct_int_1_2)
_FastLoader.add_constructor("tag:yaml.org,2002:kiosk-ambiguous", lambda loader, node: int("refuse"))


def parse_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_FastLoader)
    except (yaml.YAMLError, ValueError, TypeError, RecursionError):
        return ruamel_loader().load(text)


def read_yaml(path: Path, name: str, problems: list[Problem]) -> Any:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        problems.append(Problem(name, f"cannot be read ({exc.strerror or exc})"))
        return None
    if len(raw) > MAX_GUIDE_FILE_BYTES:
        problems.append(Problem(name, f"is {len(raw):,} bytes; a guide file may be at most 1 MB"))
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"))
        return None
    try:
        return parse_yaml(text)
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problems.append(Problem(name, f"YAML error: {exc.problem}; each key may appear once", line=line))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "this is not valid YAML"
        problems.append(Problem(name, f"YAML syntax error: {what}", line=line))
    except (YAMLError, ValueError, TypeError) as exc:
        problems.append(Problem(name, f"YAML error: {str(exc).splitlines()[0] if str(exc) else exc}"))
    except RecursionError:
        problems.append(Problem(name, "is nested too deeply to be a guide"))
    return None

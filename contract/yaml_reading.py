"""Reading guide files as YAML 1.2: libyaml's C parser as the fast path, ruamel.yaml as the
judge whenever libyaml refuses something. Problems are collected, never raised.

A guide file is hostile until proven otherwise. Before anything is built from it, its size is
taken from the file system and its structure is counted from the parser's event stream (which
both parsers produce iteratively): nesting depth, and values and text once every alias is
expanded. A file over a limit of contract/limits.py is refused with a sentence, so no composer
recursion can overflow the C stack (a 50 KB nest of brackets once killed the process) and no
alias bomb can expand into gigabytes.

Every plain scalar is read as the text it shows, except the empty value and `~`/`null`: the guide
format has no numbers or booleans, and YAML's rules for them would show `0800` as 800 and `1.50` as
1.5. Quoted and plain text then read the same with both parsers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

import yaml
from ruamel.yaml import YAML
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import ScalarNode
from ruamel.yaml.resolver import VersionedResolver
from ruamel.yaml.tag import Tag

from contract.guides import Problem, shown
from contract.limits import MAX_GUIDE_FILE_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES, MAX_YAML_TEXT

NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_STR, _NULL = "tag:yaml.org,2002:str", "tag:yaml.org,2002:null"


class TooLarge(ValueError):
    """A guide file's structure is over a limit; `line` is where the reader noticed (1-based)."""

    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.message, self.line = message, line


# --- bounding the structure from the event stream ----------------------------------------------

_OPEN = frozenset({"MappingStartEvent", "SequenceStartEvent"})
_CLOSE = frozenset({"MappingEndEvent", "SequenceEndEvent"})


def check_structure(events: Iterable[Any]) -> None:
    """Walk a parser's events once, keeping only counters, and raise TooLarge at the first
    limit passed. An alias counts as everything its anchor holds: that is what a reader who
    walks the data (or formats it) meets. (Events are told apart by class name: libyaml's and
    ruamel's event classes have the same names, and this loop is the hot path of an import.)"""
    sizes: dict[str, tuple[int, int]] = {}  # anchor -> (values, characters) it expands to
    stack: list[list] = []  # per open collection: [anchor, values, characters]
    nodes = text = 0
    for event in events:
        kind = type(event).__name__
        if kind == "ScalarEvent":
            count, chars = 1, len(event.value)
            if event.anchor:
                sizes[str(event.anchor)] = (count, chars)
        elif kind in _OPEN:
            stack.append([event.anchor, 1, 0])
            if len(stack) > MAX_YAML_DEPTH:
                raise TooLarge(f"is nested too deeply: more than {MAX_YAML_DEPTH} levels of lists and mappings "
                               "(a guide needs about six)", event.start_mark.line + 1)
            continue
        elif kind in _CLOSE:
            anchor, count, chars = stack.pop()
            if anchor:
                sizes[str(anchor)] = (count, chars)
            if stack:
                top = stack[-1]
                top[1] += count
                top[2] += chars
            continue
        elif kind == "AliasEvent":
            count, chars = sizes.get(str(event.anchor), (1, 0))
        else:
            continue
        nodes += count
        text += chars
        if stack:
            top = stack[-1]
            top[1] += count
            top[2] += chars
        if nodes > MAX_YAML_NODES or text > MAX_YAML_TEXT:
            what = (f"more than {MAX_YAML_NODES:,} values" if nodes > MAX_YAML_NODES
                    else f"more than {MAX_YAML_TEXT:,} characters")
            raise TooLarge(f"holds {what} once its aliases (*name) are expanded; a guide is far smaller "
                           "(an alias bomb?)", event.start_mark.line + 1)


# --- the two readers ---------------------------------------------------------------------------


class _TextResolver(VersionedResolver):
    """ruamel's resolver with every plain scalar as text, but null (see the module's doc)."""

    def resolve(self, kind: Any, value: Any, implicit: Any) -> Any:
        if kind is ScalarNode and implicit[0]:
            return Tag(suffix=_NULL if NULL.match(value) else _STR)
        return super().resolve(kind, value, implicit)


def ruamel_loader() -> YAML:
    loader = YAML(typ="safe", pure=True)
    loader.Resolver = _TextResolver
    return loader


class _FastLoader(yaml.CSafeLoader):
    """libyaml's C parser reading plain scalars as text (null aside), refusing duplicate keys.

    ruamel's pure-Python parser costs ~14 ms a guide; this costs ~1 ms. It is only a fast path:
    on anything it does not accept (a parse error, a duplicate key) the file is read again by
    ruamel, whose answer, or error message, is the one that counts. Both readers give the same
    data (tests/test_guide_fuzz.py checks).
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


_FastLoader.add_implicit_resolver(_NULL, NULL, ["~", "n", "N", ""])


def _construct_int_1_2(loader: _FastLoader, node: yaml.ScalarNode) -> int:
    value = loader.construct_scalar(node).replace("_", "")
    if value.startswith(("0o", "0x", "0b")):
        return int(value[2:], {"o": 8, "x": 16, "b": 2}[value[1]])
    return int(value, 10)  # YAML 1.2: 010 is ten, not eight (only with an explicit !!int tag now)


_FastLoader.add_constructor("tag:yaml.org,2002:int", _construct_int_1_2)


def parse_yaml(text: str) -> Any:
    """The one document in `text`. Raises TooLarge over a limit, ruamel's errors on bad YAML."""
    try:
        check_structure(yaml.parse(text, Loader=yaml.CSafeLoader))
    except yaml.YAMLError:
        pass  # libyaml cannot parse it: ruamel's events are counted below, before ruamel composes
    else:
        try:
            return yaml.load(text, Loader=_FastLoader)
        except (yaml.YAMLError, ValueError, TypeError, RecursionError):
            pass
    loader = ruamel_loader()
    check_structure(loader.parse(text))
    return loader.load(text)


def _read_capped(path: Path, cap: int) -> bytes:
    """At most cap + 1 bytes: a file that grows after stat, or a device, is still caught."""
    with path.open("rb") as f:
        return f.read(cap + 1)


def read_yaml(path: Path, name: str, problems: list[Problem], spend: Callable[[int], None] | None = None) -> Any:
    """The document in the guide file at `path` (None, with a problem noted, when it cannot be
    read); `spend` is told how many bytes were read, for a library's total."""
    try:
        size = path.stat().st_size
        raw = _read_capped(path, MAX_GUIDE_FILE_BYTES) if size <= MAX_GUIDE_FILE_BYTES else b""
    except OSError as exc:
        problems.append(Problem(name, f"cannot be read ({exc.strerror or shown(exc)})"))
        return None
    if size > MAX_GUIDE_FILE_BYTES or len(raw) > MAX_GUIDE_FILE_BYTES:
        problems.append(Problem(name, f"is {max(size, len(raw)):,} bytes; a guide file may be at most 1 MB"))
        return None
    if spend:
        spend(len(raw))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(Problem(name, f"is not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8"))
        return None
    try:
        return parse_yaml(text)
    except TooLarge as exc:
        problems.append(Problem(name, exc.message, line=exc.line))
    except DuplicateKeyError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        problems.append(Problem(name, f"YAML error: {shown(exc.problem, 200)}; each key may appear once", line=line))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        what = exc.problem or exc.context or "this is not valid YAML"
        problems.append(Problem(name, f"YAML syntax error: {shown(what, 200)}", line=line))
    except (YAMLError, ValueError, TypeError, RecursionError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        problems.append(Problem(name, f"YAML error: {shown(first, 200)}"))
    return None

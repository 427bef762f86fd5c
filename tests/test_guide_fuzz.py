"""Whatever staff (or a corrupted USB stick) put in a guide file, load_library answers with a
Library or with LibraryInvalid: never a crash that would leave `kiosk import` with a traceback."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from library_factory import base_guides, base_images, dump_yaml, write_library

from contract.guides import Library, LibraryInvalid
from contract.validation import load_library

FUZZ = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "en",
            "resolved",
            "escalate",
            "arrived",
            "report",
            "images/belt.png",
            "../x.png",
            "a\x00b.png",
            "x" * 300,
            "airport-wifi",
            "",
            " ",
        ]
    ),
)
keys = st.one_of(
    st.sampled_from(
        [
            "id",
            "title",
            "start",
            "steps",
            "text",
            "choices",
            "label",
            "next",
            "guide",
            "end",
            "image",
            "language",
            "keywords",
            "category",
            "en",
            "es",
        ]
    ),
    st.text(max_size=10),
    st.integers(),
)
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


def outcome_of(files: dict) -> object:
    with tempfile.TemporaryDirectory() as tmp:
        root = write_library(Path(tmp) / "library", files, base_images())
        try:
            return load_library(root)
        except LibraryInvalid as refused:
            assert refused.problems, "LibraryInvalid must name at least one problem"
            assert all(p.message and p.file for p in refused.problems)
            return refused


@FUZZ
@given(st.text(max_size=400))
def test_random_yaml_text(text):
    result = outcome_of({"lost-baggage.yaml": base_guides()["lost-baggage.yaml"], "fuzz.yaml": text})
    assert isinstance(result, LibraryInvalid)


@FUZZ
@given(st.binary(max_size=200))
def test_random_bytes(data):
    assert isinstance(outcome_of({"fuzz.yaml": data}), LibraryInvalid)


@FUZZ
@given(nested)
def test_random_structures_dumped_as_yaml(doc):
    try:
        text = dump_yaml(doc)
    except Exception:  # noqa: BLE001 - values YAML cannot represent are not the subject here
        return
    assert isinstance(outcome_of({"fuzz.yaml": text}), (Library, LibraryInvalid))


def _paths(node, prefix=()):
    """Every path into a nested document, for picking a place to mutate."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _paths(value, prefix + (key,))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _paths(value, prefix + (i,))


BASE = base_guides()
GUIDE_NAMES = sorted(BASE)


@st.composite
def mutated_library(draw):
    guides = copy.deepcopy(BASE)
    for _ in range(draw(st.integers(1, 3))):
        name = draw(st.sampled_from(GUIDE_NAMES))
        paths = [p for p in _paths(guides[name]) if p]
        path = draw(st.sampled_from(paths))
        parent = guides[name]
        for key in path[:-1]:
            parent = parent[key]
        action = draw(st.sampled_from(["replace", "delete", "rename"]))
        if action == "delete" or (action == "rename" and isinstance(parent, list)):
            del parent[path[-1]]
        elif action == "rename":
            parent[draw(keys)] = parent.pop(path[-1])
        else:
            parent[path[-1]] = draw(nested)
    return guides


@FUZZ
@given(mutated_library())
def test_random_mutations_of_a_valid_library(guides):
    assert isinstance(outcome_of(guides), (Library, LibraryInvalid))


# The fast libyaml reader must read every file exactly as the ruamel (YAML 1.2) reader does; a
# difference would show a customer other words than staff wrote. Plain scalars are where YAML 1.1
# and 1.2 differ (No, on, 010, 12:30, 0o17, .inf, dates), so they are drawn from those shapes.
plain_scalars = st.one_of(
    st.from_regex(r"\A[-+]?[0-9_]{1,6}(\.[0-9]{0,3})?([eE][-+]?[0-9]{1,2})?\Z"),
    st.from_regex(r"\A(0o[0-7]{1,4}|0x[0-9a-fA-F]{1,4}|0b[01]{1,4}|[0-9]{1,2}:[0-9]{2}(:[0-9]{2})?)\Z"),
    st.sampled_from(["No", "no", "Yes", "yes", "on", "Off", "y", "n", "true", "False", "NULL", "~", "null",
                     ".inf", "-.Inf", ".NaN", "2026-01-01", "2001-12-14t21:59:43.10-05:00", "=", "<<"]),
    st.from_regex(r"\A[A-Za-z][A-Za-z0-9 ?!.,'-]{0,20}\Z"),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.from_regex(r"\A[a-z]{1,8}\Z"), plain_scalars), min_size=1, max_size=8))
@example([("a", "-_0")])  # once read as the text "-_0" by the fast path and as 0 by ruamel
def test_fast_reader_reads_plain_scalars_as_yaml_1_2(pairs):
    import math

    from contract.yaml_reading import parse_yaml, ruamel_loader

    text = "".join(f"{key}{i}: {value}\n" for i, (key, value) in enumerate(pairs))
    text += "flow: {" + ", ".join(f"k{i}: {value}" for i, (_, value) in enumerate(pairs)) + "}\n"
    try:
        expected = ruamel_loader().load(text)
    except Exception:  # noqa: BLE001 - ruamel refusing the text is fine; the fast path must refuse too
        expected = "refused"
    try:
        got = parse_yaml(text)
    except Exception:  # noqa: BLE001
        got = "refused"

    def norm(v):
        if isinstance(v, float) and math.isnan(v):
            return "nan"
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        return v

    if expected == "refused":
        return  # ruamel cannot build a few YAML 1.1 leftovers ('=' as a value); reading them as text is fine
    assert norm(got) == norm(expected), text

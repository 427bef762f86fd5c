"""Delta manifests (docs/api.md, "Content"): what changed between two signed manifests, made by the
server and applied by the kiosk with the same two functions, so both sides agree on the result.

A delta names the content version it starts from (`since`) and carries only what differs from it:
the guides added or changed (their full manifest entries) and the ids removed, the images added and
those no longer named, and the other top-level fields that changed (`set`: content_version,
published_at, group, epoch, library, ...) or went away (`unset`). `digest` is the target's content
digest (contract/digest.py). Applying a delta to the `since` manifest gives the target manifest
exactly, key for key, so the kiosk checks the target's own signature over it as if it had been sent
whole; anything that does not add up (another base, an entry removed that was not there, a digest
that differs) raises DeltaMismatch and the kiosk asks for the full manifest instead.
"""

from __future__ import annotations

import copy
from typing import Any

from contract.digest import manifest_digest

# The manifest's two maps, carried entry by entry; every other top-level field travels whole.
_MAPS = ("guides", "images")


class DeltaMismatch(Exception):
    """A delta that cannot be applied to this base, or whose result is not what it promised."""


def make_delta(base: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    """The delta from manifest `base` to manifest `target` (both as signed, canonical keys)."""
    old_guides, new_guides = base.get("guides") or {}, target.get("guides") or {}
    old_images, new_images = base.get("images") or {}, target.get("images") or {}
    delta: dict[str, Any] = {
        "since": base["content_version"],
        "content_version": target["content_version"],
        "digest": manifest_digest(target),
        "guides": {g: info for g, info in new_guides.items() if old_guides.get(g) != info},
        "removed": sorted(set(old_guides) - set(new_guides)),
        "images": {h: info for h, info in new_images.items() if old_images.get(h) != info},
        "images_removed": sorted(set(old_images) - set(new_images)),
        "set": {k: v for k, v in target.items() if k not in _MAPS and base.get(k, _ABSENT) != v},
        "unset": sorted(k for k in base if k not in _MAPS and k not in target),
    }
    return delta


def apply_delta(base: dict[str, Any], delta: dict[str, Any]) -> dict[str, Any]:
    """The target manifest: `base` with `delta` applied. Raises DeltaMismatch when the delta was
    made from another base or does not lead to the content its digest names. `base` is not
    changed."""
    try:
        if delta["since"] != base.get("content_version"):
            raise DeltaMismatch(f"the delta starts from content version {delta['since']!r}, "
                                f"this kiosk has {base.get('content_version')!r}")
        sets, unset = delta["set"], delta["unset"]
        if not isinstance(sets, dict) or not isinstance(unset, list) or any(k in _MAPS for k in [*sets, *unset]):
            raise DeltaMismatch("the delta's set/unset fields are not top-level manifest fields")
        target = {k: copy.deepcopy(v) for k, v in base.items() if k not in unset}
        target.update(copy.deepcopy(sets))
        for name, removed_key in (("guides", "removed"), ("images", "images_removed")):
            entries = dict(base.get(name) or {})
            changed, removed = delta[name], delta[removed_key]
            if not isinstance(changed, dict) or not isinstance(removed, list):
                raise DeltaMismatch(f"the delta's {name} are not a mapping and a list")
            for key in removed:
                if entries.pop(key, _ABSENT) is _ABSENT:
                    raise DeltaMismatch(f"the delta removes {name[:-1]} {str(key)[:80]!r}, which this kiosk's "
                                        "manifest does not have")
            entries.update(copy.deepcopy(changed))
            target[name] = entries
        if target.get("content_version") != delta["content_version"]:
            raise DeltaMismatch("the delta's content version is not the one it sets")
        digest = manifest_digest(target)
    except DeltaMismatch:
        raise
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DeltaMismatch(f"the delta is malformed ({type(exc).__name__}: {str(exc)[:120]})") from exc
    if digest != delta["digest"]:
        raise DeltaMismatch("the content the delta leads to does not have the digest it names "
                            f"({digest[:12]}…, promised {str(delta['digest'])[:12]}…)")
    return target


class _Absent:
    def __repr__(self) -> str:
        return "<absent>"


_ABSENT = _Absent()

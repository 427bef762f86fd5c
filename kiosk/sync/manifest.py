"""The signed manifest, checked and planned: pure functions, no network, no database."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.canonical import canonical_json
from contract.guides import GUIDE_ID
from contract.library_settings import FILE_NAME as SETTINGS_FILE
from contract.library_settings import parse_settings


class ContentRejected(Exception):
    """The server's content is not acceptable (signature, shape, hash, validation)."""


@dataclass
class Plan:
    """What a manifest asks for, against what the kiosk already has."""

    content_version: str
    fetch: list[tuple[str, int, str]]  # (id, version, sha256) to download
    staged: list[tuple[str, int, str]]  # already downloaded and verified by an earlier round
    unchanged: list[str]
    removed: list[str]
    images: dict[str, int | None]  # sha256 -> size, not stored yet (narrowed once guides are in)
    # the manifest's `_library.yaml` settings document ("library"); {} when it has none, which
    # removes any the kiosk has: the server's content is the whole content
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def changed(self) -> list[tuple[str, int, str]]:
        return self.fetch + self.staged

    def is_noop(self, installed_version: str | None, installed_settings: Mapping[str, Any]) -> bool:
        return (not self.fetch and not self.staged and not self.removed and not self.images
                and installed_version == self.content_version and dict(installed_settings) == self.settings)


def verify_manifest(manifest: dict[str, Any], signature: str | None, public_key: str) -> None:
    """Raise ContentRejected unless `signature` is the pinned key's Ed25519 signature of it."""
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
    except (ValueError, binascii.Error) as exc:
        raise ContentRejected(f"the pinned server key is not a base64 Ed25519 public key ({exc})") from exc
    try:
        key.verify(base64.b64decode(signature or "", validate=True), canonical_json(manifest))
    except (InvalidSignature, ValueError, binascii.Error) as exc:
        raise ContentRejected("the manifest's signature does not match the pinned server key; "
                              "content not installed") from exc


def check_manifest_shape(manifest: dict[str, Any]) -> None:
    """Signed is not the same as sane: a manifest that would make the kiosk request odd paths,
    loop or install nonsense is refused before anything is fetched, with every reason found (the
    first five) so an operator can see what the server sent."""
    problems = []
    if not _is_positive_int(manifest.get("content_version")):
        problems.append("content_version is not a positive integer")
    guides = manifest.get("guides")
    if not isinstance(guides, dict):
        problems.append("guides is not a mapping of guide id to version and sha256")
        guides = {}
    for gid, info in guides.items():
        if not isinstance(gid, str) or not GUIDE_ID.fullmatch(gid):
            problems.append(f"guide id {gid!r} is not a guide id")
        elif not isinstance(info, dict):
            problems.append(f"guide {gid}: the entry is not a mapping")
        elif not _is_positive_int(info.get("version")):
            problems.append(f"guide {gid}: version {info.get('version')!r} is not a positive integer")
        elif not _is_hex(info.get("sha256")):
            problems.append(f"guide {gid}: sha256 {str(info.get('sha256'))[:70]!r} is not 64 hex digits")
    if "epoch" in manifest and not _is_int_at_least(manifest["epoch"], 0):
        problems.append("epoch is not a whole number")
    if "group" in manifest and not (isinstance(manifest["group"], str) and 0 < len(manifest["group"]) <= 80):
        problems.append("group is not a group name")
    if "library" in manifest and not isinstance(manifest["library"], dict):
        problems.append("library is not a mapping of library settings")
    images = manifest.get("images")
    if not isinstance(images, dict):
        problems.append("images is not a mapping of sha256 digests")
        images = {}
    for digest, info in images.items():
        if not _is_hex(digest):
            problems.append(f"image {str(digest)[:70]!r} is not named by a sha256 digest")
        elif info is not None and (not isinstance(info, dict)
                                   or not (info.get("size") is None or _is_int_at_least(info["size"], 0))):
            problems.append(f"image {digest[:12]}…: its size is not a byte count")
    if problems:
        raise ContentRejected("the manifest is malformed: " + "; ".join(problems[:5]) + "; content not installed")


def manifest_epoch(manifest: dict[str, Any]) -> int:
    """The manifest's epoch (0 when it names none: a server before groups, or a device that never
    moved nor was rolled back)."""
    return manifest.get("epoch", 0)


def manifest_group(manifest: dict[str, Any]) -> str:
    return manifest.get("group", "default")


def check_freshness(manifest: dict[str, Any], installed_version: str | None, accepted_epoch: int) -> None:
    """Refuse a replayed manifest (shared/DESIGN.md, "Groups and rollbacks"). The server raises a
    device's epoch when it moves to another group or its group is rolled back; only then may the
    content version go down. A manifest with an epoch below the accepted one is old whatever its
    version says: replaying it would undo a rollback."""
    version, epoch = manifest["content_version"], manifest_epoch(manifest)
    if epoch < accepted_epoch:
        raise ContentRejected(f"the manifest's epoch {epoch} is older than the accepted {accepted_epoch}; "
                              "an old manifest is not re-installed")
    if (installed_version is not None and installed_version.isdigit() and version < int(installed_version)
            and epoch == accepted_epoch):
        raise ContentRejected(f"the manifest's content version {version} is older than the "
                              f"installed {installed_version}; an old manifest is not re-installed")


def _is_positive_int(value: Any) -> bool:
    return _is_int_at_least(value, 1)


def _is_int_at_least(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


def _is_hex(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def make_plan(manifest: dict[str, Any], installed: Mapping[str, tuple[int, str]], have_images: set[str],
              staged: Mapping[tuple[str, int], str]) -> Plan:
    fetch, from_stage, unchanged = [], [], []
    for gid, info in sorted(manifest["guides"].items()):
        want = (info["version"], info["sha256"])
        if installed.get(gid) == want:
            unchanged.append(gid)
        elif staged.get((gid, want[0])) == want[1]:
            from_stage.append((gid, *want))
        else:
            fetch.append((gid, *want))
    removed = sorted(set(installed) - set(manifest["guides"]))
    images = {h: (info or {}).get("size") for h, info in manifest["images"].items() if h not in have_images}
    return Plan(str(manifest["content_version"]), fetch, from_stage, unchanged, removed, images,
                _canonical_settings(manifest.get("library") or {}))


def _canonical_settings(doc: dict[str, Any]) -> dict[str, Any]:
    """The manifest's settings in the form the store keeps them (terms trimmed, languages sorted),
    so settings a server wrote another way are not installed again every round; settings with
    problems stay as sent, for validation to refuse with its reasons."""
    problems: list = []
    settings = parse_settings(doc, SETTINGS_FILE, problems)
    return doc if problems else settings.to_dict()

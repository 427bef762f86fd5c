"""The signed manifest, checked and planned: pure functions, no network, no database."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from contract.canonical import canonical_json
from contract.guides import GUIDE_ID


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

    @property
    def changed(self) -> list[tuple[str, int, str]]:
        return self.fetch + self.staged

    def is_noop(self, installed_version: str | None) -> bool:
        return (not self.fetch and not self.staged and not self.removed and not self.images
                and installed_version == self.content_version)


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
    """Signed is not the same as sane: a manifest that would make the kiosk request odd paths or
    loop is refused before anything is fetched."""
    problems = []
    if not isinstance(manifest.get("content_version"), int) or isinstance(manifest.get("content_version"), bool):
        problems.append("content_version is not an integer")
    guides = manifest.get("guides")
    if not isinstance(guides, dict):
        problems.append("guides is not a mapping")
        guides = {}
    for gid, info in guides.items():
        if not GUIDE_ID.match(str(gid)) or not isinstance(info, dict) \
                or not isinstance(info.get("version"), int) or not _is_hex(info.get("sha256")):
            problems.append(f"guide entry {gid!r} is malformed")
    images = manifest.get("images")
    if not isinstance(images, dict) or not all(_is_hex(h) for h in images):
        problems.append("images is not a mapping of sha256 digests")
    if problems:
        raise ContentRejected("the manifest is malformed: " + "; ".join(problems[:5]))


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
    return Plan(str(manifest["content_version"]), fetch, from_stage, unchanged, removed, images)

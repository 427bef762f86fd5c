"""Generated guide libraries for sync tests and bench/bench_sync.py: any number of valid guides
and images of any size, written as the YAML folder staff would publish."""

from __future__ import annotations

import random
import struct
import zlib
from pathlib import Path

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_of_size(size: int, rng: random.Random) -> bytes:
    """A real 8x8 PNG (validation decodes every image) padded to about `size` bytes with a private
    ancillary chunk of random bytes, which decoders skip: the sync moves realistic sizes."""
    pixels = b"".join(b"\x00" + rng.randbytes(8 * 3) for _ in range(8))
    head = PNG_MAGIC + _chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    tail = _chunk(b"IDAT", zlib.compress(pixels)) + _chunk(b"IEND", b"")
    pad = max(size - len(head) - len(tail) - 12, 0)
    return head + (_chunk(b"kpAd", rng.randbytes(pad)) if pad else b"") + tail


def write_library(root: Path, guides: int = 5, images: int = 3, image_bytes: int = 20_000,
                  seed: int = 1, revision: dict[str, int] | None = None) -> Path:
    """A library folder of `guides` guides, the first `images` of which show one image each.
    `revision` maps a guide id to a number that changes its text (a new guide version) without
    touching its image."""
    revision = revision or {}
    (root / "images").mkdir(parents=True, exist_ok=True)
    for i in range(guides):
        gid = f"guide-{i:04d}"
        image_line = ""
        if i < images:
            img = root / "images" / f"img-{i:04d}.png"
            if not img.exists():
                rng = random.Random(f"{seed}-{i}")  # each image its own bytes, however often rewritten
                img.write_bytes(png_of_size(image_bytes, rng))
            image_line = f"    image: images/img-{i:04d}.png\n"
        rev = revision.get(gid, 0)
        (root / f"{gid}.yaml").write_text(
            f"id: {gid}\n"
            f"title: {{en: Help topic {i} revision {rev}, es: Tema {i}}}\n"
            f"category: {{en: Category {i % 7}}}\n"
            f"keywords: [topic{i}, help]\n"
            "start: ask\n"
            "steps:\n"
            "  ask:\n"
            f"    text: {{en: Is this about topic {i}? (rev {rev}), es: ¿Es sobre el tema {i}?}}\n"
            f"{image_line}"
            "    choices:\n"
            "      - {label: {en: 'Yes', es: 'Sí'}, next: done}\n"
            "      - {label: {en: 'No', es: 'No'}, next: desk}\n"
            "  done:\n"
            f"    text: {{en: Here is the answer for topic {i}., es: Aquí está la respuesta.}}\n"
            "    end: resolved\n"
            "  desk:\n"
            "    text: {en: Please ask at the information desk., es: Pregunte en información.}\n"
            "    end: escalate\n")
    return root

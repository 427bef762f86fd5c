"""Guide libraries written into temp folders for tests and benchmarks.

`base_guides()` is a small valid library (4 guides, 3 images, en/es/zh/fr text, a jump between
guides, both outcomes) as plain dicts, so a test can break one thing in it and write it out with
`write_library`. `write_generated_library` writes a big synthetic library (thousands of guides)
for the kill test and the benchmark.
"""

from __future__ import annotations

import base64
import io
import itertools
import random
import sqlite3
import struct
import zlib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML


def png_bytes(width: int = 2, height: int = 2, seed: int = 0) -> bytes:
    """A real (decodable) RGB PNG; `seed` varies the pixels so images differ by content."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    raw = b"".join(
        b"\x00" + bytes((seed + x * 7 + y * 13) % 256 for x in range(width * 3)) for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


# A 2x2 red JPEG made with ImageMagick (`convert -size 2x2 xc:red`).
JPEG_BYTES = base64.b64decode(
    "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAMCAgICAgMCAgIDAwMDBAYEBAQEBAgGBgUGCQgKCgkICQkKDA8MCgsOCwkJDREN"
    "Dg8QEBEQCgwSExIQEw8QEBD/2wBDAQMDAwQDBAgEBAgQCwkLEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ"
    "EBAQEBAQEBAQEBAQEBD/wAARCAACAAIDAREAAhEBAxEB/8QAFAABAAAAAAAAAAAAAAAAAAAACP/EABQQAQAAAAAAAAAAAAAA"
    "AAAAAAD/xAAVAQEBAAAAAAAAAAAAAAAAAAAHCf/EABQRAQAAAAAAAAAAAAAAAAAAAAD/2gAMAwEAAhEDEQA/ADoDFU3/2Q=="
)
GIF_BYTES = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"


def base_images() -> dict[str, bytes]:
    """Relative path -> bytes of every image the base library names."""
    return {
        "images/belt.png": png_bytes(seed=1),
        "images/wifi.jpg": JPEG_BYTES,
        "images/map.png": png_bytes(seed=2),
    }


def base_guides() -> dict[str, dict[str, Any]]:
    """File name -> guide document of a small valid library."""
    return {
        "lost-baggage.yaml": {
            "id": "lost-baggage",
            "language": "en",
            "title": {"en": "Lost or delayed luggage", "es": "Equipaje perdido o retrasado"},
            "category": {"en": "Baggage", "es": "Equipaje"},
            "keywords": {"en": ["bag", "suitcase", "missing"], "es": ["maleta"]},
            "start": "arrived",
            "steps": {
                "arrived": {
                    "text": {
                        "en": "Did your bag come out on the baggage belt?",
                        "es": "¿Salió su maleta por la cinta?",
                    },
                    "image": "images/belt.png",
                    "choices": [
                        {"label": {"en": "No, it never came", "es": "No, nunca salió"}, "next": "report"},
                        {
                            "label": {"en": "Yes, but it is damaged", "es": "Sí, pero está dañada"},
                            "next": "damaged",
                        },
                        {
                            "label": {"en": "Wi-Fi help instead", "es": "Ayuda con el wifi"},
                            "guide": "airport-wifi",
                        },
                    ],
                },
                "report": {
                    "text": {
                        "en": "Go to the Baggage Service desk by belt 4 with your boarding pass and "
                        "your passport.",
                        "es": "Vaya al mostrador de equipajes junto a la cinta 4.",
                    },
                    "end": "resolved",
                },
                "damaged": {
                    "text": {
                        "en": "Show the damage to the staff at the Baggage Service desk.",
                        "es": "Muestre el daño al personal.",
                    },
                    "end": "escalate",
                },
            },
        },
        "airport-wifi.yaml": {
            "id": "airport-wifi",
            "title": {"en": "Free airport Wi-Fi", "zh": "机场免费无线网络"},
            "category": {"en": "Connectivity", "zh": "网络"},
            "keywords": {"en": ["internet", "wifi", "wireless"], "zh": ["上网", "无线"]},
            "start": "connect",
            "steps": {
                "connect": {
                    "text": {
                        "en": "Choose the network AIRPORT-FREE and open any web page.",
                        "zh": "请选择网络 AIRPORT-FREE 并打开任意网页。",
                    },
                    "image": "images/wifi.jpg",
                    "choices": [
                        {"label": {"en": "It works", "zh": "可以上网"}, "next": "done"},
                        {"label": {"en": "It does not work", "zh": "不能上网"}, "next": "staff"},
                        {"label": {"en": "Back to my luggage", "zh": "返回行李"}, "guide": "lost-baggage"},
                    ],
                },
                "done": {"text": {"en": "Enjoy your stay.", "zh": "祝您愉快。"}, "end": "resolved"},
                "staff": {
                    "text": {"en": "Ask at the information desk.", "zh": "请到问询处咨询。"},
                    "end": "escalate",
                },
            },
        },
        "lost-passport.yaml": {
            "id": "lost-passport",
            "title": "Lost passport",
            "category": "Documents",
            "keywords": ["identity", "document"],
            "start": "where",
            "steps": {
                "where": {
                    "text": "Did you lose it inside the airport?",
                    "choices": [{"label": "Yes", "next": "police"}, {"label": "No", "next": "embassy"}],
                },
                "police": {"text": "Report it at the airport police office on level 1.", "end": "escalate"},
                "embassy": {
                    "text": "Contact your embassy for an emergency travel document.",
                    "end": "resolved",
                },
            },
        },
        "cafe-parking.yaml": {
            "id": "cafe-parking",
            "language": "fr",
            "title": {"fr": "Parking réservé du café", "en": "Café parking"},
            "category": {"fr": "Stationnement", "en": "Parking"},
            "keywords": {"fr": ["voiture", "stationnement"], "en": ["car", "parking"]},
            "start": "ticket",
            "steps": {
                "ticket": {
                    "text": {
                        "fr": "Avez-vous un ticket de stationnement ?",
                        "en": "Do you have a parking ticket?",
                    },
                    "image": "images/map.png",
                    "choices": [
                        {"label": {"fr": "Oui", "en": "Yes"}, "next": "pay"},
                        {"label": {"fr": "Non", "en": "No"}, "next": "desk"},
                    ],
                },
                "pay": {
                    "text": {
                        "fr": "Payez à la borne près de l'ascenseur.",
                        "en": "Pay at the machine by the lift.",
                    },
                    "end": "resolved",
                },
                "desk": {
                    "text": {"fr": "Allez à l'accueil.", "en": "Go to the front desk."},
                    "end": "escalate",
                },
            },
        },
    }


def dump_yaml(doc: Any) -> str:
    """Block-style YAML, one key a line, as staff would write it."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    out = io.StringIO()
    yaml.dump(doc, out)
    return out.getvalue()


def write_library(
    root: Path, guides: dict[str, Any] | None = None, images: dict[str, bytes] | None = None
) -> Path:
    """Write guides (file name -> document, or raw str/bytes file content) and images under root."""
    guides = base_guides() if guides is None else guides
    images = base_images() if images is None else images
    root.mkdir(parents=True, exist_ok=True)
    for name, doc in guides.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(doc, bytes):
            path.write_bytes(doc)
        elif isinstance(doc, str):
            path.write_text(doc, encoding="utf-8")
        else:
            path.write_text(dump_yaml(doc), encoding="utf-8")
    for rel, data in images.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


# --- big generated libraries -------------------------------------------------------------------

WORDS_EN = [
    "bag",
    "luggage",
    "suitcase",
    "belt",
    "desk",
    "gate",
    "flight",
    "boarding",
    "pass",
    "passport",
    "ticket",
    "parking",
    "car",
    "taxi",
    "bus",
    "train",
    "wifi",
    "internet",
    "charger",
    "phone",
    "lost",
    "found",
    "missing",
    "delayed",
    "damaged",
    "refund",
    "booking",
    "seat",
    "meal",
    "coffee",
    "shop",
    "pharmacy",
    "toilet",
    "baby",
    "stroller",
    "wheelchair",
    "assistance",
    "elevator",
    "stairs",
    "exit",
    "security",
    "liquids",
    "laptop",
    "customs",
    "visa",
    "transfer",
    "connection",
    "lounge",
    "currency",
    "exchange",
    "atm",
    "printer",
    "prayer",
    "room",
    "smoking",
    "area",
    "medical",
    "lockers",
    "trolley",
    "pet",
    "animal",
    "umbrella",
    "weather",
]
WORDS_ES = [
    "maleta",
    "equipaje",
    "cinta",
    "mostrador",
    "puerta",
    "vuelo",
    "embarque",
    "pasaporte",
    "billete",
    "aparcamiento",
    "coche",
    "taxi",
    "autobús",
    "tren",
    "wifi",
    "cargador",
    "teléfono",
    "perdido",
    "encontrado",
    "retrasado",
    "dañado",
    "reembolso",
    "reserva",
    "asiento",
    "comida",
    "café",
    "tienda",
    "farmacia",
    "aseo",
    "bebé",
    "carrito",
    "silla",
    "ayuda",
    "ascensor",
    "escaleras",
    "salida",
    "seguridad",
    "líquidos",
    "aduana",
    "visado",
    "conexión",
    "sala",
    "cambio",
    "cajero",
]


def _pseudo_words(syllables: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    return sorted(words)


# A large vocabulary of made-up words stands in for the everyday words of real guide text.
FILLER_EN = _pseudo_words(
    ["ba", "ter", "lo", "mi", "ston", "ar", "ve", "kin", "dle", "ow", "pra", "sh"], 4000, 1
)
FILLER_ES = _pseudo_words(
    ["ca", "mi", "lo", "ra", "te", "par", "ción", "do", "ña", "es", "ri", "ño"], 4000, 2
)
FILLER_CUM_WEIGHTS = list(itertools.accumulate(1 / (rank + 1) for rank in range(4000)))


def generated_guide(n: int, marker: str, rng: random.Random, steps: int = 5) -> dict[str, Any]:
    """Guide number n: a chain of question steps with a side exit, ending in both outcomes.
    `marker` is a word every guide carries in its title, to tell two libraries apart in search."""

    def sentence(words: list[str], k: int) -> str:
        # Mostly everyday filler words (Zipf-distributed, as in real text), some topic words:
        # so a topic word is in a fraction of the guides, not in all of them.
        filler = FILLER_EN if words is WORDS_EN else FILLER_ES
        picked = [
            rng.choice(words)
            if rng.random() < 0.15
            else rng.choices(filler, cum_weights=FILLER_CUM_WEIGHTS)[0]
            for _ in range(k)
        ]
        return " ".join(picked).capitalize() + "."

    topic_en, topic_es = rng.choice(WORDS_EN), rng.choice(WORDS_ES)
    doc_steps: dict[str, Any] = {}
    for s in range(steps):
        sid = f"s{s}"
        nxt = f"s{s + 1}" if s + 1 < steps else "done"
        doc_steps[sid] = {
            "text": {"en": sentence(WORDS_EN, 14), "es": sentence(WORDS_ES, 14)},
            "choices": [
                {"label": {"en": "Yes", "es": "Sí"}, "next": nxt},
                {"label": {"en": "No", "es": "No"}, "next": "staff"},
            ],
        }
    doc_steps["done"] = {
        "text": {"en": sentence(WORDS_EN, 10), "es": sentence(WORDS_ES, 10)},
        "end": "resolved",
    }
    doc_steps["staff"] = {
        "text": {"en": sentence(WORDS_EN, 10), "es": sentence(WORDS_ES, 10)},
        "end": "escalate",
    }
    return {
        "id": f"guide-{n:05d}",
        "title": {
            "en": f"{topic_en.capitalize()} {marker} {rng.choice(WORDS_EN)} help {n}",
            "es": f"Ayuda {topic_es} {marker} {n}",
        },
        "category": {"en": f"Topic {n % 12}", "es": f"Tema {n % 12}"},
        "keywords": {"en": rng.sample(WORDS_EN, 4), "es": rng.sample(WORDS_ES, 3)},
        "start": "s0",
        "steps": doc_steps,
    }


def write_generated_library(root: Path, count: int, marker: str, seed: int = 0, steps: int = 5) -> Path:
    """A library of `count` generated guides (every 50th with an image). JSON is YAML 1.2 and
    dumps far faster than block YAML, which matters at 10,000 guides."""
    import json

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    for n in range(count):
        doc = generated_guide(n, marker, rng, steps)
        if n % 50 == 0:
            rel = f"images/g{n}.png"
            (root / rel).write_bytes(png_bytes(seed=(n // 50 + seed) % 256))
            doc["steps"]["s0"]["image"] = rel
        (root / f"guide-{n:05d}.yaml").write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return root


def snapshot_counts(conn: sqlite3.Connection) -> tuple:
    """Counts of the libraries written with markers 'alphamark'/'betamark', in one read
    transaction: what a screen would see if it read them together (old or new, never a mix)."""
    conn.execute("BEGIN")
    try:
        return tuple(
            conn.execute(sql).fetchone()[0]
            for sql in (
                "SELECT COUNT(*) FROM guides",
                "SELECT COUNT(*) FROM steps",
                "SELECT COUNT(*) FROM search_docs",
                "SELECT COUNT(*) FROM search_docs_fts WHERE search_docs_fts MATCH 'alphamark'",
                "SELECT COUNT(*) FROM search_docs_fts WHERE search_docs_fts MATCH 'betamark'",
                "SELECT value FROM sync_state WHERE key = 'content_version'",
            )
        )
    finally:
        conn.execute("COMMIT")


def write_one_category_library(root: Path, count: int, category: str = "Everything",
                               seed: int = 16) -> list[tuple[str, str]]:
    """`count` one-question English guides, all in the category `category`: a list as long as a big
    airport's (the long-list test and bench/bench_ui.py). Returns (id, English title) of each in
    the order the kiosk lists them (by title)."""
    import json

    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in range(count):
        doc = generated_guide(n, "longlist", rng, steps=1)
        # lean: the title and one question in English, so 2,500 import in a second or two
        doc["title"], doc["category"] = {"en": doc["title"]["en"]}, {"en": category}
        doc["keywords"] = {"en": doc["keywords"]["en"][:2]}
        doc["steps"] = {"s0": {"text": {"en": f"Is this the help you need ({n})?"},
                               "choices": [{"label": {"en": "Yes"}, "next": "done"}]},
                        "done": {"text": {"en": "Good."}, "end": "resolved"}}
        rows.append((doc["id"], doc["title"]["en"]))
        (root / f"{doc['id']}.yaml").write_text(json.dumps(doc), encoding="utf-8")
    return sorted(rows, key=lambda r: r[1].casefold())

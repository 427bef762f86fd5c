"""Helpers for the server tests: a database (a SQLite file, or a fresh PostgreSQL database per test
module in the server from KIOSK_TEST_PG_URL), a small generated guide library, and
`kiosk-server serve` running in a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import struct
import sys
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pg_databases
import sqlalchemy as sa

from devtools.procs import ServerProcess

REPO = Path(__file__).resolve().parents[2]
STAFF_USER, STAFF_PASSWORD = "admin", "correct horse battery"


# --- a small valid library ---------------------------------------------------------------------


def png(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes(rgb) * width
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(row * height)) + chunk(b"IEND", b""))


LOST_BAG = """\
id: lost-bag
language: en
title: {en: Lost or delayed baggage, es: Equipaje perdido o retrasado, ar: أمتعة مفقودة أو متأخرة}
category: {en: Baggage, es: Equipaje, ar: الأمتعة}
keywords: [bag, luggage, suitcase]
start: arrived
steps:
  arrived:
    text: {en: Did your bag come out on the baggage belt?, es: ¿Salió su maleta por la cinta?, ar: هل خرجت حقيبتك على سير الأمتعة؟}
    image: images/belt.png
    choices:
      - {label: {en: "No, it never came", es: "No, nunca salió", ar: "لا، لم تخرج"}, next: waited}
      - {label: {en: "Yes, but it is damaged", es: "Sí, pero está dañada", ar: "نعم، لكنها تالفة"}, next: damaged}
      - {label: {en: "Wi-Fi help instead", es: "Ayuda con el Wi-Fi", ar: "مساعدة الواي فاي"}, guide: wifi}
  waited:
    text: {en: Have you waited 30 minutes after the last bags came out?, es: ¿Ha esperado 30 minutos?, ar: هل انتظرت 30 دقيقة؟}
    choices:
      - {label: {en: "Yes", es: "Sí", ar: "نعم"}, next: tag}
      - {label: {en: "Not yet", es: "Todavía no", ar: "ليس بعد"}, next: wait-more}
  wait-more:
    text: {en: Bags can take a while. Wait a little longer., es: Espere un poco más., ar: انتظر قليلاً.}
    choices:
      - {label: {en: "I have waited", es: "Ya esperé", ar: "انتظرت"}, next: tag}
  tag:
    text: {en: Do you have the bag tag receipt from check-in?, es: ¿Tiene el resguardo de la etiqueta?, ar: هل لديك إيصال بطاقة الحقيبة؟}
    choices:
      - {label: {en: "Yes, I have it", es: "Sí, lo tengo", ar: "نعم، لدي"}, next: report}
      - {label: {en: "No", es: "No", ar: "لا"}, next: desk}
  report:
    text: {en: Go to the Baggage Service desk by belt 4 with your tag receipt., es: Vaya al mostrador junto a la cinta 4., ar: توجه إلى مكتب خدمة الأمتعة بجوار السير 4.}
    end: resolved
  desk:
    text: {en: Please see the staff at the Baggage Service desk., es: Hable con el personal del mostrador., ar: يرجى مراجعة الموظفين في المكتب.}
    end: escalate
  damaged:
    text: {en: Report the damage at the desk before you leave the hall., es: Informe del daño en el mostrador., ar: أبلغ عن الضرر في المكتب.}
    end: escalate
"""

WIFI = """\
id: wifi
title: Free Wi-Fi
category: Airport services
start: network
steps:
  network:
    text: Can you see the network AIRPORT-FREE?
    choices:
      - {label: "Yes", next: done}
      - {label: "No", next: staff}
  done:
    text: Connect and accept the terms in the page that opens.
    end: resolved
  staff:
    text: Ask at the information desk.
    end: escalate
"""


def make_library(root: Path, wifi_text: str | None = None) -> Path:
    """A two-guide library (one in en/es/ar with an image, one in English only)."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "images" / "belt.png").write_bytes(png(96, 48, (40, 110, 180)))
    (root / "lost-bag.yaml").write_text(LOST_BAG, encoding="utf-8")
    wifi = WIFI if wifi_text is None else WIFI.replace("Can you see the network AIRPORT-FREE?", wifi_text)
    (root / "wifi.yaml").write_text(wifi, encoding="utf-8")
    return root


# --- the command line, in process --------------------------------------------------------------


def cli(*args: str, stdin: str = "") -> tuple[int, str, str]:
    from server.cli import main

    out, err = io.StringIO(), io.StringIO()
    old_stdin = sys.stdin
    sys.stdin = io.StringIO(stdin)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        sys.stdin = old_stdin
    return code, out.getvalue(), err.getvalue()


# --- databases ---------------------------------------------------------------------------------


def fresh_pg_database(label: str):
    return pg_databases.fresh(label)


@contextlib.contextmanager
def migrated_engine(kind: str, tmp: Path, label: str) -> Iterator[sa.Engine]:
    """A migrated server database of `kind` ("sqlite" in tmp, or "postgres": a fresh database of
    its own) and an engine on it, disposed of afterwards."""
    from server import db

    with pg_databases.fresh(label) if kind == "postgres" else contextlib.nullcontext(str(tmp / "server.db")) as url:
        engine = db.make_engine(url, pool_size=2)
        try:
            db.migrate(engine)
            yield engine
        finally:
            engine.dispose()


# --- the server --------------------------------------------------------------------------------


@dataclass
class Server:
    url: str
    db_url: str
    data_dir: Path
    library: Path
    tokens: dict[str, str] = field(default_factory=dict)
    process: ServerProcess | None = None

    @property
    def log(self) -> Path:
        return self.process.log

    def device(self, name: str = "kiosk-1") -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.tokens[name]}"}, timeout=30)

    def staff(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=(STAFF_USER, STAFF_PASSWORD), timeout=60)

    def anonymous(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30)

    def engine(self):
        from server.db import make_engine

        return make_engine(self.db_url, pool_size=2)

    def cli(self, *args: str, stdin: str = "") -> tuple[int, str, str]:
        return cli(*args, "--db", self.db_url, "--data-dir", str(self.data_dir), stdin=stdin)


def prepare(tmp: Path, db_url: str, devices=("kiosk-1", "kiosk-2")) -> Server:
    """Publish the test library, add devices and a staff user, as an operator would."""
    library = make_library(tmp / "library")
    server = Server(url="", db_url=db_url, data_dir=tmp / "data", library=library)
    code, out, err = server.cli("publish", str(library), "--by", "tests")
    assert code == 0, err
    for name in devices:
        code, out, err = server.cli("device", "add", name, "--location", f"Hall {name}")
        assert code == 0, err
        server.tokens[name] = out.strip().splitlines()[-1]
    code, out, err = server.cli("staff", "add", STAFF_USER, "--password-stdin", stdin=STAFF_PASSWORD + "\n")
    assert code == 0, err
    return server


@contextlib.contextmanager
def copy_of(template: Server, tmp: Path, label: str) -> Iterator[Server]:
    """A server of its own in the state `template` was prepared in (the same library, devices,
    tokens, staff and signing key): its data dir copied, its database copied (a SQLite file; a
    PostgreSQL database made from the template). The template itself is never served."""
    data_dir = tmp / "data"
    if template.data_dir.exists():
        shutil.copytree(template.data_dir, data_dir)
    if template.db_url.startswith("postgresql"):
        with pg_databases.copy_of(template.db_url, label) as url:
            yield replace(template, url="", db_url=url, data_dir=data_dir, tokens=dict(template.tokens))
        return
    source = Path(template.db_url)
    for suffix in ("", "-wal"):  # no writer is active, so the file and its WAL are consistent
        if source.with_name(source.name + suffix).exists():
            shutil.copy2(source.with_name(source.name + suffix), tmp / ("server.db" + suffix))
    yield replace(template, url="", db_url=str(tmp / "server.db"), data_dir=data_dir, tokens=dict(template.tokens))


# For a server that tests something else than review: an upload to POST /api/v1/publish
# publishes at once, as with `kiosk-server publish`. With review_two_people on (the default) it
# becomes a studio draft waiting for a second publisher (tests/server/test_studio.py).
ONE_STEP_PUBLISH = {"KIOSK_SERVER_REVIEW_TWO_PEOPLE": "false"}


@contextlib.contextmanager
def serving_copy(prepared: Server, tmp: Path, label: str, env: dict[str, str] | None = None) -> Iterator[Server]:
    """The real server on a copy of the prepared state (with these KIOSK_SERVER_* settings);
    afterwards its log must hold no traceback."""
    with copy_of(prepared, tmp, label) as srv:
        start(srv, "--stale-after", "60", env=env)
        try:
            yield srv
        finally:
            stop(srv)
        text = srv.log.read_text(errors="replace")
        assert "Traceback" not in text, f"the server logged an error:\n{text[-4000:]}"


def row_counts(server: Server) -> dict[str, int]:
    """Rows per table: what a test that only reads must leave as it found it."""
    engine = server.engine()
    try:
        with engine.connect() as conn:
            return {name: conn.execute(sa.select(sa.func.count()).select_from(sa.table(name))).scalar_one()
                    for name in sa.inspect(conn).get_table_names()}
    finally:
        engine.dispose()


def start(server: Server, *extra: str, env: dict[str, str] | None = None) -> Server:
    server.process = ServerProcess(server.data_dir, db_url=server.db_url, args=["--log-level", "warning", *extra],
                                   env={**os.environ, **(env or {})}).start()
    server.url = server.process.url
    return server


def stop(server: Server) -> None:
    if server.process:
        server.process.stop()


def zip_bytes(folder: Path) -> bytes:
    """A library folder as the .zip bytes staff upload to POST /api/v1/publish."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(folder).as_posix())
    return buf.getvalue()

"""What each published content version costs in the server's database (issue 16: "say whether the
server prunes old content versions"). It keeps every version (rollback, mobile pages naming an old
guide version, the comparison pages), so this measures the growth it buys that with: a library of
--guides guides (--images of them with an image of --image-kb KB) published once, then --publishes
times with one guide changed each time, as staff editing a typo do. Every version stores its whole
manifest and one content_guides row per guide; a changed guide adds one guide document, a changed
image its bytes (this bench changes none).

Usage: .venv/bin/python bench/bench_content_versions.py [--pg URL] [--guides 2000] [--publishes 20]
The PostgreSQL URL defaults to env KIOSK_TEST_PG_URL; a fresh database is made and dropped. Without
one, SQLite (the file's size).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import uuid
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from server import db
from server.publish import publish_path
from tests.sync.libgen import write_library

TABLES = ("content_versions", "content_guides", "guide_versions", "images")


def sizes(engine) -> dict[str, int]:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return {t: conn.execute(sa.text(f"SELECT pg_total_relation_size('{t}')")).scalar() for t in TABLES}
        rows = conn.execute(sa.text("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name")).all()
        found = dict(rows)
        return {t: sum(v for k, v in found.items() if k == t or k.startswith((f"sqlite_autoindex_{t}", f"ix_{t}")))
                for t in TABLES}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pg", default=os.environ.get("KIOSK_TEST_PG_URL"))
    ap.add_argument("--guides", type=int, default=2000)
    ap.add_argument("--images", type=int, default=100)
    ap.add_argument("--image-kb", type=int, default=200)
    ap.add_argument("--publishes", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-versions-") as tmp:
        lib = Path(tmp) / "library"
        write_library(lib, guides=args.guides, images=args.images, image_bytes=args.image_kb * 1000)
        name = None
        if args.pg:
            import psycopg

            name = f"bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(args.pg, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            url = args.pg.rsplit("/", 1)[0] + "/" + name
        else:
            url = str(Path(tmp) / "server.db")
        try:
            engine = db.make_engine(url)
            db.migrate(engine)
            empty = sizes(engine)
            publish_path(engine, lib, by="bench")
            first = sizes(engine)
            for n in range(1, args.publishes + 1):
                write_library(lib, guides=args.guides, images=args.images, image_bytes=args.image_kb * 1000,
                              revision={f"guide-{n % args.guides:04d}": n})
                publish_path(engine, lib, by="bench")
            last = sizes(engine)
            engine.dispose()
        finally:
            if name:
                with psycopg.connect(args.pg, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    kind = "PostgreSQL (pg_total_relation_size)" if name else "SQLite (dbstat)"
    print(f"{kind}: {args.guides:,} guides, {args.images} images of {args.image_kb} KB")
    print(f"  first version: {sum(first.values()) - sum(empty.values()):,} bytes "
          f"({', '.join(f'{t} {first[t] - empty[t]:,}' for t in TABLES)})")
    per = {t: (last[t] - first[t]) / args.publishes for t in TABLES}
    print(f"  each further version, one guide changed: {sum(per.values()):,.0f} bytes "
          f"({', '.join(f'{t} {v:,.0f}' for t, v in per.items())}), mean of {args.publishes}")
    print(f"  a publish a working day for a year (250): {sum(per.values()) * 250 / 1e6:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

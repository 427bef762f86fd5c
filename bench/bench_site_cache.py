"""Site cache benchmark (issue 16): the WAN bytes of a site's kiosks pulling new content through the
site cache that docs/deployment.md documents (deploy/nginx-site-cache.conf, nginx proxy_cache), against
the bytes the same kiosks would pull over the WAN without it.

The real server runs on loopback (`kiosk-server serve`), the shipped site-cache config runs in a real
nginx in front of it, and --kiosks real kiosk sync services (kiosk.sync.SyncService over HttpTransport,
each with its own SQLite store and device token) make their first sync through it, --concurrency at a
time, as a site does after an update. nginx's own log counts, per request, the bytes it sent to the
kiosk (the site's LAN) and the bytes it received from the server (the WAN).

Limit: each guide document and image crosses the WAN once per site, whatever the number of kiosks:
the content's WAN bytes within 1.05x one copy of it (headers included). The per-device requests
(manifest, heartbeat, events) go through and are reported beside it.

    .venv/bin/python bench/bench_site_cache.py [--kiosks 200] [--guides 200] [--images 20] [--image-kb 500]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from devtools.nginx import NginxProcess
from kiosk.sync import SyncService
from kiosk.transport import HttpTransport
from offline_cache.store import Store
from server import auth, db
from tests.sync.conftest import ServerProc
from tests.sync.libgen import write_library

CONTENT = ("/api/v1/content/guides/", "/api/v1/content/images/")
LIMIT = 1.05


def wan_log(path: Path) -> list[tuple[str, str, int, int]]:
    """(uri, cache status, bytes to the kiosk, bytes from the server) per request nginx logged."""
    rows = []
    for line in path.read_text().splitlines():
        uri, status, sent, received = line.split(" ")
        # several upstream tries are logged "a, b"; a cache hit has none ("-")
        upstream = sum(int(x) for x in received.replace(",", " ").split() if x.isdigit())
        rows.append((uri, status, int(sent), upstream))
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kiosks", type=int, default=200)
    ap.add_argument("--guides", type=int, default=200)
    ap.add_argument("--images", type=int, default=20)
    ap.add_argument("--image-kb", type=int, default=500)
    ap.add_argument("--concurrency", type=int, default=50, help="kiosks syncing at the same moment")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-site-cache-") as tmp_name:
        tmp = Path(tmp_name)
        tmp.chmod(0o755)  # nginx's workers (`nobody` when run as root) reach their cache inside it
        lib = tmp / "lib"
        write_library(lib, guides=args.guides, images=args.images, image_bytes=args.image_kb * 1000)
        server = ServerProc(tmp / "server")
        server.publish(lib)
        key = server.key()
        engine = db.make_engine(str(server.data_dir / "server.db"), pool_size=2)
        names = [f"site-kiosk-{i:04d}" for i in range(args.kiosks)]
        tokens = {name: auth.add_device(engine, name, "bench site") for name in names}
        engine.dispose()
        server.start()
        try:
            with NginxProcess(tmp / "nginx", site_cache_for=server.url) as nginx:
                return run(args, tmp, nginx, tokens, key)
        finally:
            server.stop()


def run(args, tmp: Path, nginx: NginxProcess, tokens: dict[str, str], key: str) -> int:
    log = nginx.prefix / "wan.log"
    log.write_text("")  # the start-up probe's /healthz is not the kiosks'

    def first_sync(name: str) -> str:
        data = tmp / "kiosks" / name
        sync = SyncService(Store(data / "kiosk.db"), HttpTransport(nginx.url, tokens[name], data),
                           device=name, server_key=key, data_dir=data)
        result = sync.sync_once()
        version = sync.store.content_version
        sync.store.close()
        assert result.result == "ok", (name, result)
        return version

    started = time.perf_counter()
    try:
        with ThreadPoolExecutor(args.concurrency) as pool:
            versions = set(pool.map(first_sync, tokens))
    except AssertionError:
        print((nginx.prefix / "error.log").read_text()[-3000:], file=sys.stderr)
        print((tmp / "server" / "serve.log").read_text()[-3000:], file=sys.stderr)
        raise
    seconds = time.perf_counter() - started
    assert len(versions) == 1, f"the kiosks ended on different content: {versions}"

    rows = wan_log(log)
    content = [r for r in rows if r[0].startswith(CONTENT)]
    per_device = [r for r in rows if not r[0].startswith(CONTENT)]
    lan_content = sum(r[2] for r in content)
    wan_content = sum(r[3] for r in content)
    one_copy = lan_content / len(tokens)  # every kiosk received the same content
    fetched = Counter(r[0] for r in content if r[3] > 0)
    objects = len({r[0] for r in content})
    statuses = Counter(r[1] for r in content)
    ratio = wan_content / one_copy
    ok = ratio <= LIMIT
    print(f"{len(tokens)} kiosks' first sync through the site cache ({args.concurrency} at a time), "
          f"{objects} content objects ({args.guides} guides, {args.images} images of {args.image_kb} kB), "
          f"in {seconds:.1f} s, all on content version {versions.pop()}")
    print(f"  content the kiosks received (the site's LAN):      {lan_content / 1e6:10.1f} MB "
          f"(= the WAN bytes with no site cache)")
    print(f"  content fetched from the server (the WAN):         {wan_content / 1e6:10.1f} MB "
          f"= {ratio:.2f}x one copy ({one_copy / 1e6:.1f} MB); limit {LIMIT}x  {'OK' if ok else 'OVER LIMIT'}")
    print(f"  objects fetched more than once over the WAN:       {sum(1 for n in fetched.values() if n > 1):10d} "
          f"(cache statuses: {dict(statuses)})")
    print(f"  per-device requests (manifest, heartbeat, events): {len(per_device):10d} requests, "
          f"{sum(r[3] for r in per_device) / 1e3:.0f} kB over the WAN "
          f"({sum(r[3] for r in per_device) / len(tokens) / 1e3:.1f} kB per kiosk)")
    print(f"  WAN bytes saved by the site cache:                 {(lan_content - wan_content) / 1e6:10.1f} MB "
          f"({1 - wan_content / lan_content:.1%} of the content)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

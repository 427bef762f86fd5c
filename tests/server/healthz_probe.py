"""Poll GET /healthz at a fixed interval and print each answer's latency (seconds) as JSON.

Run as its own process (`python healthz_probe.py URL SECONDS INTERVAL`), so what it measures is
the server's latency and not the test process's, whose threads are busy sending the attack. A
request that fails, or answers anything but 200, counts as the full time it took plus the tag
"failed" in the output.
"""

from __future__ import annotations

import http.client
import json
import sys
import time
from urllib.parse import urlsplit


def main(url: str, seconds: float, interval: float) -> None:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    latencies: list[float] = []
    failures: list[str] = []
    deadline = time.monotonic() + seconds
    next_at = time.monotonic()
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                failures.append(f"HTTP {resp.status}")
        except (OSError, http.client.HTTPException) as exc:
            failures.append(f"{type(exc).__name__}: {exc}")
            conn.close()
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
        latencies.append(time.perf_counter() - started)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
    print(json.dumps({"latencies": latencies, "failures": failures}))


if __name__ == "__main__":
    main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3]))

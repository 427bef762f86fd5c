"""The body-size limit is one server setting, and the shipped nginx configuration lets exactly that
much through: a larger nginx limit lets uploads through that the server refuses after the upload,
a smaller one refuses library uploads the docs promise."""

from __future__ import annotations

import re
from pathlib import Path

from server_testkit import ONE_STEP_PUBLISH, prepare, start, stop, zip_bytes

from server.config import Config

NGINX_CONF = Path(__file__).resolve().parents[2] / "deploy" / "nginx-fleet.conf"
UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def nginx_size(text: str) -> int:
    """An nginx size ("200m", "1g", "4096") in bytes, as nginx reads it."""
    number, unit = re.fullmatch(r"(\d+)([kKmMgG]?)", text).groups()
    return int(number) * UNITS[unit.lower()]


def test_nginx_lets_through_exactly_the_servers_upload_limit():
    settings = [line.split("#")[0] for line in NGINX_CONF.read_text().splitlines()]
    sizes = [m.group(1) for line in settings if (m := re.search(r"\bclient_max_body_size\s+(\S+);", line))]
    assert len(sizes) == 1, f"{NGINX_CONF.name} sets client_max_body_size {len(sizes)} times"
    default = Config.model_fields["max_upload"].default
    assert nginx_size(sizes[0]) == default, (sizes[0], default)



def test_the_server_takes_uploads_up_to_its_setting_and_no_more(tmp_path):
    limit = 64 * 1024
    server = start(prepare(tmp_path, str(tmp_path / "server.db")), env={"KIOSK_SERVER_MAX_UPLOAD": str(limit), **ONE_STEP_PUBLISH})
    try:
        library = zip_bytes(server.library)
        assert len(library) < limit
        with server.staff() as c:
            fits = c.post("/api/v1/publish", files={"library": ("lib.zip", library, "application/zip")})
            too_big = c.post("/api/v1/publish", files={"library": ("lib.zip", library + b"\0" * limit,
                                                                   "application/zip")})
    finally:
        stop(server)
    assert fits.status_code == 200, fits.text
    assert too_big.status_code == 413 and f"{limit:,} bytes" in too_big.json()["detail"]

"""Server settings, read from the environment so every uvicorn worker process gets the same ones
(`kiosk-server serve` turns its options into these variables before starting the workers)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from server.db import DEFAULT_DATA_DIR, default_url


@dataclass(frozen=True)
class Config:
    data_dir: Path
    db_url: str
    stale_after_minutes: float = 15.0
    ingest_concurrency: int = 4  # event batches stored at once per process; more wait, then get 429
    ingest_wait: float = 2.0  # seconds a batch may wait for a slot before 429
    max_body: int = 5_000_000
    max_upload: int = 200_000_000  # a library bundle with photos

    @classmethod
    def from_env(cls) -> Config:
        data_dir = Path(os.environ.get("KIOSK_SERVER_DATA_DIR") or DEFAULT_DATA_DIR)
        return cls(
            data_dir=data_dir,
            db_url=os.environ.get("KIOSK_SERVER_DB") or default_url(data_dir),
            stale_after_minutes=float(os.environ.get("KIOSK_SERVER_STALE_AFTER", "15")),
            ingest_concurrency=int(os.environ.get("KIOSK_SERVER_INGEST_CONCURRENCY", "4")),
            ingest_wait=float(os.environ.get("KIOSK_SERVER_INGEST_WAIT", "2.0")),
        )

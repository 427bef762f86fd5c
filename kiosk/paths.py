"""Where the bundled assets live (fonts, images, the sample library)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ASSETS = Path(os.environ.get("KIOSK_ASSETS", REPO / "assets"))
SAMPLE_LIBRARY = ASSETS / "library"

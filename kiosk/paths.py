"""Where the bundled assets live (fonts, images, the sample library)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# A checkout (or an editable install) has assets/ beside the packages; a wheel install has them where
# pyproject.toml's [tool.setuptools.data-files] put them. KIOSK_ASSETS overrides both.
INSTALLED = Path(sys.prefix) / "share" / "guide-kiosk"
ASSETS = Path(os.environ.get("KIOSK_ASSETS") or (REPO / "assets" if (REPO / "assets").is_dir() else INSTALLED))
SAMPLE_LIBRARY = ASSETS / "library"

"""What an image must be to enter a library: a PNG or JPEG that really decodes, at most
MAX_IMAGE_SIDE pixels wide and high (contract/limits.py).

Where a library enters (`kiosk import`, publish, the kiosk's USB import) every image is decoded in
full with Pillow, after its header's size was checked (and with Pillow's own decompression-bomb
limit as a second guard), so a 20000x20000 PNG of 60 KB, or a file that only starts like a PNG,
is refused with a sentence instead of freezing the kiosk that opens the step. A kiosk pulling
content its server already decoded checks only the header (`header_size`): the pull stays fast.
"""

from __future__ import annotations

import io
import struct

from PIL import Image, JpegImagePlugin, PngImagePlugin, UnidentifiedImageError

from contract.guides import image_kind
from contract.limits import MAX_IMAGE_SIDE
from contract.theme import PANEL_IMAGE_SIDE

# Pillow's own guard, for any caller in this process (Kivy's image loader too): it warns above this
# many pixels and raises at twice as many. The checks below refuse before either.
Image.MAX_IMAGE_PIXELS = MAX_IMAGE_SIDE * MAX_IMAGE_SIDE
# The format's own reader, built directly: Image.open would stop a bomb with its own error before
# the header's size could be named in the refusal.
_READERS = {"png": PngImagePlugin.PngImageFile, "jpeg": JpegImagePlugin.JpegImageFile}


class ImageRefused(ValueError):
    """Why an image cannot be used, as the end of a sentence: "image 'x.png' <reason>"."""


def _undecodable(exc: Exception) -> ImageRefused:
    why = "the file is not a picture" if isinstance(exc, (UnidentifiedImageError, SyntaxError)) else (
        (str(exc).splitlines() or [type(exc).__name__])[0][:120])
    return ImageRefused(f"is not a PNG or JPEG picture: it cannot be decoded ({why})")


def _opened(data: bytes) -> Image.Image:
    kind = image_kind(data)
    if kind is None:
        raise ImageRefused("is not a PNG or JPEG picture")
    try:
        im = _READERS[kind](io.BytesIO(data))
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise _undecodable(exc) from exc
    width, height = im.size
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        im.close()
        raise ImageRefused(f"is {width}x{height} pixels; an image may be at most {MAX_IMAGE_SIDE}x{MAX_IMAGE_SIDE}")
    return im


def header_size(data: bytes) -> tuple[str, int, int]:
    """(kind, width, height) from the header alone; ImageRefused unless it is a PNG or JPEG
    within MAX_IMAGE_SIDE. Reads the header, decodes no pixel."""
    with _opened(data) as im:
        return image_kind(data) or "", *im.size


def check_image(data: bytes) -> str:
    """The image's kind once it decoded in full; ImageRefused if it does not, or is too large."""
    with _opened(data) as im:
        try:
            im.load()  # every pixel: a truncated or fake body fails here
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as exc:
            raise _undecodable(exc) from exc
    return image_kind(data) or ""


def fit_for_panel(data: bytes, side: int = PANEL_IMAGE_SIDE) -> bytes:
    """The image re-encoded with its longest side `side` pixels when it is longer (same format:
    a PNG stays a PNG, a JPEG a JPEG), else `data` itself, byte for byte: so a published library
    exported and published again keeps its digest. Only for an image check_image passed (at most
    MAX_IMAGE_SIDE a side): a JPEG is decoded at the smallest of 1/2, 1/4 or 1/8 of its size that
    is still larger than `side` (libjpeg scales while decoding: a 4000x3000 photo costs 9 MB, not
    36), a PNG in full (at most 64 MB). EXIF is left out (a camera's GPS position has no place on
    a kiosk), the colour profile kept. The result is kept only when it is smaller."""
    with _opened(data) as im:
        width, height = im.size
        if max(width, height) <= side:
            return data
        kind = image_kind(data)
        scale = side / max(width, height)
        target = (max(1, round(width * scale)), max(1, round(height * scale)))
        icc = im.info.get("icc_profile")
        if kind == "jpeg":
            im.draft(im.mode if im.mode in ("RGB", "L") else "RGB", target)
        try:
            im.load()
        except (OSError, ValueError, SyntaxError, EOFError, struct.error, Image.DecompressionBombError) as exc:
            raise _undecodable(exc) from exc
        if im.mode not in ("RGB", "RGBA", "L", "LA"):
            keeps_alpha = (im.mode == "P" and "transparency" in im.info) or "A" in im.mode
            im = im.convert("RGBA" if keeps_alpha else "RGB")
        out = io.BytesIO()
        with im.resize(target, Image.Resampling.LANCZOS, reducing_gap=3.0) as small:
            extra = {"icc_profile": icc} if icc else {}
            if kind == "jpeg":
                small.save(out, "JPEG", quality=85, optimize=True, **extra)
            else:
                small.save(out, "PNG", optimize=True, **extra)
    fitted = out.getvalue()
    return fitted if len(fitted) < len(data) else data

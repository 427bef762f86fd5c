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

"""Images resized for the panel at publish (issue 16, metered 4G): a camera's 4000x3000 photo
published in a guide reaches the kiosks at the panel's 1920 px, far fewer bytes; an image within
that stays byte for byte, and the published library exported and published again is the same
content (the same digest)."""

from __future__ import annotations

import io
import shutil
import time

import sqlalchemy as sa
from PIL import Image, ImageFilter

from contract.digest import library_digest
from contract.images import fit_for_panel
from contract.theme import PANEL_IMAGE_SIDE
from contract.validation import load_library
from kiosk.paths import SAMPLE_LIBRARY
from server import db
from server.export import export_version
from server.publish import library_of_version, publish_path


def camera_photo(size=(4000, 3000)) -> bytes:
    """A JPEG as a phone's camera writes one: smooth light with sensor grain, quality 92."""
    grain = Image.effect_noise(size, 24).filter(ImageFilter.GaussianBlur(0.6))
    light = Image.linear_gradient("L").resize(size)
    photo = Image.merge("RGB", (Image.blend(light, grain, 0.35), grain, light.rotate(90).resize(size)))
    out = io.BytesIO()
    photo.save(out, "JPEG", quality=92)
    return out.getvalue()


def test_a_camera_photo_is_published_at_the_panel_size_and_an_export_comes_back_the_same(tmp_path):
    work = tmp_path / "library"
    shutil.copytree(SAMPLE_LIBRARY, work)
    photo = camera_photo()
    (work / "images" / "parking.jpg").write_bytes(photo)
    guide = next(p for p in work.glob("*.yaml") if "images/parking.png" in p.read_text())
    guide.write_text(guide.read_text().replace("images/parking.png", "images/parking.jpg"))
    small = (work / "images" / "belt.png").read_bytes()

    engine = db.make_engine(str(tmp_path / "server.db"))
    db.migrate(engine)
    started = time.perf_counter()
    result = publish_path(engine, work, by="test")
    took = time.perf_counter() - started
    assert result.resized[0] == 1 and "1 image(s) larger than the panel needs made smaller" in result.summary()

    published = library_of_version(engine, result.content_version)
    sizes = {Image.open(io.BytesIO(data)).size: data for data in published.images.values()}
    fitted = sizes[(PANEL_IMAGE_SIDE, PANEL_IMAGE_SIDE * 3 // 4)]
    assert fitted.startswith(b"\xff\xd8\xff")  # still a JPEG, under the path the guide names
    assert len(fitted) < len(photo) / 3, (len(photo), len(fitted))
    assert small in published.images.values()  # within the panel: the very same bytes
    with engine.connect() as conn:
        stored = conn.execute(sa.select(sa.func.max(db.images.c.size))).scalar()
    assert stored == len(fitted)  # what the kiosks download
    print(f"\n4000x3000 photo: {len(photo):,} bytes -> {len(fitted):,} bytes at 1920x1440; publish took {took:.2f} s")

    exported = export_version(engine, tmp_path / "export", result.content_version)
    again = publish_path(engine, tmp_path / "export", by="test")
    assert again.resized == (0, 0, 0)
    assert again.digest == result.digest == exported.digest == library_digest(load_library(tmp_path / "export"))


def test_a_wide_png_keeps_its_transparency_and_one_within_the_panel_its_bytes():
    within = io.BytesIO()
    Image.effect_noise((PANEL_IMAGE_SIDE, 1000), 40).save(within, "PNG")
    assert fit_for_panel(within.getvalue()) is within.getvalue()
    wide = io.BytesIO()
    Image.effect_noise((3000, 200), 40).convert("P").save(wide, "PNG", transparency=0)
    fitted = fit_for_panel(wide.getvalue())
    with Image.open(io.BytesIO(fitted)) as im:
        assert im.format == "PNG" and im.size == (PANEL_IMAGE_SIDE, 128) and im.mode == "RGBA"
    flat = io.BytesIO()  # one colour: its palette PNG is smaller than any resized copy, so it stays
    Image.new("P", (3000, 200), 3).save(flat, "PNG")
    assert fit_for_panel(flat.getvalue()) is flat.getvalue()

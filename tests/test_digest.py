"""The one content digest (contract/digest.py): the same content gives the same digest wherever it
was loaded from, and any change a kiosk would show changes it."""

from __future__ import annotations

import shutil

from contract.bundle import open_library
from contract.digest import content_digest, library_digest


def test_same_content_same_digest_from_a_folder_or_a_bundle(sample_library_dir, tmp_path):
    folder = library_digest(open_library(sample_library_dir))
    archive = shutil.make_archive(str(tmp_path / "library"), "zip", sample_library_dir)
    assert library_digest(open_library(archive)) == folder


def test_a_changed_text_or_image_changes_the_digest(sample_library_dir):
    before = library_digest(open_library(sample_library_dir))
    guide = sample_library_dir / "airport-wifi.yaml"
    guide.write_text(guide.read_text().replace("Free Wi-Fi", "Free WiFi", 1))
    after_text = library_digest(open_library(sample_library_dir))
    assert after_text != before
    shown = next(g for g in open_library(sample_library_dir).guides.values() if g.images)
    image = sample_library_dir / next(iter(shown.images))  # a path the guide names, relative to it
    from PIL import Image  # one pixel changed, still a picture that decodes (validation decodes it)

    with Image.open(image) as picture:
        changed = picture.convert("RGB")
    changed.putpixel((0, 0), tuple(255 - c for c in changed.getpixel((0, 0))))
    changed.save(image, format="PNG")
    assert library_digest(open_library(sample_library_dir)) != after_text


def test_order_does_not_matter_and_images_count_once():
    a = content_digest({"b": "2" * 64, "a": "1" * 64}, ["f" * 64, "e" * 64, "f" * 64])
    b = content_digest({"a": "1" * 64, "b": "2" * 64}, ["e" * 64, "f" * 64])
    assert a == b
    assert a != content_digest({"a": "1" * 64, "b": "2" * 64}, ["e" * 64])

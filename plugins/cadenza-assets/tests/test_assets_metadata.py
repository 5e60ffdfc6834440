"""Removing metadata from PNG and JPEG bytes without touching the pixels."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageChops, PngImagePlugin

from cadenza_assets._metadata import metadata_names, strip_jpeg, strip_png

DATA = Path(__file__).parent / "data"


def _pixels_equal(a: bytes, b: bytes) -> bool:
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        return ImageChops.difference(x.convert("RGBA"), y.convert("RGBA")).getbbox() is None


def test_strip_png_drops_text_keeps_pixels() -> None:
    """Text chunks go, transparency and pixels stay."""
    data = (DATA / "sprite_text.png").read_bytes()
    out = strip_png(data, keep_icc=False)
    assert out is not None
    assert len(out) < len(data)
    assert b"tEXt" not in out
    assert _pixels_equal(data, out)


def test_strip_png_keeps_icc_only_when_asked() -> None:
    """iCCP survives with keep_icc, and goes without it."""
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, "PNG", icc_profile=icc)
    data = buf.getvalue()
    assert b"iCCP" in (strip_png(data, keep_icc=True) or b"")
    assert b"iCCP" not in (strip_png(data, keep_icc=False) or b"iCCP")


def test_strip_jpeg_drops_exif_and_comment_keeps_pixels() -> None:
    """APP1 and COM go; the image decodes to the very same pixels."""
    data = (DATA / "tiny_exif.jpg").read_bytes()
    out = strip_jpeg(data, keep_icc=False)
    assert out is not None
    assert len(out) < len(data)
    assert b"Exif\0\0" not in out
    assert b"made for tests" not in out
    assert _pixels_equal(data, out)


def test_strip_jpeg_handles_progressive_and_drops_trailers() -> None:
    """Progressive scans are copied whole; bytes after the end of the image are dropped."""
    buf = io.BytesIO()
    im = Image.effect_noise((64, 48), 30).convert("RGB")
    im.save(buf, "JPEG", progressive=True, quality=80, exif=Image.Exif().tobytes())
    data = buf.getvalue() + b"TRAILING CAMERA DATA"
    out = strip_jpeg(data, keep_icc=False)
    assert out is not None
    assert out.endswith(b"\xff\xd9")
    assert _pixels_equal(data, out)


def test_malformed_input_gives_none() -> None:
    """Bytes that are not a well-formed PNG/JPEG are not rewritten."""
    assert strip_png(b"not a png", keep_icc=False) is None
    assert strip_jpeg(b"\xff\xd8\xff\xe1\x00", keep_icc=False) is None
    png = (DATA / "sprite_text.png").read_bytes()
    assert strip_png(png[:-20], keep_icc=False) is None


def test_metadata_names_lists_what_is_there() -> None:
    """The report names EXIF, comments and text chunks."""
    with Image.open(DATA / "tiny_exif.jpg") as im:
        names = metadata_names(im)
    assert "EXIF" in names
    assert "comment" in names
    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "x")
    buf = io.BytesIO()
    Image.new("L", (4, 4)).save(buf, "PNG", pnginfo=info)
    with Image.open(buf) as im:
        assert metadata_names(im) == ["text (Author)"]

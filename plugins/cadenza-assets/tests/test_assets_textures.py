"""Texture optimization on real generated images, run in-process (no worker start-up)."""

from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import attrs
import pytest
from assets_helpers import job, photo, pixel_art, save, sha256, sprite
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageChops, ImageCms

from cadenza_assets._jobs import run_job
from cadenza_assets._metadata import icc_is_needed
from cadenza_assets._pixels import pow2_floor, target_size
from cadenza_assets._presets import PRESETS
from cadenza_assets._textures import optimize_texture

DATA = Path(__file__).parent / "data"


def _check_measured(entry: dict[str, object]) -> None:
    """The report's numbers are the files' real sizes and dimensions."""
    output = Path(str(entry["output"]))
    assert entry["bytes_before"] == os.path.getsize(str(entry["source"]))
    assert entry["bytes_after"] == output.stat().st_size
    assert entry["saved_bytes"] == entry["bytes_before"] - entry["bytes_after"]  # type: ignore[operator]
    with Image.open(output) as im:
        assert list(im.size) == entry["dimensions_after"]
        assert (im.format or "").lower() == entry["format_after"]


def test_photo_becomes_a_smaller_jpeg_within_the_preset(tmp_path: Path) -> None:
    """A photo-like PNG is resized to the preset and re-encoded as a much smaller JPEG."""
    src = save(photo((1500, 1000)), tmp_path / "in" / "ground.png")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile"))
    assert entry["status"] == "optimized"
    assert entry["format_after"] == "jpeg"
    assert entry["output"] == str(tmp_path / "out" / "ground.jpg")
    assert entry["dimensions_after"] == [1024, 512]  # 1024x683 fits, then power of two
    assert entry["bytes_after"] < entry["bytes_before"] / 5
    _check_measured(entry)


def test_desktop_keeps_size_and_does_not_force_power_of_two(tmp_path: Path) -> None:
    """The desktop preset leaves a 1500x1000 texture at its size (under 4096, NPOT allowed)."""
    src = save(photo((1500, 1000)), tmp_path / "ground.png")
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    assert entry["dimensions_after"] == [1500, 1000]
    assert entry["bytes_after"] < entry["bytes_before"]
    _check_measured(entry)


def test_huge_non_power_of_two_texture_obeys_max_dimension_and_power_of_two(
    tmp_path: Path,
) -> None:
    """A 3000x1800 texture under mobile becomes 1024x512: fitted, then rounded down per side."""
    src = save(photo((3000, 1800), seed=5), tmp_path / "huge.bmp")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile"))
    w, h = entry["dimensions_after"]
    assert max(w, h) <= 1024
    assert w & (w - 1) == 0
    assert h & (h - 1) == 0
    assert (w, h) == (1024, 512)
    assert entry["format_before"] == "bmp"
    _check_measured(entry)


def test_alpha_sprite_becomes_a_palette_png_when_psnr_allows(tmp_path: Path) -> None:
    """A soft-edged RGBA sprite under mobile is quantized to a palette PNG, alpha kept."""
    src = save(sprite(256), tmp_path / "sprite.png")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile"))
    assert entry["format_after"] == "png"
    assert "palette" in entry["chosen"]
    psnr = next(c["psnr"] for c in entry["candidates"] if c["label"] == entry["chosen"])
    assert psnr >= PRESETS["mobile"].min_psnr
    with Image.open(entry["output"]) as out:
        assert out.mode == "P"
        assert "transparency" in out.info
        assert out.convert("RGBA").getchannel("A").getextrema() == (0, 255)
    assert entry["bytes_after"] < entry["bytes_before"] / 2
    _check_measured(entry)


def test_palette_refused_when_psnr_is_below_the_minimum(tmp_path: Path) -> None:
    """With min_psnr above what 256 colours reach, the sprite stays full-colour PNG."""
    src = save(sprite(256), tmp_path / "sprite.png")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile", min_psnr=90.0))
    assert not any("palette" in c["label"] for c in entry["candidates"])
    with Image.open(entry["output"]) as out:
        assert out.mode == "RGBA"


def test_web_preset_offers_webp_with_alpha(tmp_path: Path) -> None:
    """Under web, a sprite's candidates include WebP; whichever wins keeps the alpha."""
    src = save(sprite(256), tmp_path / "sprite.png")
    entry = optimize_texture(job(src, tmp_path / "out", "web"))
    assert "webp" in {c["format"] for c in entry["candidates"]}
    assert entry["bytes_after"] == min(c["bytes"] for c in entry["candidates"])
    with Image.open(entry["output"]) as out:
        assert out.convert("RGBA").getchannel("A").getextrema()[0] == 0


def test_pixel_art_becomes_an_exact_palette_png(tmp_path: Path) -> None:
    """Flat-colour art is stored as a palette PNG with every pixel unchanged, never JPEG."""
    art = pixel_art((96, 64))
    src = save(art, tmp_path / "tiles.bmp")
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    assert entry["chosen"] == "png palette (exact colours)"
    assert "jpeg" not in {c["format"] for c in entry["candidates"]}
    with Image.open(entry["output"]) as out:
        assert out.mode == "P"
        assert ImageChops.difference(out.convert("RGB"), art).getbbox() is None
    _check_measured(entry)


def test_exif_and_text_metadata_are_stripped(tmp_path: Path) -> None:
    """EXIF (with orientation) is gone from the output, and the report says what went."""
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    exif[0x0112] = 6
    src = save(photo((1200, 800)), tmp_path / "cam.jpg", quality=95, exif=exif.tobytes())
    entry = optimize_texture(job(src, tmp_path / "out", "mobile"))
    with Image.open(entry["output"]) as out:
        assert "exif" not in out.info
        assert not out.getexif()
    assert any("EXIF" in a for a in entry["actions"])
    assert any("orientation 6" in a for a in entry["actions"])


def test_metadata_removed_without_re_encoding_when_nothing_else_changes(tmp_path: Path) -> None:
    """The committed tiny JPEG fits the preset: only its EXIF/comment go; pixels are identical."""
    src = DATA / "tiny_exif.jpg"
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    assert entry["chosen"] == "original without metadata (not re-encoded)"
    assert entry["bytes_after"] < entry["bytes_before"]
    with Image.open(src) as before, Image.open(entry["output"]) as after:
        assert "exif" in before.info
        assert "exif" not in after.info
        assert "comment" not in after.info
        assert ImageChops.difference(before.convert("RGB"), after.convert("RGB")).getbbox() is None
    _check_measured(entry)


def test_png_text_chunks_removed_byte_exactly(tmp_path: Path) -> None:
    """The committed sprite's text chunks go; its pixel data is untouched."""
    src = DATA / "sprite_text.png"
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    with Image.open(src) as before, Image.open(entry["output"]) as after:
        assert before.text  # type: ignore[attr-defined]
        assert not after.text  # type: ignore[attr-defined]
        assert (
            ImageChops.difference(before.convert("RGBA"), after.convert("RGBA")).getbbox() is None
        )
    assert entry["bytes_after"] < entry["bytes_before"]


def test_srgb_icc_dropped_other_profiles_kept(tmp_path: Path) -> None:
    """An sRGB profile is weight; a different profile changes colours, so it stays."""
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = save(photo((300, 200)), tmp_path / "srgb.png", icc_profile=srgb)
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    with Image.open(entry["output"]) as out:
        assert "icc_profile" not in out.info

    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    assert icc_is_needed(lab)
    assert not icc_is_needed(srgb)


def test_never_bigger_keeps_the_original_and_says_so(tmp_path: Path) -> None:
    """A tiny, well-compressed PNG that fits the preset is copied byte for byte."""
    src = save(Image.new("RGB", (16, 16), (10, 200, 30)), tmp_path / "flat.png", optimize=True)
    entry = optimize_texture(job(src, tmp_path / "out", "desktop"))
    assert entry["status"] == "kept"
    assert sha256(Path(entry["output"])) == sha256(src)
    assert entry["saved_bytes"] == 0
    assert entry["actions"][0].startswith("kept the original bytes")
    assert entry["meets_preset"] is True


def test_never_bigger_even_when_the_preset_is_not_met_and_warns(tmp_path: Path) -> None:
    """If every conforming encoding is larger, the original is kept with a warning."""
    src = save(Image.new("RGB", (300, 180), (30, 36, 48)), tmp_path / "panel.png", optimize=True)
    entry = optimize_texture(job(src, tmp_path / "out", "mobile", quantize=False))
    if entry["status"] == "kept":
        assert entry["meets_preset"] is False
        assert "does not meet the preset" in entry["warnings"][0]
    assert entry["bytes_after"] <= entry["bytes_before"]


def test_corrupt_file_is_a_failed_entry_not_a_crash(tmp_path: Path) -> None:
    """Garbage with a .png name yields a failed entry saying the file is unreadable."""
    src = tmp_path / "broken.png"
    src.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(200))
    entry = run_job(job(src, tmp_path / "out"))
    assert entry["status"] == "failed"
    assert "corrupt" in entry["error"] or "cannot" in entry["error"]
    assert not (tmp_path / "out").exists()


def test_truncated_image_is_a_failed_entry(tmp_path: Path) -> None:
    """A PNG cut in half is reported as corrupt."""
    whole = save(photo((200, 200)), tmp_path / "whole.png")
    src = tmp_path / "half.png"
    src.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    entry = run_job(job(src, tmp_path / "out"))
    assert entry["status"] == "failed"
    assert "corrupt" in entry["error"]


def test_animated_gif_is_copied_unchanged(tmp_path: Path) -> None:
    """Animated images keep their frames: copied as they are."""
    frames = [Image.new("RGB", (32, 32), (i * 80, 0, 0)) for i in range(3)]
    src = tmp_path / "anim.gif"
    frames[0].save(src, save_all=True, append_images=frames[1:], duration=100)
    entry = optimize_texture(job(src, tmp_path / "out", "mobile"))
    assert entry["status"] == "kept"
    assert sha256(Path(entry["output"])) == sha256(src)


def test_fully_opaque_alpha_is_dropped_losslessly(tmp_path: Path) -> None:
    """An RGBA image whose alpha is all 255 is encoded without alpha (smaller, same pixels)."""
    src = save(photo((400, 300)).convert("RGBA"), tmp_path / "opaque.png")
    entry = optimize_texture(job(src, tmp_path / "out", "desktop", formats=("png",)))
    assert any("dropped the alpha channel" in a for a in entry["actions"])
    with Image.open(entry["output"]) as out:
        assert out.mode in ("RGB", "P")


def test_keep_format_restricts_candidates(tmp_path: Path) -> None:
    """A job told to keep its format (a same-named sibling exists) never changes format."""
    src = save(photo((400, 300)), tmp_path / "logo.png")
    settings = PRESETS["mobile"]
    base = job(src, tmp_path / "out", settings)

    entry = optimize_texture(attrs.evolve(base, keep_format=True))
    assert entry["format_after"] == "png"
    assert entry["output"].endswith("logo.png")


@given(
    w=st.integers(1, 9000),
    h=st.integers(1, 9000),
    limit=st.integers(1, 5000),
    pot=st.booleans(),
)
def test_target_size_never_grows_and_obeys_the_preset(
    w: int, h: int, limit: int, pot: bool
) -> None:
    """Target sizes fit max_dimension, are powers of two when asked, and never exceed the source."""

    settings = attrs.evolve(PRESETS["desktop"], max_dimension=limit, power_of_two=pot)
    tw, th = target_size(w, h, settings)
    assert 1 <= tw <= w
    assert 1 <= th <= h
    assert max(tw, th) <= max(limit, 1)
    if pot:
        assert tw == pow2_floor(tw)
        assert th == pow2_floor(th)
    elif max(w, h) > limit:
        exact = min(w, h) * limit / max(w, h)
        if exact >= 10:  # aspect kept, up to rounding each side to whole pixels
            assert abs((tw / th) / (w / h) - 1) <= 1.5 / exact


def _png_rgb16(path: Path, width: int, height: int) -> Path:
    """A 48-bit RGB PNG, written by hand (Pillow cannot write one)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    rows = b"".join(
        b"\0" + b"".join(struct.pack(">HHH", x * 300, y * 300, 40000) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize("kind", ["rgb16", "grey16"])
def test_sixteen_bit_images_are_copied_unchanged(tmp_path: Path, kind: str) -> None:
    """16-bit textures (height and normal maps) keep their precision: copied, even if too big."""
    if kind == "rgb16":
        src = _png_rgb16(tmp_path / "normal.png", 40, 30)
    else:
        src = save(Image.linear_gradient("L").convert("I;16"), tmp_path / "height.png")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile", max_dimension=16))
    assert entry["status"] == "kept"
    assert sha256(Path(entry["output"])) == sha256(src)
    assert "16-bit" in entry["actions"][0]


def test_keep_format_setting_never_changes_a_format(tmp_path: Path) -> None:
    """With keep_format, a photo PNG stays PNG (its file name too) though JPEG is allowed."""
    src = save(photo((600, 400)), tmp_path / "ground.png")
    entry = optimize_texture(job(src, tmp_path / "out", "mobile", keep_format=True))
    assert entry["format_after"] == "png"
    assert entry["output"] == str(tmp_path / "out" / "ground.png")
    assert entry["bytes_after"] < entry["bytes_before"]

"""What a texture's pixels must become: a plain mode, and the size its preset allows.

Both steps are decided before any encoding, so every candidate encoder
sees the same pixels. Mode changes here are lossless (or forced, like CMYK,
which no game format stores); only resizing changes what the pixels show.
"""

from __future__ import annotations

from PIL import Image, ImageChops

from ._presets import Settings

FLAT_COLOURS = 256
"""At most this many distinct colours (64 for greyscale) is flat art: palettes, no JPEG."""
FLAT_GREYS = 64

_TO_RGB = frozenset({"CMYK", "YCbCr", "LAB", "HSV", "RGBX"})


def pow2_floor(n: int) -> int:
    """The largest power of two not above ``n`` (n >= 1)."""
    return 1 << (n.bit_length() - 1)


def target_size(width: int, height: int, settings: Settings) -> tuple[int, int]:
    """The size a texture must have under ``settings`` (never larger than it is)."""
    w, h = width, height
    longest = max(w, h)
    if longest > settings.max_dimension:
        scale = settings.max_dimension / longest
        w, h = max(1, round(w * scale)), max(1, round(h * scale))
    if settings.power_of_two:
        w, h = pow2_floor(w), pow2_floor(h)
    return w, h


def normalise(im: Image.Image, actions: list[str]) -> Image.Image:
    """``im`` in L, LA, RGB or RGBA, with lossless channel savings noted in ``actions``."""
    mode = im.mode
    if mode == "1":
        im = im.convert("L")
    elif mode in ("P", "PA"):
        transparent = mode == "PA" or "transparency" in im.info
        im = im.convert("RGBA" if transparent else "RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    elif mode in _TO_RGB:
        im = im.convert("RGB")
        if mode != "RGBX":
            actions.append(f"converted {mode} to RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA") and im.getchannel("A").getextrema() == (255, 255):
        im = im.convert(im.mode[:-1])
        actions.append("dropped the alpha channel: every pixel is opaque")
    if im.mode in ("RGB", "RGBA"):
        r, g, b = im.getchannel("R"), im.getchannel("G"), im.getchannel("B")
        if (
            ImageChops.difference(r, g).getbbox() is None
            and ImageChops.difference(g, b).getbbox() is None
        ):
            im = im.convert("L" if im.mode == "RGB" else "LA")
            actions.append("stored as greyscale: every pixel is grey")
    return im


def is_flat(im: Image.Image) -> bool:
    """Flat colour or pixel art: few distinct colours (see :data:`FLAT_COLOURS`)."""
    limit = FLAT_GREYS if im.mode == "L" else FLAT_COLOURS
    return im.getcolors(limit) is not None

"""Encoding one image every way that may be smallest, and measuring what each costs.

Each encoder returns a :class:`Candidate`: the exact bytes that would be
written, so choosing is comparing real sizes, not guessing from settings.
Lossy palette reduction is only offered with its measured PSNR against the
full-colour image (:func:`psnr`), so the caller can refuse one that looks
worse than the preset allows; palettes that lose nothing are exact and
always allowed.
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from typing import cast

import attrs
from PIL import Image, ImageChops, ImageStat, features

EXACT_PALETTE_MAX_PIXELS = 16_000_000
"""Above this, building an exact palette the slow way is skipped (it is pure Python)."""

SUFFIXES = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}


@attrs.frozen(kw_only=True)
class Candidate:
    """One way to write the image: its bytes, format and a label for the report."""

    data: bytes = attrs.field(repr=False)
    format: str
    label: str
    psnr: float | None = None

    @property
    def size(self) -> int:
        return len(self.data)


def psnr(a: Image.Image, b: Image.Image) -> float:
    """Peak signal-to-noise ratio of ``b`` against ``a`` in dB (same size; inf if equal)."""
    mode = "RGBA" if "A" in a.getbands() else "RGB"
    diff = ImageChops.difference(a.convert(mode), b.convert(mode))
    rms = ImageStat.Stat(diff).rms
    mse = sum(v * v for v in rms) / len(rms)
    return math.inf if mse == 0 else 10 * math.log10(255 * 255 / mse)


def _same(a: Image.Image, b: Image.Image) -> bool:
    mode = "RGBA" if "A" in a.getbands() else "RGB"
    return ImageChops.difference(a.convert(mode), b.convert(mode)).getbbox() is None


def _compact(p: Image.Image) -> Image.Image:
    """``p`` with only the palette entries its pixels use (smaller PLTE, fewer bits per pixel)."""
    colors = p.getcolors(256) or []
    used = sorted(int(cast(int, index)) for _, index in colors)
    return p.remap_palette(used) if used else p


def _exact_slow(im: Image.Image) -> Image.Image | None:
    """An exact palette image for ``im`` (≤256 colours) built pixel by pixel."""
    if im.width * im.height > EXACT_PALETTE_MAX_PIXELS:
        return None
    rgba = im.convert("RGBA")
    colors = rgba.getcolors(256)
    if colors is None:
        return None
    # Translucent entries first keeps the tRNS chunk short.
    rgba_colors = [cast(tuple[int, int, int, int], c) for _, c in colors]
    ordered = sorted(rgba_colors, key=lambda c: (c[3] == 255, c))
    index = {bytes(c): i for i, c in enumerate(ordered)}
    data = rgba.tobytes()
    pixels = bytes(index[data[i : i + 4]] for i in range(0, len(data), 4))
    p = Image.frombytes("P", rgba.size, pixels)
    p.putpalette([v for c in ordered for v in c], rawmode="RGBA")
    return p


def exact_palette(im: Image.Image) -> Image.Image | None:
    """``im`` as a palette image with identical pixels, or None (more than 256 colours)."""
    if im.getcolors(256) is None:
        return None
    if im.mode in ("RGBA", "LA"):
        p = im.convert("RGBA").quantize(256, method=Image.Quantize.FASTOCTREE)
    else:
        p = im.convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    if not _same(im, p):
        slow = _exact_slow(im)
        if slow is None:
            return None
        p = slow
    return _compact(p)


def lossy_palette(im: Image.Image) -> Image.Image:
    """``im`` reduced to 256 colours (dithered where Pillow can dither)."""
    if features.check("libimagequant"):
        return _compact(im.quantize(256, method=Image.Quantize.LIBIMAGEQUANT))
    if "A" in im.getbands():
        return _compact(im.convert("RGBA").quantize(256, method=Image.Quantize.FASTOCTREE))
    rgb = im.convert("RGB")
    palette = rgb.quantize(256, method=Image.Quantize.MEDIANCUT)
    return _compact(rgb.quantize(palette=palette, dither=Image.Dither.FLOYDSTEINBERG))


def _save(im: Image.Image, fmt: str, keep: Mapping[str, bytes], **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params, **keep)
    return buf.getvalue()


def png(
    im: Image.Image, label: str, *, keep: Mapping[str, bytes], quality: float | None = None
) -> Candidate:
    """PNG at maximum compression (L, LA, RGB, RGBA or P)."""
    return Candidate(
        data=_save(im, "PNG", keep, optimize=True), format="png", label=label, psnr=quality
    )


def jpeg(im: Image.Image, quality: int, *, keep: Mapping[str, bytes]) -> Candidate:
    """Baseline JPEG (widest decoder support), optimised Huffman tables."""
    data = _save(im, "JPEG", keep, quality=quality, optimize=True)
    return Candidate(data=data, format="jpeg", label=f"jpeg quality {quality}")


def webp(im: Image.Image, quality: int, *, lossless: bool, keep: Mapping[str, bytes]) -> Candidate:
    """WebP, lossy (alpha kept) or lossless."""
    if lossless:
        data = _save(im, "WEBP", keep, lossless=True, quality=80, method=4)
        return Candidate(data=data, format="webp", label="webp lossless")
    data = _save(im, "WEBP", keep, quality=quality, method=6)
    return Candidate(data=data, format="webp", label=f"webp quality {quality}")

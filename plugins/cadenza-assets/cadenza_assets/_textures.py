"""Optimizing one texture: resize, strip, encode every allowed way, keep the smallest.

This runs in a worker process (see ``_jobs.run_job``): it is pure apart from
reading its input and writing its one output, and everything it returns is
JSON-ready. The steps, in order:

1. Read the file once; its bytes are the baseline every result is measured
   against. Animated and 16-bit/float images are copied unchanged (a build
   needs their frames and precision; this optimizer would lose them).
2. Normalise the pixels: palette and bilevel images to RGB(A)/L, CMYK to
   RGB; an alpha channel that is fully opaque is dropped and an all-grey
   image stored as greyscale, both lossless.
3. Fit the preset: downscale (never up) so the longer side is at most
   ``max_dimension``, keeping the aspect ratio, with LANCZOS; with
   ``power_of_two`` round each side down to a power of two.
4. Encode candidates by content: photo-like opaque → JPEG/WebP; alpha →
   PNG, palette PNG (if its PSNR passes) or WebP with alpha; flat colour /
   pixel art (few colours) → exact palette PNG or lossless WebP; plus the
   original with its metadata removed byte-exactly when no pixel changed.
5. Keep the smallest allowed candidate, but never write a file bigger than
   the original: then the original bytes are copied and the report says so.
"""

from __future__ import annotations

import io
import os
from collections.abc import Mapping, Set
from typing import Any

from PIL import Image, UnidentifiedImageError

from . import _encode
from ._errors import AssetError
from ._jobs import Job, write_atomically
from ._metadata import (
    exif_orientation,
    icc_description,
    icc_is_needed,
    metadata_names,
    strip_jpeg,
    strip_png,
)
from ._pixels import is_flat, normalise, target_size
from ._presets import FORMATS, Settings

_HIGH_DEPTH = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


def _open(data: bytes) -> tuple[Image.Image, bool]:
    """The decoded image and whether it has more than 8 bits per channel.

    Pillow decodes 16-bit RGB(A) PNGs to 8 bits silently; the file's raw
    mode, read before decoding, still tells. Corrupt or unknown files raise
    :class:`AssetError` saying why.
    """
    try:
        im = Image.open(io.BytesIO(data))
        deep = im.mode in _HIGH_DEPTH or any(";16" in str(tile[3]) for tile in im.tile)
        im.load()
    except Image.DecompressionBombError as exc:
        raise AssetError(f"refused: {exc}") from None
    except UnidentifiedImageError:
        raise AssetError(
            "not an image Pillow can read: the file is corrupt or not an image format"
        ) from None
    except Exception as exc:  # decoders raise many types for damaged data
        raise AssetError(f"corrupt image: {type(exc).__name__}: {exc}") from None
    return im, deep


def _stripped_original(
    data: bytes, fmt: str, metadata: list[str], *, strip: bool, keep_icc: bool
) -> tuple[bytes, str] | None:
    """The original bytes (metadata removed if asked, byte-exactly); None if that is impossible."""
    if not strip or not metadata:
        return data, "original"
    stripped = None
    if fmt == "png":
        stripped = strip_png(data, keep_icc=keep_icc)
    elif fmt == "jpeg":
        stripped = strip_jpeg(data, keep_icc=keep_icc)
    if stripped is None:
        return None
    return stripped, "original without metadata (not re-encoded)"


def _candidates(
    work: Image.Image,
    settings: Settings,
    allowed: Set[str],
    keep: Mapping[str, bytes],
    *,
    flat: bool,
) -> list[_encode.Candidate]:
    """Every encoding worth measuring for ``work``, lossless ones first.

    ``flat`` describes the source before resizing: LANCZOS blends the edges
    of flat art into many colours, but it is still flat art (palette, no JPEG).
    """
    alpha = work.mode in ("RGBA", "LA")
    out: list[_encode.Candidate] = []

    def lossy_palette() -> None:
        pal = _encode.lossy_palette(work)
        score = _encode.psnr(work, pal)
        if score >= settings.min_psnr:
            colours = len(pal.getcolors(256) or [])
            label = f"png palette {colours} colours (PSNR {score:.1f} dB)"
            out.append(_encode.png(pal, label, keep=keep, quality=round(score, 2)))

    if flat:
        if "png" in allowed:
            exact = _encode.exact_palette(work)
            if exact is not None:
                out.append(_encode.png(exact, "png palette (exact colours)", keep=keep))
            elif settings.quantize:
                lossy_palette()
            out.append(_encode.png(work, f"png {work.mode}", keep=keep))
        if "webp" in allowed:
            out.append(_encode.webp(work, settings.webp_quality, lossless=True, keep=keep))
    elif not alpha:
        if "jpeg" in allowed:
            out.append(_encode.jpeg(work, settings.jpeg_quality, keep=keep))
        if "webp" in allowed:
            out.append(_encode.webp(work, settings.webp_quality, lossless=False, keep=keep))
    else:
        if "png" in allowed:
            out.append(_encode.png(work, f"png {work.mode}", keep=keep))
            if settings.quantize:
                lossy_palette()
        if "webp" in allowed:
            out.append(_encode.webp(work, settings.webp_quality, lossless=False, keep=keep))
    if not out and "png" in allowed:
        # Photo-like but no lossy format allowed (or flat art where only JPEG is
        # not allowed): lossless PNG, and a palette if the preset allows one.
        out.append(_encode.png(work, f"png {work.mode}", keep=keep))
        if settings.quantize:
            lossy_palette()
    if not out and "jpeg" in allowed and not alpha:
        out.append(_encode.jpeg(work, settings.jpeg_quality, keep=keep))
    return out


def _base_entry(job: Job, fmt: str, size: tuple[int, int], nbytes: int) -> dict[str, Any]:
    return {
        "source": job.source,
        "path": job.relative,
        "kind": "texture",
        "format_before": fmt,
        "dimensions_before": list(size),
        "bytes_before": nbytes,
    }


def _finish(entry: dict[str, Any], output: str, fmt: str, size: tuple[int, int]) -> dict[str, Any]:
    """Fill in the after-fields from the file as written (measured, not assumed)."""
    after = os.path.getsize(output)
    before = entry["bytes_before"]
    entry.update(
        output=output,
        format_after=fmt,
        dimensions_after=list(size),
        bytes_after=after,
        saved_bytes=before - after,
        saved_percent=round(100 * (before - after) / before, 1) if before else 0.0,
        status="optimized" if after < before else "kept",
    )
    return entry


def _copy(job: Job, data: bytes, entry: dict[str, Any], size: tuple[int, int]) -> dict[str, Any]:
    output = job.output_stem + os.path.splitext(job.source)[1]
    write_atomically(output, data)
    return _finish(entry, output, entry["format_before"], size)


def _keep_original(
    job: Job,
    data: bytes,
    entry: dict[str, Any],
    size: tuple[int, int],
    problems: list[str],
    smallest: _encode.Candidate | None,
) -> dict[str, Any]:
    """Copy the original: nothing allowed was smaller. Say so, and whether it fits the preset."""
    beaten = (
        f"the smallest, {smallest.label}, has {smallest.size} bytes"
        if smallest is not None
        else "no allowed format can store this image"
    )
    # Nothing that was tried happened to the output: report only the copy.
    entry["actions"] = [f"kept the original bytes: no encoding was smaller ({beaten})"]
    if problems:
        entry["warnings"] = [
            f"the output does not meet the preset ({'; '.join(problems)}): every encoding "
            f"that would was larger than the original's {len(data)} bytes"
        ]
    entry["meets_preset"] = not problems
    return _copy(job, data, entry, size)


def _metadata_actions(
    metadata: list[str],
    *,
    settings: Settings,
    icc: bytes | None,
    keep_icc: bool,
    orientation: int,
    re_encoded: bool,
    fmt: str,
) -> list[str]:
    """What the report says about metadata (only what really left the file)."""
    if not settings.strip_metadata:
        return []
    actions = []
    dropped = [m for m in metadata if not (keep_icc and m.startswith("ICC"))]
    if fmt == "jpeg" and not re_encoded:
        dropped = [m for m in dropped if m != "DPI"]  # the JFIF header, which stays, holds it
    if dropped:
        how = "" if re_encoded else " without re-encoding"
        actions.append(f"removed metadata{how}: {', '.join(dropped)}")
    if keep_icc and icc:
        actions.append(f"kept the ICC profile ({icc_description(icc)}): colours depend on it")
    if orientation != 1:
        actions.append(
            f"dropped EXIF orientation {orientation}: pixels stay as stored, "
            f"which is how game engines read them"
        )
    return actions


def optimize_texture(job: Job) -> dict[str, Any]:
    """Optimize the texture ``job`` names, write its output, return its report entry."""
    settings = job.settings
    with open(job.source, "rb") as f:
        data = f.read()
    im, deep = _open(data)
    fmt = (im.format or "unknown").lower()
    size = im.size
    entry = _base_entry(job, fmt, size, len(data))
    actions: list[str] = []
    entry["actions"] = actions
    if getattr(im, "is_animated", False):
        actions.append("copied unchanged: animated images keep every frame")
        return _copy(job, data, entry, size)
    if deep:
        actions.append(
            "copied unchanged: 16-bit and float images keep their precision "
            "(height maps, normal maps, HDR data)"
        )
        return _copy(job, data, entry, size)

    metadata = metadata_names(im)
    icc = im.info.get("icc_profile")
    keep_icc = bool(icc) and (icc_is_needed(icc) or not settings.strip_metadata)
    keep: dict[str, bytes] = {"icc_profile": icc} if keep_icc and icc else {}
    exif = im.info.get("exif")
    if exif and not settings.strip_metadata:
        keep["exif"] = exif
    orientation = exif_orientation(im)

    work = normalise(im, actions)
    flat = is_flat(work)
    target = target_size(*size, settings)
    if target != size:
        why = []
        if max(size) > settings.max_dimension:
            why.append(f"fit {settings.max_dimension} px")
        if settings.power_of_two:
            why.append("power of two")
        work = work.resize(target, Image.Resampling.LANCZOS)
        actions.append(
            f"resized {size[0]}x{size[1]} to {target[0]}x{target[1]} ({', '.join(why)}; LANCZOS)"
        )

    allowed = set(settings.formats)
    keep_format = job.keep_format or settings.keep_format
    if keep_format:
        allowed = {fmt} if fmt in FORMATS else set()
        if job.keep_format:
            actions.append(f"kept format {fmt}: another input has this name in another format")
    encodings = _candidates(work, settings, allowed, keep, flat=flat) if allowed else []
    candidates = list(encodings)
    if target == size and (fmt in settings.formats or keep_format):
        original = _stripped_original(
            data, fmt, metadata, strip=settings.strip_metadata, keep_icc=keep_icc
        )
        if original is not None:
            candidates.insert(0, _encode.Candidate(data=original[0], format=fmt, label=original[1]))
    entry["candidates"] = [
        {"label": c.label, "format": c.format, "bytes": c.size}
        | ({"psnr": c.psnr} if c.psnr is not None else {})
        for c in candidates
    ]

    best = min(candidates, key=lambda c: c.size, default=None)
    if best is None or best.size >= len(data):
        problems = []
        if target != size:
            problems.append(f"{size[0]}x{size[1]} should be {target[0]}x{target[1]}")
        if fmt not in settings.formats and not keep_format:
            problems.append(f"format {fmt} is not one of {', '.join(settings.formats)}")
        smallest = min(encodings, key=lambda c: c.size, default=None)
        return _keep_original(job, data, entry, size, problems, smallest)

    re_encoded = not best.label.startswith("original")
    actions += _metadata_actions(
        metadata,
        settings=settings,
        icc=icc,
        keep_icc=keep_icc,
        orientation=orientation,
        re_encoded=re_encoded,
        fmt=fmt,
    )
    if re_encoded:
        actions.append(f"encoded as {best.label}")
    entry["chosen"] = best.label
    entry["meets_preset"] = True
    suffix = (
        os.path.splitext(job.source)[1] if best.format == fmt else _encode.SUFFIXES[best.format]
    )
    output = job.output_stem + suffix
    write_atomically(output, best.data)
    with Image.open(output) as written:
        written_size = written.size
    return _finish(entry, output, best.format, written_size)

"""Finding and removing metadata, including without re-encoding (PNG chunks, JPEG segments).

Game engines read pixels, not EXIF, text chunks or editing history, so
metadata is weight a build does not need. Re-encoding drops it anyway; for
files that need no other change, :func:`strip_png` and :func:`strip_jpeg`
remove it byte-exactly, leaving every pixel as it was (a JPEG is never
re-compressed just to lose its EXIF).

An ICC profile is kept when it matters: a profile other than sRGB changes
how the pixels look, so only sRGB profiles (the default every engine
assumes) are dropped. The EXIF orientation tag goes with the EXIF; pixels
stay as stored, which is how game engines read them.
"""

from __future__ import annotations

import io
import struct
from typing import Any

from PIL import Image

# Ancillary PNG chunks that affect how pixels decode or look; everything else is metadata.
_PNG_KEEP = frozenset({b"IHDR", b"PLTE", b"tRNS", b"IDAT", b"IEND", b"gAMA", b"cHRM", b"sRGB"})
_PNG_KEEP |= {b"sBIT", b"cICP", b"acTL", b"fcTL", b"fdAT"}
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_SOI, _SOS, _EOI = 0xD8, 0xDA, 0xD9
_APP0, _APP2, _APP14 = 0xE0, 0xE2, 0xEE
_COM = 0xFE
_NO_LENGTH = frozenset({0x01, _SOI, _EOI, *range(0xD0, 0xD8)})
_ICC_TAG = b"ICC_PROFILE\0"

_INFO_NAMES = {
    "exif": "EXIF",
    "xmp": "XMP",
    "XML:com.adobe.xmp": "XMP",
    "comment": "comment",
    "photoshop": "Photoshop data",
    "dpi": "DPI",
}


def icc_is_needed(icc: bytes | None) -> bool:
    """True when ``icc`` is a profile other than sRGB (so dropping it would change colours)."""
    if not icc:
        return False
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow without littlecms: cannot tell, so keep it
        return True
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = ImageCms.getProfileDescription(profile)
    except Exception:  # unreadable: viewers ignore it too
        return False
    return "srgb" not in description.lower()


def icc_description(icc: bytes) -> str:
    """A profile's description for reports (``sRGB IEC61966-2.1``), or ``unreadable``."""
    try:
        from PIL import ImageCms

        text = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    except Exception:
        return "unreadable"
    return text.strip() or "unnamed"


def metadata_names(im: Image.Image) -> list[str]:
    """What metadata an opened image carries, as short names for the report."""
    names: list[str] = []
    for key, label in _INFO_NAMES.items():
        if im.info.get(key) and label not in names:
            names.append(label)
    text: Any = getattr(im, "text", None)
    if text:
        names.append(f"text ({', '.join(sorted(text))})")
    icc = im.info.get("icc_profile")
    if icc:
        names.append(f"ICC profile ({icc_description(icc)})")
    return names


def exif_orientation(im: Image.Image) -> int:
    """The EXIF orientation tag (1 = as stored) of an opened image."""
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:
        return 1


def strip_png(data: bytes, *, keep_icc: bool) -> bytes | None:
    """``data`` without metadata chunks, pixels untouched; None if it is not a well-formed PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        return None
    out = [_PNG_SIGNATURE]
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            return None
        if kind in _PNG_KEEP or (kind == b"iCCP" and keep_icc):
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            return b"".join(out)
    return None


def _entropy_end(data: bytes, pos: int) -> int | None:
    """Index just past the EOI marker ending the scans that start at ``pos``."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            return None
        marker = data[pos + 1]
        if marker == _EOI:
            return pos + 2
        if marker == 0xFF:  # fill byte
            pos += 1
        elif marker == 0x00 or 0xD0 <= marker <= 0xD7:  # stuffed 0xFF, restart marker
            pos += 2
        else:  # a segment between progressive scans (DHT, SOS, ...): skip it whole
            if pos + 4 > len(data):
                return None
            (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
            pos += 2 + length


def strip_jpeg(data: bytes, *, keep_icc: bool) -> bytes | None:
    """``data`` without EXIF, XMP, comments and other APP segments, not re-compressed.

    JFIF (APP0) and Adobe (APP14, which says how colours are transformed)
    stay, and the ICC profile if ``keep_icc``; bytes after the end of the
    image (camera trailers, embedded previews) go. None if the JPEG is not
    well formed.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    out = [data[:2]]
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker in _NO_LENGTH:
            out.append(data[pos : pos + 2])
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            return None
        segment = data[pos:end]
        if marker == _SOS:
            stop = _entropy_end(data, end)
            if stop is None:
                return None
            out.append(data[pos:stop])
            return b"".join(out)
        is_app = 0xE0 <= marker <= 0xEF
        keep = (
            (not is_app and marker != _COM)
            or marker in (_APP0, _APP14)
            or (marker == _APP2 and keep_icc and segment[4:16] == _ICC_TAG)
        )
        if keep:
            out.append(segment)
        pos = end
    return None

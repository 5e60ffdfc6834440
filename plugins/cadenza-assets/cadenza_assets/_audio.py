"""Optimizing one WAV file: downmix to mono, resample to the preset's rate, drop extra chunks.

Runs in a worker process, like the texture code. No audio library is
needed: the RIFF container is read here (PCM, including the
WAVE_FORMAT_EXTENSIBLE header that Python 3.11's ``wave`` refuses) and
written back with the standard library's ``wave``. The signal work is done
by Pillow, which the plugin needs anyway: the samples become a one-column
32-bit float image (one row per frame, one column per channel), so

- downmixing is a BOX resize of the channel columns to one: an exact mean;
- resampling is a LANCZOS resize of the rows: a Lanczos-3 windowed-sinc
  filter whose width follows the rate ratio, so downsampling is
  anti-aliased (measured at 44.1 kHz to 22.05 kHz: 1 kHz passes unchanged,
  8 kHz at -0.9 dB, 15 kHz at -30 dB).

Both run in C. Only the final rounding to integer samples is Python, about
0.2 s per minute of mono audio. Rates are only lowered, never raised, and
the sample width (8, 16, 24 or 32 bit) is kept. 32-bit PCM goes through
32-bit floats, so its precision is 24 bits. Floating-point WAVs are refused
with a message (export them as PCM).
"""

from __future__ import annotations

import array
import io
import os
import struct
import sys
import wave
from typing import Any

import attrs
from PIL import Image

from ._errors import AssetError
from ._jobs import Job, write_atomically

_PCM = 1
_FLOAT = 3
_EXTENSIBLE = 0xFFFE
_LIMITS = {1: (-128, 127), 2: (-32768, 32767), 3: (-(2**23), 2**23 - 1), 4: (-(2**31), 2**31 - 1)}
_LITTLE = sys.byteorder == "little"


@attrs.frozen(kw_only=True)
class Pcm:
    """A decoded WAV: its format, its sample bytes (as stored) and its other chunks' ids."""

    channels: int
    rate: int
    width: int
    frames: bytes = attrs.field(repr=False)
    extra_chunks: tuple[str, ...] = ()

    @property
    def nframes(self) -> int:
        return len(self.frames) // (self.channels * self.width)


def _chunks(data: bytes) -> list[tuple[str, bytes]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise AssetError("not a WAV file (no RIFF/WAVE header)")
    out = []
    pos = 12
    while pos + 8 <= len(data):
        cid = data[pos : pos + 4].decode("latin-1")
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        body = data[pos + 8 : pos + 8 + size]
        if len(body) < size and cid != "data":
            raise AssetError(f"truncated WAV file: chunk {cid!r} ends past the end of the file")
        out.append((cid, body))
        pos += 8 + size + (size & 1)
    return out


def read_pcm(data: bytes) -> Pcm:
    """Parse a PCM WAV; :class:`AssetError` naming what is unsupported otherwise."""
    chunks = _chunks(data)
    fmt = next((body for cid, body in chunks if cid == "fmt "), None)
    frames = next((body for cid, body in chunks if cid == "data"), None)
    if fmt is None or len(fmt) < 16 or frames is None:
        raise AssetError("corrupt WAV file: it has no complete 'fmt ' and 'data' chunks")
    code, channels, rate, _, align, bits = struct.unpack("<HHIIHH", fmt[:16])
    if code == _EXTENSIBLE and len(fmt) >= 26:
        (code,) = struct.unpack("<H", fmt[24:26])  # the sub-format GUID starts with the code
    if code == _FLOAT:
        raise AssetError("floating-point WAV is not supported; export it as 16- or 24-bit PCM")
    if code != _PCM:
        raise AssetError(f"unsupported WAV encoding (format code {code}); only PCM is optimized")
    width = align // channels if channels else 0
    if channels < 1 or rate < 1 or width not in _LIMITS or width * 8 < bits:
        raise AssetError(
            f"corrupt WAV header: {channels} channels, {rate} Hz, {bits} bits, block align {align}"
        )
    usable = len(frames) - len(frames) % align
    extra = tuple(cid.strip() for cid, _ in chunks if cid not in ("fmt ", "data"))
    return Pcm(
        channels=channels, rate=rate, width=width, frames=frames[:usable], extra_chunks=extra
    )


def _to_floats(pcm: Pcm) -> array.array[float]:
    """The samples, interleaved, as floats on their integer scale (8-bit centred on 0)."""
    raw = pcm.frames
    if pcm.width == 1:
        return array.array("f", [v - 128 for v in raw])
    if pcm.width == 3:  # widen to 32 bits: the low byte zero, so each value is scaled by 256
        wide = bytearray(len(raw) // 3 * 4)
        wide[1::4], wide[2::4], wide[3::4] = raw[0::3], raw[1::3], raw[2::3]
        ints = array.array("i", bytes(wide))
        if not _LITTLE:
            ints.byteswap()
        return array.array("f", [v / 256 for v in ints])
    ints = array.array("h" if pcm.width == 2 else "i", raw)
    if not _LITTLE:
        ints.byteswap()
    return array.array("f", ints)


def _to_bytes(samples: array.array[float], width: int) -> bytes:
    """Rounded, clipped integer samples in native byte order (what ``wave`` expects)."""
    low, high = _LIMITS[width]
    ints = [min(high, max(low, round(v))) for v in samples]
    if width == 1:
        return bytes(v + 128 for v in ints)
    if width == 2:
        return array.array("h", ints).tobytes()
    wide = array.array("i", ints).tobytes()
    if width == 4:
        return wide
    out = bytearray(len(ints) * 3)
    first = 0 if _LITTLE else 1
    out[0::3], out[1::3], out[2::3] = wide[first::4], wide[first + 1 :: 4], wide[first + 2 :: 4]
    return bytes(out)


def convert(pcm: Pcm, *, mono: bool, rate: int) -> tuple[bytes, int, int]:
    """Downmix and/or resample ``pcm``; return native-order frames, channels and rate."""
    samples = _to_floats(pcm)
    n = pcm.nframes
    image = Image.frombytes("F", (pcm.channels, n), samples.tobytes())
    channels = pcm.channels
    if mono and channels > 1:
        image = image.resize((1, n), Image.Resampling.BOX)
        channels = 1
    new_rate = pcm.rate
    if 0 < rate < pcm.rate:
        m = max(1, round(n * rate / pcm.rate))
        image = image.resize((channels, m), Image.Resampling.LANCZOS)
        new_rate = rate
    out = array.array("f")
    out.frombytes(image.tobytes())
    return _to_bytes(out, pcm.width), channels, new_rate


def _write(frames: bytes, *, channels: int, width: int, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return buf.getvalue()


def _native(pcm: Pcm) -> bytes:
    """The stored (little-endian) frames in native order, for ``wave``."""
    if _LITTLE or pcm.width == 1:
        return pcm.frames
    if pcm.width == 3:
        raw = bytearray(pcm.frames)
        raw[0::3], raw[2::3] = pcm.frames[2::3], pcm.frames[0::3]
        return bytes(raw)
    ints = array.array("h" if pcm.width == 2 else "i", pcm.frames)
    ints.byteswap()
    return ints.tobytes()


def optimize_wav(job: Job) -> dict[str, Any]:
    """Optimize the WAV ``job`` names, write its output, return its report entry."""
    settings = job.settings
    with open(job.source, "rb") as f:
        data = f.read()
    pcm = read_pcm(data)
    if pcm.nframes == 0:
        raise AssetError("the WAV file holds no samples")
    mono = settings.audio_mono and pcm.channels > 1
    resample = 0 < settings.audio_sample_rate < pcm.rate
    actions: list[str] = []
    channels, rate = pcm.channels, pcm.rate
    if mono or resample:
        frames, channels, rate = convert(pcm, mono=mono, rate=settings.audio_sample_rate)
        if mono:
            actions.append(f"downmixed {pcm.channels} channels to mono")
        if resample:
            actions.append(f"resampled {pcm.rate} Hz to {rate} Hz (Lanczos-3, anti-aliased)")
    else:
        frames = _native(pcm)
    rewrite = mono or resample or (settings.strip_metadata and bool(pcm.extra_chunks))
    if pcm.extra_chunks and rewrite:
        actions.append(f"removed chunks: {', '.join(pcm.extra_chunks)}")
    output = job.output_stem + os.path.splitext(job.source)[1]
    result = _write(frames, channels=channels, width=pcm.width, rate=rate) if rewrite else data
    meets_preset = True
    if len(result) >= len(data):
        meets_preset = not (mono or resample)
        if rewrite:
            actions.append("kept the original bytes: the rewritten file was not smaller")
        else:
            actions.append("kept the original bytes: it already fits the preset")
        result, channels, rate = data, pcm.channels, pcm.rate
    write_atomically(output, result)
    after = os.path.getsize(output)
    return {
        "source": job.source,
        "path": job.relative,
        "kind": "audio",
        "output": output,
        "format_before": "wav",
        "format_after": "wav",
        "channels_before": pcm.channels,
        "channels_after": channels,
        "sample_rate_before": pcm.rate,
        "sample_rate_after": rate,
        "bits": pcm.width * 8,
        "duration_seconds": round(pcm.nframes / pcm.rate, 3),
        "bytes_before": len(data),
        "bytes_after": after,
        "saved_bytes": len(data) - after,
        "saved_percent": round(100 * (len(data) - after) / len(data), 1),
        "status": "optimized" if after < len(data) else "kept",
        "actions": actions,
        "meets_preset": meets_preset,
    }

"""Test assets made on the spot with Pillow and the standard library, and small run helpers."""

from __future__ import annotations

import array
import hashlib
import math
import random
import struct
import wave
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from PIL import Image, ImageDraw, ImageFilter

import cadenza
from cadenza_assets._jobs import Job
from cadenza_assets._presets import PRESETS, Settings


def photo(size: tuple[int, int] = (700, 500), seed: int = 1) -> Image.Image:
    """A photo-like RGB texture: smooth random colour field plus fine grain."""
    rng = random.Random(seed)
    w, h = size
    small = Image.new("RGB", (max(2, w // 25), max(2, h // 25)))
    small.putdata(
        [
            (60 + rng.randint(0, 120), 50 + rng.randint(0, 100), 30 + rng.randint(0, 80))
            for _ in range(small.width * small.height)
        ]
    )
    field = small.resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 20).convert("RGB")
    return Image.blend(field, grain, 0.15).filter(ImageFilter.SMOOTH)


def sprite(size: int = 256) -> Image.Image:
    """An RGBA sprite: soft-edged shaded disc on a transparent background."""
    im = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    d = ImageDraw.Draw(im)
    for r in range(size * 2 // 5, 0, -2):
        c = int(255 * r / (size * 2 / 5))
        d.ellipse(
            [size / 2 - r, size / 2 - r, size / 2 + r, size / 2 + r],
            fill=(255 - c // 2, 80 + c // 3, c, 255),
        )
    return im.filter(ImageFilter.GaussianBlur(1.5))


def pixel_art(size: tuple[int, int] = (96, 64), seed: int = 3) -> Image.Image:
    """Flat-colour pixel art: 8 colours in 4x4 blocks."""
    rng = random.Random(seed)
    colours = [(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(8)]
    small = Image.new("RGB", (size[0] // 4, size[1] // 4))
    small.putdata([rng.choice(colours) for _ in range(small.width * small.height)])
    return small.resize(size, Image.Resampling.NEAREST)


def save(im: Image.Image, path: Path, **params: Any) -> Path:
    """Save ``im`` (PNGs fast, at compression level 1, unless told otherwise)."""
    if path.suffix == ".png" and "optimize" not in params:
        params.setdefault("compress_level", 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, **params)
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_hashes(root: Path) -> dict[str, str]:
    """Every file under ``root`` by relative path, with its hash."""
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


def tone(
    path: Path,
    *,
    rate: int = 44100,
    channels: int = 2,
    width: int = 2,
    seconds: float = 0.5,
    freqs: Sequence[float] = (440.0,),
    amplitude: float = 0.5,
) -> Path:
    """A PCM WAV; channel ``i`` plays ``freqs[i % len(freqs)]``."""
    n = int(rate * seconds)
    full = {1: 127, 2: 32767, 3: 2**23 - 1, 4: 2**31 - 1}[width]
    values = [
        round(amplitude * full * math.sin(2 * math.pi * freqs[c % len(freqs)] * i / rate))
        for i in range(n)
        for c in range(channels)
    ]
    if width == 1:
        frames = bytes(v + 128 for v in values)
    elif width == 3:
        frames = b"".join(struct.pack("<i", v)[:3] for v in values)
    else:
        frames = array.array("h" if width == 2 else "i", values).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(frames)
    return path


def add_riff_chunk(path: Path, cid: bytes, body: bytes) -> None:
    """Append a chunk to a WAV file and fix the RIFF size."""
    data = bytearray(path.read_bytes())
    data += cid + struct.pack("<I", len(body)) + body + (b"\0" if len(body) % 2 else b"")
    data[4:8] = struct.pack("<I", len(data) - 8)
    path.write_bytes(bytes(data))


def job(source: Path, out: Path, settings: Settings | str = "mobile", **changes: Any) -> Job:
    """A job for ``source`` writing next to ``out/<name>`` (for in-process tests)."""
    if isinstance(settings, str):
        settings = PRESETS[settings]
    if changes:
        settings = attrs.evolve(settings, **changes)
    kind = "audio" if source.suffix == ".wav" else "texture"
    return Job(
        source=str(source),
        relative=source.name,
        output_stem=str(out / source.stem),
        kind=kind,
        settings=settings,
    )


async def run(
    text: str,
    *,
    base_dir: Path,
    out: Path,
    plugins: cadenza.plugins.Plugins,
    observers: Sequence[Any] = (),
) -> cadenza.RunResult:
    """Load ``text`` as workflow.yaml in ``base_dir`` and run it with output folder ``out``."""
    loaded = cadenza.load_workflow_text(
        text, plugins=plugins, base_dir=base_dir, filename="workflow.yaml"
    )
    return await cadenza.run_workflow(
        loaded.workflow, plugins=plugins, output_dir=out, observers=observers
    )

"""Platform presets: what "optimized" means for mobile, desktop and web builds.

A :class:`Settings` is the complete, resolved set of knobs one file is
optimized with. It is frozen and picklable because it travels to worker
processes with each job. :data:`PRESETS` holds the three named starting
points; :func:`resolve` lays the agent's and the step's overrides on top.

Why these numbers: mobile GPUs and download budgets favour 1024 px
power-of-two textures and 22 kHz mono sound effects; desktop keeps 4K
textures and CD-rate audio, changing pixels only where the format must; the
web allows WebP (every current browser decodes it) and mid-size textures.
Game engines do not all import WebP (Unity does not), so only ``web``
allows it by default.
"""

from __future__ import annotations

from typing import Literal

import attrs

PresetName = Literal["mobile", "desktop", "web"]
"""Names a workflow may give as ``preset:``."""

Format = Literal["png", "jpeg", "webp"]
"""Output formats the optimizer can write."""

FORMATS: tuple[Format, ...] = ("png", "jpeg", "webp")


@attrs.frozen(kw_only=True)
class Settings:
    """Everything that decides how one file is optimized (a preset plus overrides).

    ``max_dimension`` bounds the longer side (aspect kept); ``power_of_two``
    then rounds each side down to a power of two. ``formats`` are the formats
    an output may use. ``quantize`` allows lossy palette PNGs (256 colours),
    kept only when their PSNR against the full-colour image is at least
    ``min_psnr`` dB; palettes that lose nothing are always tried.
    ``keep_format`` never changes a file's format (so its name stays, for
    engines that reference assets by file name). ``audio_sample_rate`` is
    the highest WAV rate kept (0: keep any rate); ``audio_mono`` downmixes
    multi-channel WAVs.
    """

    preset: PresetName
    max_dimension: int
    power_of_two: bool
    formats: tuple[Format, ...]
    keep_format: bool
    jpeg_quality: int
    webp_quality: int
    quantize: bool
    min_psnr: float
    strip_metadata: bool
    audio_sample_rate: int
    audio_mono: bool

    def to_json(self) -> dict[str, object]:
        """The settings as JSON-ready data, for the step's report."""
        data = attrs.asdict(self)
        data["formats"] = list(self.formats)
        return data


PRESETS: dict[str, Settings] = {
    "mobile": Settings(
        preset="mobile",
        max_dimension=1024,
        power_of_two=True,
        formats=("png", "jpeg"),
        keep_format=False,
        jpeg_quality=80,
        webp_quality=75,
        quantize=True,
        min_psnr=35.0,
        strip_metadata=True,
        audio_sample_rate=22050,
        audio_mono=True,
    ),
    "desktop": Settings(
        preset="desktop",
        max_dimension=4096,
        power_of_two=False,
        formats=("png", "jpeg"),
        keep_format=False,
        jpeg_quality=90,
        webp_quality=90,
        quantize=False,
        min_psnr=40.0,
        strip_metadata=True,
        audio_sample_rate=44100,
        audio_mono=False,
    ),
    "web": Settings(
        preset="web",
        max_dimension=2048,
        power_of_two=False,
        formats=("png", "jpeg", "webp"),
        keep_format=False,
        jpeg_quality=82,
        webp_quality=80,
        quantize=True,
        min_psnr=35.0,
        strip_metadata=True,
        audio_sample_rate=32000,
        audio_mono=False,
    ),
}

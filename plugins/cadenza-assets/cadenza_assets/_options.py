"""The ``options:`` of an ``assets`` agent, and preset overrides.

The kernel's converter structures a workflow's ``options:`` mapping into
:class:`AssetsOptions` when the file loads, so a wrong type or an unknown key
is reported with file and line before anything runs. The validators here
guard ranges; their messages start with the field name, which is how the
loader places them on the right line.

:class:`Overrides` is shared by the agent (``options.overrides``) and the
step (``with: {overrides: ...}``): every field defaults to None, meaning
"the preset's value".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from ._presets import FORMATS, PRESETS, Format, PresetName, Settings

MAX_WORKERS = 64


def _in_range(low: float, high: float, what: str) -> Callable[[Any, Any, Any], None]:
    """A validator accepting None or a number in [low, high], with a message naming the field."""

    def check(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and not low <= value <= high:
            raise ValueError(
                f"{attribute.name}: expected {what} from {low:g} to {high:g}, got {value!r}"
            )

    return check


def _check_formats(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not value:
        raise ValueError(
            f"{attribute.name}: expected at least one format of {', '.join(FORMATS)}, "
            f"got an empty list"
        )
    seen = [f for i, f in enumerate(value) if f in value[:i]]
    if seen:
        raise ValueError(f"{attribute.name}: {seen[0]!r} is listed twice")


@attrs.frozen(kw_only=True)
class Overrides:
    """Changes to a preset; None keeps the preset's value (see :class:`Settings`)."""

    max_dimension: int | None = attrs.field(
        default=None, validator=_in_range(1, 65536, "a size in pixels")
    )
    power_of_two: bool | None = None
    formats: tuple[Format, ...] | None = attrs.field(default=None, validator=_check_formats)
    keep_format: bool | None = None
    jpeg_quality: int | None = attrs.field(default=None, validator=_in_range(1, 95, "a quality"))
    webp_quality: int | None = attrs.field(default=None, validator=_in_range(1, 100, "a quality"))
    quantize: bool | None = None
    min_psnr: float | None = attrs.field(default=None, validator=_in_range(1, 100, "decibels"))
    strip_metadata: bool | None = None
    audio_sample_rate: int | None = attrs.field(
        default=None, validator=_in_range(0, 384000, "a rate in Hz (0 keeps the file's rate)")
    )
    audio_mono: bool | None = None

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with every field this object sets replaced."""
        changes = {k: v for k, v in attrs.asdict(self, recurse=False).items() if v is not None}
        return attrs.evolve(settings, **changes)


def _check_paths(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    for i, path in enumerate(value):
        if not path.strip():
            raise ValueError(
                f"{attribute.name}: expected files, folders or globs, got an empty string at [{i}]"
            )


@attrs.frozen(kw_only=True)
class AssetsOptions:
    """``options:`` of an ``assets`` agent.

    ``preset`` is the starting point, ``overrides`` change it for every step
    this agent serves (a step may pick another preset and override more).
    ``paths`` (files, folders, globs, relative to the workflow folder) are
    optimized by a step that names none itself, such as a seed-format step
    whose ``data:`` says only what and for which platform. ``workers`` is how
    many files are optimized at once, each in its own worker process; by
    default one per CPU, at most 8.
    """

    preset: PresetName = "desktop"
    overrides: Overrides = Overrides()
    paths: tuple[str, ...] = attrs.field(default=(), validator=_check_paths)
    workers: int | None = attrs.field(
        default=None, validator=_in_range(1, MAX_WORKERS, "a number of processes")
    )


def resolve(preset: str, *layers: Overrides) -> Settings:
    """The named preset with each layer of overrides applied in order."""
    settings = PRESETS[preset]
    for layer in layers:
        settings = layer.apply(settings)
    return settings

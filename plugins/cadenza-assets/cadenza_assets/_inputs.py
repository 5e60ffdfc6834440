"""A step's inputs (``with:``): which files, and optionally another preset and overrides.

Inputs arrive at run time, after ``${{ }}`` expressions were evaluated, so
they are checked here rather than by the loader. Every problem is collected
and reported at once, naming the input (``with.overrides.max_dimension``)
and what would fix it, so one run shows everything wrong with a step.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import attrs

from ._options import Overrides
from ._presets import FORMATS, PRESETS

INPUT_NAMES = ("files", "paths", "preset", "overrides")

_BOOL = "true or false"
_INT = "an integer"
_NUMBER = "a number"
_OVERRIDE_TYPES: dict[str, str] = {
    "max_dimension": _INT,
    "power_of_two": _BOOL,
    "formats": "a list of formats",
    "keep_format": _BOOL,
    "jpeg_quality": _INT,
    "webp_quality": _INT,
    "quantize": _BOOL,
    "min_psnr": _NUMBER,
    "strip_metadata": _BOOL,
    "audio_sample_rate": _INT,
    "audio_mono": _BOOL,
}


class InputError(ValueError):
    """A step's inputs are wrong; the message lists every problem, one per line."""


@attrs.frozen(kw_only=True)
class StepInputs:
    """What a step asked for: paths (files, folders, globs), a preset name, overrides."""

    paths: tuple[str, ...]
    preset: str | None = None
    overrides: Overrides = Overrides()


def _did_you_mean(word: str, known: tuple[str, ...] | list[str]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}"


def _paths(name: str, value: Any, problems: list[str]) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if isinstance(value, list | tuple) and not value:
        problems.append(f"with.{name}: empty; list at least one file, folder or glob")
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        problems.append(
            f"with.{name}: expected a path or a list of paths (files, folders or globs), "
            f"got {_describe(value)}"
        )
        return []
    return list(value)


def _check_override(key: str, value: Any) -> str | None:
    """The problem with one override value, or None."""
    expected = _OVERRIDE_TYPES[key]
    ok: bool
    if expected == _BOOL:
        ok = isinstance(value, bool)
    elif expected == _INT:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif expected == _NUMBER:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    else:
        ok = isinstance(value, list | tuple) and all(v in FORMATS for v in value)
        expected = f"a list of formats from {', '.join(FORMATS)}"
    if ok:
        return None
    return f"with.overrides.{key}: expected {expected}, got {_describe(value)}"


def _overrides(value: Any, problems: list[str]) -> Overrides:
    if value is None:
        return Overrides()
    if not isinstance(value, Mapping):
        problems.append(f"with.overrides: expected a mapping, got {_describe(value)}")
        return Overrides()
    kwargs: dict[str, Any] = {}
    for key, item in value.items():
        if key not in _OVERRIDE_TYPES:
            hint = _did_you_mean(str(key), list(_OVERRIDE_TYPES))
            problems.append(
                f"with.overrides.{key}: unknown override.{hint}"
                f" Allowed: {', '.join(_OVERRIDE_TYPES)}."
            )
            continue
        problem = _check_override(key, item)
        if problem:
            problems.append(problem)
            continue
        one: dict[str, Any] = {key: tuple(item) if key == "formats" else item}
        try:
            Overrides(**one)  # one at a time, so every range problem is reported
        except ValueError as exc:
            problems.append(f"with.overrides.{exc}")
            continue
        kwargs.update(one)
    return Overrides(**kwargs)


def parse_inputs(inputs: Mapping[str, Any]) -> StepInputs:
    """Check a step's inputs; raise :class:`InputError` listing every problem found."""
    problems: list[str] = []
    for key in inputs:
        if key not in INPUT_NAMES:
            problems.append(
                f"with.{key}: unknown input.{_did_you_mean(str(key), INPUT_NAMES)} "
                f"An assets step takes {', '.join(INPUT_NAMES)}."
            )
    paths: list[str] = []
    for name in ("files", "paths"):
        if name in inputs:
            paths += _paths(name, inputs[name], problems)
    if "files" not in inputs and "paths" not in inputs:
        problems.append(
            "with.files: missing; list the assets to optimize, for example "
            "files: [Assets/Textures] (files, folders or globs, relative to the workflow file)"
        )
    preset = inputs.get("preset")
    if preset is not None and preset not in PRESETS:
        problems.append(
            f"with.preset: unknown preset {preset!r}.{_did_you_mean(str(preset), list(PRESETS))} "
            f"Known presets: {', '.join(PRESETS)}."
        )
        preset = None
    overrides = _overrides(inputs.get("overrides"), problems)
    if problems:
        raise InputError("\n".join(problems))
    return StepInputs(paths=tuple(paths), preset=preset, overrides=overrides)

"""A step's inputs (``with:``): which files, and optionally another preset and overrides.

Inputs arrive at run time, after ``${{ }}`` expressions were evaluated, so
they are checked here rather than by the loader. Every problem is collected
and reported at once, naming the input (``with.overrides.max_dimension``)
and what would fix it, so one run shows everything wrong with a step.

The seed format's asset step says what and for which platform, not which
files (``data: {asset_types: [textures, models, audio], target_platform:
mobile}``), so ``target_platform`` is another name for ``preset``,
``asset_types`` picks the kinds of file to optimize (a kind this plugin
does not handle, such as ``models``, is a warning in the report, not an
error), and the files may come from the agent's ``paths`` option.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from ._discover import ASSET_SUFFIXES, AUDIO_SUFFIXES, TEXTURE_SUFFIXES
from ._options import Overrides
from ._presets import FORMATS, PRESETS

INPUT_NAMES = ("files", "paths", "preset", "target_platform", "asset_types", "overrides")

ASSET_TYPES: dict[str, frozenset[str]] = {"textures": TEXTURE_SUFFIXES, "audio": AUDIO_SUFFIXES}
"""The ``asset_types`` this plugin optimizes, and the file suffixes of each."""

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
    """What a step asked for: paths (files, folders, globs), a preset name, overrides.

    ``asset_types`` is None when the step names none (every supported kind);
    ``warnings`` say what the step asked for that is skipped.
    """

    paths: tuple[str, ...]
    preset: str | None = None
    overrides: Overrides = Overrides()
    asset_types: tuple[str, ...] | None = None
    warnings: tuple[str, ...] = ()

    @property
    def suffixes(self) -> frozenset[str]:
        """The file suffixes of the asset types asked for."""
        if self.asset_types is None:
            return ASSET_SUFFIXES
        return frozenset(s for t in self.asset_types for s in ASSET_TYPES[t])


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


def _preset(name: str, value: Any, problems: list[str]) -> str | None:
    """A preset name given as ``with.<name>``, or None (with a problem if it is not one)."""
    if value is None:
        return None
    if not isinstance(value, str) or value not in PRESETS:
        hint = _did_you_mean(value, list(PRESETS)) if isinstance(value, str) else ""
        problems.append(
            f"with.{name}: unknown preset {value!r}.{hint} Known presets: {', '.join(PRESETS)}."
        )
        return None
    return value


def _asset_types(value: Any, problems: list[str], warnings: list[str]) -> tuple[str, ...] | None:
    """The supported asset types asked for; each unsupported one becomes a warning."""
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    known = ", ".join(ASSET_TYPES)
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
        problems.append(
            f"with.asset_types: expected a list of asset types ({known}), got {_describe(value)}"
        )
        return None
    if not value:
        problems.append(
            f"with.asset_types: empty; list some of {known}, or leave it out to optimize all"
        )
        return None
    chosen: list[str] = []
    for name in value:
        if name in ASSET_TYPES:
            if name not in chosen:
                chosen.append(name)
            continue
        close = difflib.get_close_matches(name, list(ASSET_TYPES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        warning = f"{name}: not supported by cadenza-assets, skipped{hint}"
        if warning not in warnings:
            warnings.append(warning)
    if not chosen:
        problems.append(
            f"with.asset_types: none of {', '.join(value)} is supported; "
            f"cadenza-assets optimizes {known}"
        )
        return None
    return tuple(chosen)


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


def parse_inputs(inputs: Mapping[str, Any], *, default_paths: Sequence[str] = ()) -> StepInputs:
    """Check a step's inputs; raise :class:`InputError` listing every problem found.

    ``default_paths`` (the agent's ``paths`` option) are used when the step
    gives neither ``files`` nor ``paths``.
    """
    problems: list[str] = []
    warnings: list[str] = []
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
        if default_paths:
            paths = list(default_paths)
        else:
            problems.append(
                "with.files: missing; list the assets to optimize, for example "
                "files: [Assets/Textures] (files, folders or globs, relative to the workflow "
                "file), or give the agent options: {paths: [...]}"
            )
    preset = _preset("preset", inputs.get("preset"), problems)
    platform = _preset("target_platform", inputs.get("target_platform"), problems)
    if preset is not None and platform is not None and preset != platform:
        problems.append(
            f"with.target_platform: {platform!r} differs from with.preset {preset!r}; "
            "target_platform is another name for preset: give one of them"
        )
    asset_types = _asset_types(inputs.get("asset_types"), problems, warnings)
    overrides = _overrides(inputs.get("overrides"), problems)
    if problems:
        raise InputError("\n".join(problems))
    return StepInputs(
        paths=tuple(paths),
        preset=preset or platform,
        overrides=overrides,
        asset_types=asset_types,
        warnings=tuple(warnings),
    )

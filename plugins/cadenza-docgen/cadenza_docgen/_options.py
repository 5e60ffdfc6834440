"""The ``docgen`` agent's options, and a step's inputs that name sources or override them.

Options are structured by the kernel's converter from the agent's ``options:``
(so mistakes are reported with file and line when the workflow loads); a step
names its sources in ``files``/``paths`` and may override most options in its
``with:``, checked here when the step runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import attrs

LANGUAGES = {"csharp": "csharp", "c#": "csharp", "cs": "csharp", "python": "python", "py": "python"}
"""Accepted names of the ``languages`` option, to the language each means."""

# Validator messages start with the field's name, and may add a hint on a line
# of its own: the kernel's loader turns both into "file:line: path: message".


def _check_list(instance: object, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
    """Catch a string given where a list belongs (the converter splits it into characters)."""
    if len(value) > 1 and all(len(v) == 1 for v in value):
        text = "".join(value)
        raise ValueError(
            f"{attribute.name}: expected a list, got the string {text!r}\n"
            f"Write {attribute.name}: [{text}]"
        )


def _check_languages(instance: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    _check_list(instance, attribute, value)
    unknown = [v for v in value if v.lower() not in LANGUAGES]
    if unknown:
        raise ValueError(
            f"languages: unknown language {', '.join(map(repr, unknown))}\n"
            "Use csharp or python, or leave languages out to pick by file extension."
        )


def _check_minimum(instance: object, attribute: attrs.Attribute[Any], value: int) -> None:
    minimum = 0 if attribute.name == "max_enrich" else 1
    if value < minimum:
        raise ValueError(f"{attribute.name}: expected an integer >= {minimum}, got {value}")


def _check_root(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is not None and not value.strip():
        raise ValueError(
            "root: expected a folder, got an empty string\n"
            "Leave root out to use the workflow file's folder, or name the project folder."
        )


@attrs.frozen(kw_only=True)
class DocgenOptions:
    """``options:`` of a ``docgen`` agent (the README describes each)."""

    languages: tuple[str, ...] = attrs.field(default=(), validator=_check_languages)
    include_private: bool = False
    title: str = "API reference"
    one_file: bool = False
    enrich_with: str | None = None
    max_enrich: int = attrs.field(default=50, validator=_check_minimum)
    enrich_concurrency: int = attrs.field(default=4, validator=_check_minimum)
    exclude: tuple[str, ...] = attrs.field(default=(), validator=_check_list)
    root: str | None = attrs.field(default=None, validator=_check_root)
    """The project folder paths in the docs are relative to (default: the workflow's folder)."""

    @property
    def language_set(self) -> frozenset[str]:
        """The languages to document (all when ``languages`` is empty)."""
        chosen = frozenset(LANGUAGES[x.lower()] for x in self.languages)
        return chosen or frozenset(LANGUAGES.values())


_OVERRIDES: dict[str, type | tuple[type, ...]] = {
    "title": str,
    "include_private": bool,
    "one_file": bool,
    "enrich_with": (str, type(None)),
    "max_enrich": int,
    "languages": list,
    "exclude": list,
    "root": str,
}
INPUTS = ("files", "paths", *_OVERRIDES)
"""Every input a docgen step accepts."""


def step_settings(
    options: DocgenOptions, inputs: Mapping[str, Any]
) -> tuple[list[str], DocgenOptions]:
    """The step's source entries and options; ``ValueError`` says what is wrong."""
    unknown = sorted(set(inputs) - set(INPUTS))
    if unknown:
        raise ValueError(
            f"unknown input {', '.join(map(repr, unknown))}; a docgen step takes "
            f"{', '.join(INPUTS)}"
        )
    entries = _entries(inputs, "files") + _entries(inputs, "paths")
    if not entries:
        raise ValueError(
            "no sources given: set the step's `files` (or `paths`) input to files, "
            "folders or globs, e.g. `with: {files: [Assets/Scripts]}`"
        )
    for key in _OVERRIDES:
        if key in inputs:
            options = _override(options, key, inputs[key])
    return entries, options


def _entries(inputs: Mapping[str, Any], key: str) -> list[str]:
    value = inputs.get(key)
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"input {key!r} must be a path, a glob or a list of them, got {value!r}")


def _override(options: DocgenOptions, key: str, given: Any) -> DocgenOptions:
    expected = _OVERRIDES[key]
    if expected is list and isinstance(given, str):
        given = [given]
    if not isinstance(given, expected) or (expected is int and isinstance(given, bool)):
        raise ValueError(f"input {key!r} must be {_describe(expected)}, got {given!r}")
    value: Any = tuple(str(v) for v in cast("list[Any]", given)) if expected is list else given
    try:
        return attrs.evolve(options, **{key: value})
    except ValueError as exc:
        text, _, hint = str(exc).removeprefix(f"{key}: ").partition("\n")
        raise ValueError(f"input {key!r}: {text}" + (f". {hint}" if hint else "")) from None


def _describe(expected: type | tuple[type, ...]) -> str:
    if isinstance(expected, tuple):
        return "a string or null"
    names = {str: "a string", bool: "true or false", int: "an integer", list: "a list of strings"}
    return names.get(expected, expected.__name__)


DocgenOptions.__module__ = "cadenza_docgen"  # tracebacks and reprs say cadenza_docgen.DocgenOptions

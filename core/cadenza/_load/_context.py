"""The state one workflow load shares: problems found so far, positions and secrets.

Both formats (``_format_native``, ``_format_seed``) and the cross-step checks
(``_load_checks``) report through one :class:`LoadContext`, so a load never
stops at the first problem: every problem gets the file:line:col of the value
at fault (from the parsed YAML document), the value's path and a hint, and
secrets expanded from the environment are redacted from all of them at the end.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import attrs

from .._paths import ValuePath, render_path
from .._plugins._registry import Plugins
from .._problems import Problem, SourceLocation
from .._redact import redact
from .._spec._convert import describe_value, suggest
from .._spec._convert import listing as listing  # where the loader's modules import it from
from .._spec._workflow import parse_duration

__all__ = ["LoadContext", "Locator", "listing", "quote_hint"]

_ENV_REF = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
"""``${NAME}``, or ``${NAME:-default}`` (the default when NAME is unset or empty)."""

_MISSING: Any = object()


class Locator(Protocol):
    """Where each value of the loaded data was written: a parsed YAML document, or the
    call sites of a workflow built in Python (``cadenza._build``)."""

    def locate(self, path: ValuePath, *, key: bool = False) -> SourceLocation | None:
        """Where ``path`` is (its key's position with ``key``), or its nearest ancestor."""
        ...


@attrs.define
class LoadContext:
    """One load's shared state: the parsed document, the plugins, and every problem so far.

    Each format reads its sections through the typed getters below; a getter
    that finds the wrong kind of value records a problem and returns a fallback,
    so checking carries on and every problem is reported at once.
    """

    doc: Locator | None
    plugins: Plugins
    environ: Mapping[str, str]
    base_dir: Path
    missing_env: Literal["error", "warning"] = "error"
    """How an unset ``${NAME}`` counts: an error to run, only a warning to a linter."""
    chain: tuple[Path, ...] = ()
    """The files being loaded, outermost first, this one last: sub-workflows must not loop."""
    problems: list[Problem] = attrs.field(factory=list)
    secrets: set[str] = attrs.field(factory=set)
    malformed: set[ValuePath] = attrs.field(factory=set)
    """Sections already reported as missing or of the wrong type (no follow-up errors)."""

    def loc(self, path: ValuePath, *, key: bool = False) -> SourceLocation | None:
        """Where ``path`` is in the file (its key's position with ``key``); None for parsed data."""
        return self.doc.locate(path, key=key) if self.doc is not None else None

    def error(self, path: ValuePath, message: str, hint: str = "", *, key: bool = False) -> None:
        """Record a problem that stops the file from loading."""
        self._add(path, message, hint, key=key, severity="error")

    def warn(self, path: ValuePath, message: str, hint: str = "") -> None:
        """Record a problem that lets the file load (it will likely fail at run time)."""
        self._add(path, message, hint, key=False, severity="warning")

    def _add(
        self,
        path: ValuePath,
        message: str,
        hint: str,
        *,
        key: bool,
        severity: Literal["error", "warning"],
    ) -> None:
        """Record one problem, located at the key (``key``) or the value of ``path``."""
        self.problems.append(
            Problem(
                message=message,
                path=render_path(path),
                location=self.loc(path, key=key),
                hint=hint,
                severity=severity,
            )
        )

    def finish(self) -> list[Problem]:
        """Every problem, with secret values redacted from messages and hints."""
        if not self.secrets:
            return self.problems
        return [
            attrs.evolve(
                p, message=redact(p.message, self.secrets), hint=redact(p.hint, self.secrets)
            )
            for p in self.problems
        ]

    # -- typed getters: report a problem and return a fallback when the value is wrong --

    def mapping(
        self, value: Any, path: ValuePath, what: str, hint: str = ""
    ) -> Mapping[Any, Any] | None:
        """``value`` if it is a mapping; otherwise report that ``what`` must be one."""
        if isinstance(value, Mapping):
            return value
        self.error(path, f"{what} must be a mapping, got {describe_value(value)}", hint)
        return None

    def keys(
        self, mapping: Mapping[Any, Any], path: ValuePath, allowed: Sequence[str], where: str
    ) -> None:
        """Report every key of ``mapping`` not in ``allowed``, suggesting the closest."""
        for key in mapping:
            if key in allowed:
                continue
            hint = suggest(str(key), allowed) + f"Allowed keys {where}: {', '.join(allowed)}."
            self.error((*path, key), f"unknown key {key!r} {where}", hint, key=True)

    def string(
        self, mapping: Mapping[Any, Any], key: str, path: ValuePath, *, required: str = ""
    ) -> str | None:
        """The string at ``mapping[key]``; ``required`` is the hint when it is missing."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING or (value is None and required):
            if required:
                self.error(path, f"missing required key {key!r}", required, key=True)
            return None
        if value is None:
            return None
        if isinstance(value, str):
            if required and not value.strip():
                self.error((*path, key), f"{key} must not be empty", required)
                return None
            return value
        self.error(
            (*path, key), f"{key} must be a string, got {describe_value(value)}", quote_hint(value)
        )
        return None

    def integer(
        self,
        mapping: Mapping[Any, Any],
        key: str,
        path: ValuePath,
        *,
        default: int,
        minimum: int | None = None,
        hint: str = "",
    ) -> int:
        """The integer at ``mapping[key]``, ``default`` when missing or wrong (bools are not)."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(
                (*path, key),
                f"{key} must be an integer, got {describe_value(value)}",
                hint or "Write a whole number, without quotes.",
            )
            return default
        if minimum is not None and value < minimum:
            self.error(
                (*path, key),
                f"{key} must be at least {minimum}, got {value}",
                hint or f"Use a whole number >= {minimum}.",
            )
            return default
        return value

    def boolean(
        self, mapping: Mapping[Any, Any], key: str, path: ValuePath, *, default: bool
    ) -> bool:
        """The boolean at ``mapping[key]``, ``default`` when missing or wrong."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        self.error(
            (*path, key),
            f"{key} must be true or false, got {describe_value(value)}",
            "Write true or false, without quotes.",
        )
        return default

    def duration(self, value: Any, path: ValuePath, *, allow_zero: bool = True) -> float | None:
        """``value`` (``30s``, ``1m30s``, a number) in seconds; None when it is not one."""
        try:
            seconds = float(parse_duration(value))
        except ValueError as exc:
            self.error(
                path, str(exc), "Write a number of seconds or a string like 30s, 1m30s or 2h."
            )
            return None
        if not allow_zero and seconds <= 0:
            self.error(
                path,
                f"{path[-1]} must be greater than 0, got {value!r}",
                "Use a duration like 30s.",
            )
            return None
        return seconds

    def names(self, value: Any, path: ValuePath, what: str) -> list[tuple[str, ValuePath]]:
        """A list of strings (or one string) with each entry's path."""
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, path)]
        if not isinstance(value, list):
            self.error(path, f"{what} must be a list of strings, got {describe_value(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append((item, (*path, i)))
            else:
                self.error(
                    (*path, i),
                    f"{what} entries must be strings, got {describe_value(item)}",
                    quote_hint(item),
                )
        return out

    def name_key(self, key: Any, path: ValuePath, what: str) -> str | None:
        """A mapping key used as a name (a step id, an agent name): a non-empty string."""
        if isinstance(key, str) and key.strip():
            return key
        if isinstance(key, str):
            self.error(path, f"{what} must not be empty", key=True)
        else:
            self.error(
                path,
                f"{what} must be a string, got {describe_value(key)}",
                quote_hint(key),
                key=True,
            )
        return None

    # -- environment variables ----------------------------------------------------------

    def expand_env(
        self, value: Any, path: ValuePath, found: set[str], *, secret: bool = False
    ) -> Any:
        """Expand ``${NAME}`` in every string under ``value``; add secrets to ``found``.

        Secrets are every expanded value and every string under an ``api_key`` key.
        """
        if isinstance(value, str):
            out, complete = self._expand_string(value, path, found)
            if secret and complete and out:
                found.add(out)
                self.secrets.add(out)
            return out
        if isinstance(value, Mapping):
            return {
                k: self.expand_env(v, (*path, k), found, secret=secret or k == "api_key")
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.expand_env(v, (*path, i), found, secret=secret) for i, v in enumerate(value)
            ]
        return value

    def _expand_string(self, text: str, path: ValuePath, found: set[str]) -> tuple[str, bool]:
        """``text`` with ``${NAME}`` expanded (``$${NAME}`` is literal); False if one is unset.

        ``${NAME:-default}`` takes ``default`` (written in the file, so not a
        secret) when NAME is unset or empty, as in the shell.
        """
        missing = False

        def sub(match: re.Match[str]) -> str:
            nonlocal missing
            escaped, name, default = match.group(1), match.group(2), match.group(3)
            if escaped:
                return match.group(0)[1:]
            value = self.environ.get(name)
            if default is not None and not value:
                return default
            if value is None:
                fix = (
                    f"export {name}=... before running cadenza, write ${{{name}:-default}} "
                    f"for a fallback value (or $${{{name}}} for a literal)."
                )
                if self.missing_env == "warning":
                    self.warn(
                        path,
                        f"environment variable {name} is not set (cadenza run will need it)",
                        fix,
                    )
                else:
                    self.error(path, f"environment variable {name} is not set", fix)
                missing = True
                return match.group(0)
            if value:
                found.add(value)
                self.secrets.add(value)
            return value

        out = _ENV_REF.sub(sub, text)
        return out, not missing


def quote_hint(value: Any) -> str:
    """The hint for a number, boolean or null where a string belongs: quote it."""
    if isinstance(value, bool | int | float) or value is None:
        return f"Quote it to make it a string: '{_yaml_scalar(value)}'."
    return ""


def _yaml_scalar(value: Any) -> str:
    """``value`` as YAML writes it, to show in a quoting hint."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)

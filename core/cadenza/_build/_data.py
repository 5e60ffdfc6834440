"""Python values to workflow data: the JSON-shaped values a YAML file would hold.

References become their ``${{ }}`` text, handles their names, tuples lists;
in the agents section a function becomes the ``module:attribute`` path the
``python`` kind imports. Anything else that YAML could not hold (a set, a
``Path``, an object) is a problem at the builder call that passed it, with
the conversion to make, instead of a failure halfway through a run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._paths import ValuePath, render_path
from .._problems import Problem, SourceLocation
from .._spec._convert import describe_value
from ._refs import AgentHandle, Ref, StepHandle

__all__ = ["Converter", "import_path"]

_SCALARS = (str, int, float, bool, type(None))


def import_path(fn: Callable[..., Any]) -> str | None:
    """``module:qualified.name`` for a module-level function or class; None when it has none."""
    module = getattr(fn, "__module__", None)
    qualname = getattr(fn, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname:
        return None
    return f"{module}:{qualname}"


class Converter:
    """Converts one builder call's values, recording a problem per value YAML cannot hold."""

    def __init__(self, problems: list[Problem], site: SourceLocation | None) -> None:
        self.problems = problems
        self.site = site

    def problem(self, path: ValuePath, message: str, hint: str) -> None:
        self.problems.append(
            Problem(message=message, path=render_path(path), location=self.site, hint=hint)
        )

    def value(self, value: Any, path: ValuePath, *, functions: bool = False) -> Any:
        """``value`` as workflow data; ``functions`` turns callables into import paths."""
        if isinstance(value, _SCALARS):
            return value
        if isinstance(value, Ref):
            return str(value)
        if isinstance(value, AgentHandle):
            return value.name
        if isinstance(value, StepHandle):
            self.problem(
                path,
                f"step {value.id!r} is a step, not a value",
                f"Pass its output: {value.id}.output (or a part of it, {value.id}.output.key); "
                "to wait for the step without reading it, list it in needs=.",
            )
            return None
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if isinstance(key, Ref | AgentHandle | StepHandle):
                    key = str(key)
                if not isinstance(key, str):
                    self.problem(
                        (*path, str(key)),
                        f"mapping keys must be strings, got {describe_value(key)}",
                        f"Write the key as a string: {str(key)!r}.",
                    )
                    continue
                out[key] = self.value(item, (*path, key), functions=functions)
            return out
        if isinstance(value, list | tuple):
            return [self.value(v, (*path, i), functions=functions) for i, v in enumerate(value)]
        if functions and callable(value):
            target = import_path(value)
            if target is not None:
                return target
            self.problem(
                path,
                f"{value!r} cannot be imported by path",
                "Define the function at module level (not inside another function or as a "
                "lambda), or pass its import path as a string: 'module:function'.",
            )
            return None
        hint = (
            "Workflow data is what YAML holds: strings, numbers, booleans, None, lists and dicts."
        )
        if isinstance(value, set | frozenset):
            hint += " Pass a sorted list instead of a set."
        elif hasattr(value, "__fspath__"):
            hint += " Pass the path as a string: str(path)."
        self.problem(path, f"{describe_value(value)} is not workflow data", hint)
        return None

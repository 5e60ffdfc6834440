"""The error hierarchy: every kernel error class lives in cadenza._errors and is drawn there."""

from __future__ import annotations

import importlib
import pkgutil
import re

import cadenza
from cadenza import _errors


def kernel_error_classes() -> set[type[BaseException]]:
    """Every CadenzaError subclass a kernel module defines (all modules imported first)."""
    for info in pkgutil.walk_packages(cadenza.__path__, "cadenza."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
    found: set[type[BaseException]] = set()
    todo: list[type[BaseException]] = [_errors.CadenzaError]
    while todo:
        cls = todo.pop()
        if cls.__module__.split(".")[0] == "cadenza":  # not a test's own subclass
            found.add(cls)
            todo.extend(cls.__subclasses__())
    return found


def test_every_kernel_error_class_is_defined_in_the_errors_module() -> None:
    """No kernel module defines a CadenzaError subclass outside cadenza/_errors.py."""
    elsewhere = sorted(
        f"{cls.__qualname__} (published as {cls.__module__})"
        for cls in kernel_error_classes()
        if vars(_errors).get(cls.__name__) is not cls
    )
    assert elsewhere == []


def test_every_error_class_is_drawn_in_the_tree() -> None:
    """The errors module docstring draws every class it defines, each on its own line."""
    doc = _errors.__doc__ or ""
    drawn = set(re.findall(r"── (\w+)", doc))
    defined = {
        name
        for name, obj in vars(_errors).items()
        if isinstance(obj, type) and issubclass(obj, BaseException)
    }
    assert defined - drawn - {"CadenzaError"} == set()
    assert "    CadenzaError\n" in doc

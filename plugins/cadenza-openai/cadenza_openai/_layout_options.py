"""Validators of the agent's file-layout options: ``tests_dir``, ``scripts_dir``, ``assembly``.

They live apart from :mod:`._options` (which checks how to reach the model)
because they say where the reply's files go (:mod:`._naming`). Each message
names its field first, so the loader reports it at the option's file:line.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from ._codeblocks import safe_relative_path

_ASSEMBLY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")


def check_folder(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """A folder inside the step's output folder, written as a plain relative path."""
    if value is None:
        return
    if safe_relative_path(value) != value.rstrip("/"):
        raise ValueError(
            f"{attribute.name}: expected a relative folder such as 'Assets/Tests', got {value!r}\n"
            "Use forward slashes, no '..', no leading '/' or drive letter: the folder is "
            "inside the step's output folder."
        )


def check_assembly(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    """An assembly name Unity accepts: dotted identifiers, not a reserved Unity assembly."""
    if value is None:
        return
    if not _ASSEMBLY.fullmatch(value):
        raise ValueError(
            f"assembly: expected an assembly name such as 'Game.Scripts', got {value!r}\n"
            "Letters, digits and underscores, in parts separated by dots; null writes no "
            "runtime asmdef."
        )
    if value == "Assembly-CSharp" or value.startswith(("UnityEngine", "UnityEditor", "Unity.")):
        raise ValueError(
            f"assembly: {value!r} is a name Unity uses itself\n"
            "Name the assembly of your own scripts, e.g. 'Game.Scripts'."
        )

"""Planned files renamed to their language's rules: C# after its type, Python as a module.

A model names its fences as it likes (```` ```csharp generate_component_code.cs ````),
and unnamed blocks are named after the step; neither is what a project
accepts. Unity attaches a MonoBehaviour only from a file named after its
class, so each C# block is split into one file per public top-level type
(:func:`._csharp.split_types`) named ``<Type>.cs`` (``Foo<T>`` -> ``Foo.cs``).
The fence's folder is kept only when its file name agrees with a type the
block declares (```` ```csharp Assets/Scripts/PlayerMovement.cs ```` stays,
and the block's other types go beside it); otherwise the file goes to the
output folder's root. A block with no public type keeps its name.

NUnit tests go where Unity's Test Runner finds them, with their assembly
definitions (:mod:`._unity_tests`). Python files get a module name Python can
import: snake_case, an identifier, not a keyword (``PlayerMovement.py`` ->
``player_movement.py``, ``build[0].py`` -> ``build_0.py``).

Every renamed file keeps the model's name as ``requested``, so the output
says what was asked and what was written.
"""

from __future__ import annotations

import keyword
import posixpath
import re
from collections.abc import Iterable

import attrs

from ._codeblocks import PlannedFile
from ._csharp import split_types
from ._unity_tests import (
    Mode,
    asmdef_for_tests,
    assembly_for_tests,
    is_nunit_test,
    runner_mode,
    runtime_asmdef_json,
)

_CSHARP = frozenset({"csharp", "cs", "c#"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_NOT_WORD = re.compile(r"\W+")


@attrs.frozen(kw_only=True)
class FileLayout:
    """Where generated Unity files go (the agent's ``tests_dir``, ``scripts_dir``, ``assembly``).

    ``tests_dir`` None leaves NUnit tests where their name puts them, with no
    asmdef; ``assembly`` None writes no runtime asmdef, so the tests' asmdef
    references only the test runner.
    """

    tests_dir: str | None = "Assets/Tests"
    scripts_dir: str = "Assets/Scripts"
    assembly: str | None = "Scripts"


def module_name(stem: str) -> str:
    """``stem`` as a Python module name: snake_case identifier, never a keyword."""
    if stem in ("__init__", "__main__"):
        return stem
    name = _NOT_WORD.sub("_", _CAMEL.sub("_", stem)).strip("_").lower()
    name = re.sub("_+", "_", name) or "module"
    if name[0].isdigit():
        name = "module_" + name
    return name + "_" if keyword.iskeyword(name) else name


def _renamed(planned: PlannedFile, path: str, content: str) -> PlannedFile:
    requested = planned.requested
    if path != planned.path and requested is None and planned.named:
        requested = planned.path
    return attrs.evolve(planned, path=path, content=content, requested=requested)


def _python(planned: PlannedFile) -> PlannedFile:
    folder, base = posixpath.split(planned.path)
    stem = base[: -len(".py")]
    path = posixpath.join(folder, module_name(stem) + ".py")
    return _renamed(planned, path, planned.content)


def _csharp(planned: PlannedFile, layout: FileLayout, modes: set[Mode]) -> Iterable[PlannedFile]:
    parts = split_types(planned.content)
    names = {name for name, _ in parts}
    if parts == [("", planned.content)]:
        yield planned
        return
    folder, base = posixpath.split(planned.path)
    stem = base.rsplit(".", 1)[0]
    if not planned.named or stem not in names:
        folder = ""
    for name, source in parts:
        where = folder
        if layout.tests_dir is not None and is_nunit_test(source):
            mode = runner_mode(source)
            modes.add(mode)
            where = posixpath.join(layout.tests_dir, mode)
        yield _renamed(planned, posixpath.join(where, f"{name}.cs"), source)


def arrange(files: Iterable[PlannedFile], layout: FileLayout) -> list[PlannedFile]:
    """``files`` renamed and split by their language's rules, plus the asmdefs tests need.

    When two files end up with one path, the later wins and keeps the
    earlier one's place, as when a model names one file twice.
    """
    arranged: dict[str, PlannedFile] = {}
    modes: set[Mode] = set()
    for planned in files:
        language = planned.language.lower()
        if language in _CSHARP or planned.path.endswith(".cs"):
            for part in _csharp(planned, layout, modes):
                arranged[part.path] = part
        elif language == "python" or planned.path.endswith(".py"):
            part = _python(planned)
            arranged[part.path] = part
        else:
            arranged[planned.path] = planned
    runtime = layout.assembly if modes else None
    if runtime is not None:
        path = posixpath.join(layout.scripts_dir, f"{runtime}.asmdef")
        arranged[path] = PlannedFile(
            path=path, language="json", content=runtime_asmdef_json(runtime)
        )
    for mode in sorted(modes):
        assert layout.tests_dir is not None  # modes are only found with a tests_dir
        path = posixpath.join(layout.tests_dir, mode, f"{assembly_for_tests(mode)}.asmdef")
        arranged[path] = PlannedFile(
            path=path, language="json", content=asmdef_for_tests(mode, runtime=runtime)
        )
    return list(arranged.values())

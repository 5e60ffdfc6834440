"""The ``unity_layout`` step: lay a run's outputs into a Unity project tree.

A ``python`` agent step (``function: "unity_layout:lay_out"``,
``pass_request: true``) that reads the outputs of earlier steps and places
their files where a Unity project expects them:

- scripts (openai steps: ``{dir, files: [{path}]}``, or a list of them, as a
  ``for_each`` step gives): a path that already starts with ``Assets/`` keeps
  it; otherwise NUnit tests (``*Tests.cs``, ``*Test.cs``, or a file using
  ``NUnit.Framework``) go to ``Assets/Tests/EditMode/``, or
  ``Assets/Tests/PlayMode/`` when they have ``[UnityTest]`` coroutines; test
  assembly definitions (``.asmdef`` naming ``UNITY_INCLUDE_TESTS`` or
  ``nunit.framework.dll``) beside them, by their ``includePlatforms``; every
  other file under ``Assets/Scripts/``;
- docs (a docgen output: ``{dir, files: [{page}], index}``) under
  ``Documentation~/``, which Unity does not import (a folder ending in ``~``);
- textures (an assets output: ``{preset, files: [{path, output, status}]}``)
  beside their originals in a platform folder,
  ``Assets/Textures/Optimized/mobile/ground_albedo.jpg`` (``texture_placement:
  folder``, the default), or beside them with the platform in the name,
  ``Assets/Textures/ground_albedo.mobile.jpg`` (``texture_placement: suffix``).
  Never over the originals: the optimized file may be smaller but it is not
  the user's source art.

No ``.meta`` files are written: Unity creates one for every imported file,
with a fresh GUID, when it first sees the file; a ``.meta`` we made up could
collide with the project's GUIDs. Files are written by ``unity_layout_files``,
which refuses to overwrite a file the user changed, or one it did not write,
unless ``overwrite`` is true.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from unity_layout_files import (
    MANIFEST,
    LayoutConflictError,
    Placement,
    check_target,
    read_manifest,
    write_all,
)

import cadenza

TEXTURE_PLACEMENTS = ("folder", "suffix")
"""Where optimized textures go: ``folder`` in ``<original's folder>/Optimized/<platform>/``,
``suffix`` beside the original as ``<name>.<platform>.<ext>``."""

_NUNIT = re.compile(r"^\s*using\s+NUnit\.Framework\s*;", re.M)
_UNITY_TEST = re.compile(r"\[\s*UnityTest\s*[\]\(,]")
_TEST_NAME = re.compile(r"Tests?\.cs$")


def lay_out(request: cadenza.AgentRequest) -> dict[str, Any]:
    """The step: plan every file's place, then write them all or none (see the module doc)."""
    inputs = dict(request.inputs)
    try:
        project, overwrite, placement = _settings(inputs, request.output_dir)
        files = [
            *plan_scripts(inputs.get("scripts")),
            *plan_docs(inputs.get("docs")),
            *plan_textures(inputs.get("textures"), placement, inputs.get("platform")),
        ]
        _check_sources(files)
        files = _unique(files)
    except ValueError as exc:
        raise cadenza.PermanentError(f"unity_layout: {exc}", step_id=request.step_id) from None
    if not files:
        raise cadenza.PermanentError(
            "unity_layout: nothing to lay out: the scripts, docs and textures inputs name no "
            "files. Pass the outputs of the steps that made them, e.g. "
            "`scripts: ${{ steps.generate_component_code.output }}`.",
            step_id=request.step_id,
        )
    try:
        files, kept = _project_assemblies(project, files)
        result = write_all(project, files, overwrite=overwrite)
    except LayoutConflictError as exc:
        raise cadenza.PermanentError(f"unity_layout: {exc}", step_id=request.step_id) from None
    except OSError as exc:
        raise cadenza.PermanentError(
            f"unity_layout: cannot write into {project}: {exc}", step_id=request.step_id
        ) from None
    return {
        "project": str(project),
        "manifest": MANIFEST,
        "files": [
            {"path": f.target, "kind": f.kind, **({"degraded": True} if f.degraded else {})}
            for f in files
        ],
        "written": list(result.written),
        "unchanged": list(result.unchanged),
        "stale": list(result.stale),
        "kept": kept,
    }


def _project_assemblies(project: Path, files: list[Placement]) -> tuple[list[Placement], list[str]]:
    """Respect the project's own assembly definitions (Unity allows one per folder).

    An asmdef the project already has at a target, naming the same assembly,
    is the project's: it is kept, not replaced (the generated one only says the
    tests may reference that assembly), and listed in ``kept``. Another asmdef
    of the project in a target's folder would make two in one folder: refused,
    saying which ``assembly:`` to set on the agent that wrote the tests.
    """
    ours = read_manifest(project)
    placed, kept, clashes = [], [], []
    for f in files:
        target = PurePosixPath(f.target)
        if target.suffix != ".asmdef":
            placed.append(f)
            continue
        folder = project / target.parent
        theirs = [] if not folder.is_dir() else sorted(
            p for p in folder.glob("*.asmdef")
            if (target.parent / p.name).as_posix() not in ours
        )  # fmt: skip
        same = [p for p in theirs if p.name == target.name]
        if same and _assembly_name(same[0]) == _assembly_name(f.source):
            kept.append(f.target)
            continue
        others = [p for p in theirs if p.name != target.name]
        if others:
            name = _assembly_name(others[0]) or others[0].stem
            clashes.append(
                (f.target, f"{target.parent}/ already has the project's {others[0].name} "
                 f"(assembly {name!r}); set `assembly: {name}` on the agent that writes the "
                 f"tests, so they reference it and no second asmdef is made")
            )  # fmt: skip
            continue
        placed.append(f)
    if clashes:
        raise LayoutConflictError(
            "Unity allows one assembly definition per folder:\n"
            + "\n".join(f"  {path}: {why}" for path, why in clashes)
            + "\nNothing was written.",
            clashes,
        )
    return placed, kept


def _assembly_name(path: Path) -> str | None:
    """The ``name`` of an asmdef, None when it cannot be read."""
    try:
        name = json.loads(path.read_text(encoding="utf-8-sig")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) else None


def _settings(inputs: Mapping[str, Any], output_dir: Path | None) -> tuple[Path, bool, str]:
    known = {"project", "overwrite", "scripts", "docs", "textures", "texture_placement", "platform"}
    unknown = sorted(set(inputs) - known)
    if unknown:
        raise ValueError(
            f"unknown input {', '.join(map(repr, unknown))}; the step takes "
            f"{', '.join(sorted(known))}"
        )
    given = inputs.get("project") or None
    if given is None:
        if output_dir is None:
            raise ValueError(
                "no project folder: set the step's `project` input, or give the run an "
                "output folder (--out) to lay the project out in the step's own folder there"
            )
        project = output_dir
    elif isinstance(given, str):
        project = Path(os.path.expanduser(given))
    else:
        raise ValueError(f"input 'project' must be a folder path, got {given!r}")
    overwrite = inputs.get("overwrite", False)
    if not isinstance(overwrite, bool):
        raise ValueError(f"input 'overwrite' must be true or false, got {overwrite!r}")
    placement = inputs.get("texture_placement") or "folder"
    if placement not in TEXTURE_PLACEMENTS:
        raise ValueError(
            f"input 'texture_placement' must be one of {', '.join(TEXTURE_PLACEMENTS)}, "
            f"got {placement!r}"
        )
    return project.absolute(), overwrite, placement


def _outputs(value: Any, name: str) -> Iterator[Mapping[str, Any]]:
    """Step outputs from an input: one mapping, or (nested) lists of them; nulls skipped."""
    if value is None:
        return
    if isinstance(value, Mapping):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _outputs(item, name)
    else:
        raise ValueError(
            f"input {name!r} must be a step's output (a mapping) or a list of them, "
            f"got {type(value).__name__} {value!r:.80}"
        )


def _folder(output: Mapping[str, Any], name: str) -> Path | None:
    folder = output.get("dir")
    if folder is None:
        return None  # the step wrote nothing (no output folder): nothing to place
    if not isinstance(folder, str):
        raise ValueError(f"input {name!r}: 'dir' must be a folder path, got {folder!r}")
    return Path(folder)


def plan_scripts(value: Any) -> list[Placement]:
    """Places for the files of code-writing steps (see the module doc for the rules)."""
    placements = []
    for output in _outputs(value, "scripts"):
        folder = _folder(output, "scripts")
        if folder is None:
            continue
        degraded = bool(output.get("degraded"))
        for entry in output.get("files") or []:
            relative = entry.get("path") if isinstance(entry, Mapping) else None
            if not isinstance(relative, str):
                raise ValueError(f"input 'scripts': a files entry has no 'path': {entry!r:.80}")
            check_target(relative)
            source = folder / relative
            target, kind = script_target(relative, source)
            placements.append(
                Placement(source=source, target=check_target(target), kind=kind, degraded=degraded)
            )
    return placements


def script_target(relative: str, source: Path) -> tuple[str, str]:
    """Where a generated file goes in the project, and its kind."""
    path = PurePosixPath(relative.replace("\\", "/"))
    text = _read_text(source) if path.suffix in (".cs", ".asmdef") else ""
    if path.suffix == ".asmdef":
        kind, mode = _assembly(text)
    elif path.suffix == ".cs" and (_TEST_NAME.search(path.name) or _NUNIT.search(text)):
        kind, mode = "test", "PlayMode" if _UNITY_TEST.search(text) else "EditMode"
    else:
        kind, mode = "script", ""
    if path.parts and path.parts[0] == "Assets":
        return path.as_posix(), kind
    if kind == "test" or (kind == "assembly" and mode):
        return f"Assets/Tests/{mode}/{path.as_posix()}", kind
    return f"Assets/Scripts/{path.as_posix()}", kind


def _assembly(text: str) -> tuple[str, str]:
    """``("assembly", mode)``: a test assembly's mode, ``""`` for a runtime assembly."""
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        data = {}
    data = data if isinstance(data, dict) else {}
    constraints = data.get("defineConstraints") or []
    precompiled = data.get("precompiledReferences") or []
    if "UNITY_INCLUDE_TESTS" in constraints or "nunit.framework.dll" in precompiled:
        return "assembly", "EditMode" if data.get("includePlatforms") == ["Editor"] else "PlayMode"
    return "assembly", ""


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror or exc}") from None


def plan_docs(value: Any) -> list[Placement]:
    """Docgen pages under ``Documentation~/``, as the step laid them out."""
    placements = []
    for output in _outputs(value, "docs"):
        folder = _folder(output, "docs")
        if folder is None:
            continue
        pages = {"index.md"} if output.get("index") else set()
        for entry in output.get("files") or []:
            page = entry.get("page") if isinstance(entry, Mapping) else None
            if isinstance(page, str):
                pages.add(page)
        for page in sorted(pages):
            target = check_target(f"Documentation~/{page}")
            placements.append(Placement(source=folder / page, target=target, kind="docs"))
    return placements


def plan_textures(value: Any, placement: str, platform: Any) -> list[Placement]:
    """Optimized textures beside their originals: a platform folder, or a platform suffix."""
    placements = []
    for output in _outputs(value, "textures"):
        name = platform or output.get("preset") or "optimized"
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
            raise ValueError(f"input 'platform' must be a folder name, got {name!r}")
        for entry in output.get("files") or []:
            if not isinstance(entry, Mapping) or entry.get("status") == "failed":
                continue
            written, original = entry.get("output"), entry.get("path")
            if not isinstance(written, str) or not isinstance(original, str):
                raise ValueError(
                    f"input 'textures': an entry needs 'path' and 'output', got {entry!r:.80}"
                )
            target = texture_target(original, Path(written).suffix, name, placement)
            placements.append(
                Placement(source=Path(written), target=check_target(target), kind="texture")
            )
    return placements


def texture_target(original: str, suffix: str, platform: str, placement: str) -> str:
    """``Assets/Textures/a.png`` -> ``Assets/Textures/Optimized/mobile/a.jpg`` or
    ``Assets/Textures/a.mobile.jpg``; a path outside ``Assets`` goes under ``Assets/Textures``."""
    path = PurePosixPath(original.replace("\\", "/"))
    if not path.parts or path.parts[0] != "Assets":
        path = PurePosixPath("Assets/Textures") / path
    if placement == "suffix":
        return (path.parent / f"{path.stem}.{platform}{suffix}").as_posix()
    return (path.parent / "Optimized" / platform / f"{path.stem}{suffix}").as_posix()


def _unique(files: list[Placement]) -> list[Placement]:
    """Each target once. The same file listed twice, or two files with the same bytes
    (for_each items each list the shared asmdef they wrote), is one placement;
    two different files for one target are an error."""
    seen: dict[str, Placement] = {}
    clashes = []
    for f in files:
        first = seen.setdefault(f.target, f)
        if first is not f and not _same_file(first.source, f.source):
            clashes.append(f"{f.target} (from {first.source} and {f.source})")
    if clashes:
        raise ValueError(
            "two files would go to the same place: " + "; ".join(clashes) + ". Rename one "
            "of them in the step that wrote it."
        )
    return list(seen.values())


def _same_file(a: Path, b: Path) -> bool:
    return a.resolve() == b.resolve() or a.read_bytes() == b.read_bytes()


def _check_sources(files: list[Placement]) -> None:
    """Every file to copy exists, checked before anything is written (all or nothing)."""
    missing = [f"{f.source} (for {f.target})" for f in files if not f.source.is_file()]
    if missing:
        raise ValueError(
            "the inputs name files that are not there: "
            + "; ".join(missing[:5])
            + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            + ". Was the output folder of an earlier run moved or cleaned?"
        )

"""Writing files into a project without losing anyone's work: a manifest, a check, then writes.

The layout step (``unity_layout``) decides where each file goes; this module
puts them there safely. ``<project>/.cadenza/unity-layout.json`` records the
sha256 of every file the step wrote. Before writing anything, every target is
checked: a file whose bytes are unchanged since we wrote it (or already equal
to the new bytes) may be replaced; a file the user changed, or one we never
wrote, is a conflict. Any conflict fails the whole step with the list and
nothing is written, unless ``overwrite`` is set. Only then are files written,
each through a hidden temporary file in its own folder and ``os.replace``, so
a reader (Unity's importer) never sees half a file; the manifest is written
last. The manifest sits in a dot-folder at the project's root: Unity imports
only ``Assets/`` and ``Packages/``, and skips hidden folders even there.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

import attrs

MANIFEST = ".cadenza/unity-layout.json"
"""Where the manifest lives, relative to the project folder."""


_REPLACEABLE = frozenset({"not written by cadenza", "changed since cadenza wrote it"})
"""Conflict reasons ``overwrite`` resolves (a folder in a file's way it does not)."""


class LayoutConflictError(Exception):
    """Targets the step may not replace; ``conflicts`` lists ``(path, reason)``."""

    def __init__(self, message: str, conflicts: Sequence[tuple[str, str]]) -> None:
        super().__init__(message)
        self.conflicts = list(conflicts)


@attrs.frozen(kw_only=True)
class Placement:
    """One file to lay out: where it comes from, where it goes, and what it is."""

    source: Path
    target: str
    """Relative to the project folder, posix separators (``Assets/Scripts/Player.cs``)."""
    kind: str
    """``script``, ``test``, ``assembly``, ``docs`` or ``texture``."""
    degraded: bool = False
    """From a fallback, not the real thing (a stub script)."""


@attrs.frozen(kw_only=True)
class Result:
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    stale: tuple[str, ...]
    """Files an earlier run wrote that this one did not produce (left in place)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def check_target(target: str) -> str:
    """``target`` if it is a safe relative path; ``ValueError`` otherwise."""
    path = PurePosixPath(target)
    if path.is_absolute() or not path.parts or ".." in path.parts or "\\" in target:
        raise ValueError(f"unsafe target path {target!r}: expected a relative path without '..'")
    return path.as_posix()


def read_manifest(project: Path) -> dict[str, str]:
    """``{target: sha256}`` of what earlier runs wrote; empty when there is no manifest."""
    path = project / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in files.items()
        ):
            raise TypeError("files is not a mapping of paths to hashes")
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise LayoutConflictError(
            f"{path}: cannot read the layout manifest ({exc}). It records which files an "
            f"earlier run wrote; restore it from version control, or delete it and run "
            f"with overwrite: true to take over the files as they are.",
            [(MANIFEST, "unreadable manifest")],
        ) from None
    return dict(files)


def conflicts(
    project: Path, placements: Sequence[Placement], manifest: dict[str, str]
) -> tuple[list[tuple[str, str]], list[str]]:
    """``(conflicts, unchanged)``: targets we may not replace, and those already up to date."""
    found: list[tuple[str, str]] = []
    unchanged: list[str] = []
    for placement in placements:
        path = project / placement.target
        blocker = _file_in_the_way(project, placement.target)
        if blocker is not None:
            found.append((placement.target, f"{blocker} is a file, not a folder"))
        elif path.is_dir():
            found.append((placement.target, "is a folder"))
        elif path.exists():
            current = sha256(path)
            if current == sha256(placement.source):
                unchanged.append(placement.target)
            elif placement.target not in manifest:
                found.append((placement.target, "not written by cadenza"))
            elif manifest[placement.target] != current:
                found.append((placement.target, "changed since cadenza wrote it"))
    return found, unchanged


def _file_in_the_way(project: Path, target: str) -> str | None:
    parts = PurePosixPath(target).parts
    for depth in range(1, len(parts)):
        folder = project.joinpath(*parts[:depth])
        if folder.is_file():
            return "/".join(parts[:depth])
    return None


def write_all(project: Path, placements: Sequence[Placement], *, overwrite: bool) -> Result:
    """Check every target, then write them all (see the module doc); nothing is written on
    a conflict unless ``overwrite``."""
    manifest = read_manifest(project)
    found, unchanged = conflicts(project, placements, manifest)
    blocked = [c for c in found if c[1] not in _REPLACEABLE]
    if found and (blocked or not overwrite):
        shown = blocked if overwrite else found
        raise LayoutConflictError(
            _conflict_message(project, shown, overwrite_helps=not blocked), shown
        )
    same = set(unchanged)
    written: list[str] = []
    for placement in placements:
        target = project / placement.target
        if placement.target not in same:
            _replace(placement.source, target)
            written.append(placement.target)
        manifest[placement.target] = sha256(target)
    produced = {p.target for p in placements}
    stale = sorted(t for t in manifest if t not in produced and (project / t).is_file())
    _write_manifest(project, manifest)
    return Result(written=tuple(written), unchanged=tuple(unchanged), stale=tuple(stale))


def _replace(source: Path, target: Path) -> None:
    """Copy ``source`` over ``target`` atomically: a hidden temp file beside it, then rename."""
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "wb") as out, source.open("rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _write_manifest(project: Path, manifest: dict[str, str]) -> None:
    path = project / MANIFEST
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "about": "Files cadenza's unity_layout step wrote here, with their sha256. A file "
        "whose hash still matches may be replaced by the next run; any other is kept.",
        "files": dict(sorted(manifest.items())),
    }
    handle, temp = tempfile.mkstemp(prefix=".unity-layout.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
            out.write("\n")
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _conflict_message(
    project: Path, found: Sequence[tuple[str, str]], *, overwrite_helps: bool = True
) -> str:
    listed = "\n".join(f"  {target}: {reason}" for target, reason in found)
    count = len(found)
    head = (
        f"refusing to overwrite {count} file{'s' if count != 1 else ''} in the Unity project "
        f"{project}:\n{listed}\nNothing was written."
    )
    if not overwrite_helps:
        return f"{head} Move the files in the way, then run again."
    return (
        f"{head} Keep your edits by moving the files aside (or committing them), or replace "
        f"them with `overwrite: true` on the step (in the example: "
        f"`cadenza run workflow.yaml --set overwrite=true`)."
    )

"""Turning a step's paths (files, folders, globs) into the asset files to optimize.

Relative paths are resolved against the workflow file's folder, so a
workflow means the same files whichever directory ``cadenza run`` starts
in. Each file gets the relative path its output mirrors: its path from the
workflow folder when it lies inside it (the project layout is kept), else
its path from the folder named in the input (a folder ``/art/ui`` gives
``ui/...``).

Walking a folder skips hidden folders (``.git``, ``.cadenza``: the default
run output lives there) and the step's own output folder, so optimized
files are never fed back in. Named files are taken whatever their type and
fail later with a clear message when unsupported; folders and globs only
yield known asset types — the ones a step's ``asset_types`` asks for, which
also skip named files of the other known types. A path that matches nothing
is a per-entry problem, not an exception: the report lists it next to the
files that worked.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import attrs

TEXTURE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tga", ".gif"})
TEXTURE_SUFFIXES |= {".tif", ".tiff"}
AUDIO_SUFFIXES = frozenset({".wav"})
ASSET_SUFFIXES = TEXTURE_SUFFIXES | AUDIO_SUFFIXES

_GLOB_CHARS = frozenset("*?[")


@attrs.frozen(kw_only=True)
class Found:
    """One input file: where it is (absolute, as named) and the path its output mirrors."""

    source: Path
    relative: str


@attrs.frozen(kw_only=True)
class Discovery:
    """What a step's paths named: the files, the entries that matched nothing, the folders read.

    ``roots`` are the folders walked (named folders, and the fixed part of
    each glob): the output folder must not lie inside one of them.
    """

    found: list[Found]
    missing: list[NotFound]
    roots: list[Path]
    skipped: list[str] = attrs.field(factory=list)
    """Named files of a known asset type that the step's asset types leave out."""


@attrs.frozen(kw_only=True)
class NotFound:
    """An input entry that yielded no file, and why."""

    entry: str
    message: str


def _has_glob(part: str) -> bool:
    return any(c in _GLOB_CHARS for c in part)


def _walk(folder: Path, skip: Path | None, suffixes: frozenset[str]) -> Iterator[Path]:
    """Files with ``suffixes`` under ``folder``, skipping hidden folders and ``skip``."""
    for root, dirs, files in os.walk(folder):
        here = Path(root)
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".") and (skip is None or (here / d).resolve() != skip)
        )
        for name in sorted(files):
            if not name.startswith(".") and Path(name).suffix.lower() in suffixes:
                yield here / name


def _relative(path: Path, base_dir: Path, anchor: Path) -> str:
    """The mirrored path: from ``base_dir`` if inside it, else from ``anchor``."""
    for root in (base_dir, anchor):
        try:
            return path.relative_to(root).as_posix()
        except ValueError:
            continue
    return path.name


def _expand(
    entry: str, base_dir: Path, skip: Path | None, roots: list[Path], suffixes: frozenset[str]
) -> tuple[list[Found], str | None]:
    """The files one entry names, or the reason it names none; adds walked folders to roots.

    A named file of a known asset type outside ``suffixes`` yields no file
    and no reason: the caller notes it as skipped.
    """
    path = Path(os.path.expanduser(entry))
    if not path.is_absolute():
        path = base_dir / path
    path = Path(os.path.abspath(path))  # normalise ``..`` without following links
    parts = path.parts
    if any(_has_glob(p) for p in parts):
        fixed = Path(*parts[: next(i for i, p in enumerate(parts) if _has_glob(p))])
        anchor = fixed.parent
        roots.append(fixed)
        files: list[Path] = []
        for match in sorted(glob.glob(str(path), recursive=True)):
            hit = Path(match)
            if hit.is_dir():
                files += _walk(hit, skip, suffixes)
            elif hit.is_file() and hit.suffix.lower() in suffixes:
                files.append(hit)
        if not files:
            return [], f"the pattern {entry!r} matched no asset files (looked in {fixed})"
    elif path.is_dir():
        anchor = path.parent
        roots.append(path)
        files = list(_walk(path, skip, suffixes))
        if not files:
            kinds = ", ".join(sorted(suffixes))
            return [], f"the folder {path} holds no asset files ({kinds})"
    elif path.is_file():
        suffix = path.suffix.lower()
        if suffix in ASSET_SUFFIXES and suffix not in suffixes:
            return [], None
        anchor = path.parent
        files = [path]
    elif path.exists():
        return [], f"{path} is neither a file nor a folder"
    else:
        return [], f"no such file or folder: {path}"
    return [Found(source=f, relative=_relative(f, base_dir, anchor)) for f in files], None


def discover(
    entries: Iterable[str],
    *,
    base_dir: Path,
    skip: Path | None = None,
    suffixes: frozenset[str] = ASSET_SUFFIXES,
) -> Discovery:
    """Every file with ``suffixes`` the entries name, each once (by real path), sorted."""
    base_dir = Path(os.path.abspath(base_dir))
    skip = skip.resolve() if skip is not None else None
    found: dict[Path, Found] = {}
    missing: list[NotFound] = []
    skipped: list[str] = []
    roots: list[Path] = []
    for entry in entries:
        files, problem = _expand(entry, base_dir, skip, roots, suffixes)
        if problem is not None:
            missing.append(NotFound(entry=entry, message=problem))
        elif not files:
            skipped.append(entry)
        for item in files:
            found.setdefault(item.source.resolve(), item)
    return Discovery(
        found=sorted(found.values(), key=lambda f: f.relative),
        missing=missing,
        roots=roots,
        skipped=skipped,
    )


def output_inside_inputs(output_dir: Path, roots: Iterable[Path]) -> Path | None:
    """The input folder ``output_dir`` lies in (or is), or None.

    A hidden folder in between (``.cadenza/out``) does not count: walking
    skips it, and engines such as Unity ignore it, so outputs there are
    neither fed back in nor imported as assets.
    """
    target = output_dir.resolve()
    for root in roots:
        real = root.resolve()
        if target == real:
            return root
        if target.is_relative_to(real):
            between = target.relative_to(real).parts
            if not any(part.startswith(".") for part in between):
                return root
    return None

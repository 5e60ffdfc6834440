"""Which source files a step documents: its ``files``/``paths`` input, resolved.

Entries are files, folders (searched recursively) or glob patterns
(``Assets/**/*.cs``), relative to the workflow file's folder unless
absolute. Folders skip hidden folders and Unity's and Python's generated
ones (``Library``, ``Temp``, ``obj``, ``__pycache__``...), which hold copies
of packages, not the project's code. A named file or folder that does not
exist is an error (a typo would otherwise produce empty docs); a glob that
matches nothing is only a warning. An entry naming a file or folder that
exists is that path, even if it holds glob characters: the folder of item 3
of a ``for_each`` step is ``out/build[3]``, which as a pattern would match
``out/build3``.

Generated documentation never shows a machine's paths: each file is named
relative to the project root (the workflow file's folder, or the step's
``root``), and a file outside it (a generated folder under ``--out`` in
``/tmp``) by the folder its entry named plus its path inside it
(``generate_component_code/PlayerMovement.cs``). Pages mirror those names.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from collections.abc import Iterable
from pathlib import Path

import attrs

EXTENSIONS = {".cs": "csharp", ".py": "python"}
"""Source extensions and the language each is parsed as."""

SKIPPED_FOLDERS = frozenset(
    {"__pycache__", "node_modules", "Library", "Temp", "Logs", "obj", "bin", "site-packages"}
)
"""Folder names never searched when walking a folder (hidden folders are skipped too)."""


class MissingSourceError(Exception):
    """A ``files`` entry names a file or folder that does not exist."""


@attrs.frozen(kw_only=True)
class SourceFile:
    """A file to document: its path, its language and how output names it."""

    path: Path
    language: str
    name: str
    """How docs show it, never absolute (posix separators): relative to the project root
    when below it, else ``<folder its entry named>/<path inside that folder>``."""
    anchor: Path | None = None
    """The folder its entry named (a folder entry, a glob's fixed part, a file's folder)."""


@attrs.frozen(kw_only=True)
class Found:
    files: tuple[SourceFile, ...]
    warnings: tuple[str, ...]


def find_sources(
    entries: Iterable[str],
    *,
    base_dir: Path,
    languages: frozenset[str],
    exclude: Iterable[str] = (),
    root: Path | None = None,
) -> Found:
    """Resolve ``entries`` to files of ``languages``, in a stable order, without duplicates.

    Entries are relative to ``base_dir`` (the workflow folder); names, and the
    paths ``exclude`` matches, are relative to ``root`` (default ``base_dir``).
    """
    base_dir = base_dir.resolve()
    root = base_dir if root is None else root.resolve()
    excluded = tuple(exclude)
    warnings: list[str] = []
    seen: dict[Path, SourceFile] = {}
    for entry in entries:
        matched = _expand(entry, base_dir)
        if matched is None:
            raise MissingSourceError(
                f"no such file or folder: {entry!r} (looked in {base_dir}); paths are "
                f"relative to the workflow file's folder unless absolute"
            )
        if not matched:
            warnings.append(f"{shown_entry(entry, base_dir, root)!r} matched no files")
        anchor = _anchor(entry, base_dir)
        for path, explicit in matched:
            language = EXTENSIONS.get(path.suffix.lower())
            own = anchor if anchor is not None else path.parent
            name = display_name(path, root, own)
            if language is None or language not in languages:
                if explicit:
                    warnings.append(f"{name}: skipped, not a {_wanted(languages)} file")
                continue
            if _excluded(name, excluded):
                continue
            seen.setdefault(path, SourceFile(path=path, language=language, name=name, anchor=own))
    return Found(files=_unique_names(list(seen.values()), root), warnings=tuple(warnings))


def _anchor(entry: str, base_dir: Path) -> Path | None:
    """The folder an entry names: itself, a glob's fixed leading folders; None for a file."""
    target = _target(entry, base_dir)
    if _is_pattern(entry, target):
        fixed: list[str] = []
        for part in target.parts:
            if glob.has_magic(part):
                break
            fixed.append(part)
        return Path(*fixed).resolve() if fixed else None
    return target.resolve() if target.is_dir() else None


def display_name(path: Path, root: Path, anchor: Path) -> str:
    """``path`` as docs show it: below ``root`` relative to it, else below its anchor's name."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        pass
    try:
        inside = path.relative_to(anchor)
    except ValueError:
        return path.name
    return (Path(anchor.name) / inside).as_posix() if anchor.name else inside.as_posix()


def shown_entry(entry: str, base_dir: Path, root: Path) -> str:
    """A ``files`` entry for a warning in the docs: as written unless it is absolute."""
    target = _target(entry, base_dir)
    if not Path(os.path.expanduser(entry)).is_absolute():
        return entry
    try:
        return target.relative_to(root).as_posix()
    except ValueError:
        return "/".join(target.parts[-2:]) if len(target.parts) > 2 else target.name


def _unique_names(files: list[SourceFile], root: Path) -> tuple[SourceFile, ...]:
    """Give files outside ``root`` whose names clash more of their anchor's path, then a number."""
    taken: dict[str, int] = {}
    for f in files:
        taken[f.name] = taken.get(f.name, 0) + 1
    result: list[SourceFile] = []
    used: set[str] = set()
    for f in files:
        name = f.name
        if (
            taken[name] > 1
            and f.anchor is not None
            and _below(f.path, f.anchor)
            and not _below(f.path, root)
        ):
            for depth in range(2, len(f.anchor.parts)):
                longer = (Path(*f.anchor.parts[-depth:]) / f.path.relative_to(f.anchor)).as_posix()
                if longer not in taken and longer not in used:
                    name = longer
                    break
        base, n = Path(name), 2
        while name in used:
            name, n = base.with_stem(f"{base.stem}~{n}").as_posix(), n + 1
        used.add(name)
        result.append(f if name == f.name else attrs.evolve(f, name=name))
    return tuple(result)


def _below(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _target(entry: str, base_dir: Path) -> Path:
    """The path ``entry`` names taken literally (``~`` expanded, relative to ``base_dir``)."""
    target = Path(os.path.expanduser(entry))
    return target if target.is_absolute() else base_dir / target


def _is_pattern(entry: str, target: Path) -> bool:
    """Whether ``entry`` is a glob: it has glob characters and names no existing path."""
    return glob.has_magic(entry) and not target.exists()


def _expand(entry: str, base_dir: Path) -> list[tuple[Path, bool]] | None:
    """``(path, named explicitly)`` pairs; None when a plain path does not exist."""
    target = _target(entry, base_dir)
    if _is_pattern(entry, target):
        pattern = (
            entry if Path(entry).is_absolute() else os.path.join(glob.escape(str(base_dir)), entry)
        )
        hits = sorted(Path(p).resolve() for p in glob.glob(pattern, recursive=True))
        found: list[tuple[Path, bool]] = []
        for hit in hits:
            found += _walk(hit) if hit.is_dir() else [(hit, False)]
        return found
    if target.is_dir():
        return _walk(target.resolve())
    if target.is_file():
        return [(target.resolve(), True)]
    return None


def _walk(folder: Path) -> list[tuple[Path, bool]]:
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_FOLDERS)
        found += [(Path(root) / f, False) for f in sorted(files) if Path(f).suffix in EXTENSIONS]
    return found


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(Path(name).name, p) for p in patterns)


def _wanted(languages: frozenset[str]) -> str:
    return " or ".join(sorted(ext for ext, lang in EXTENSIONS.items() if lang in languages))


def page_paths(files: Iterable[SourceFile]) -> dict[Path, str]:
    """Each file's Markdown page, relative to the output folder, mirroring the files' names.

    Names are relative to the project root (or to a generated folder's name),
    so ``Assets/Scripts/Player.cs`` becomes ``Assets/Scripts/Player.md``: the
    same page for the same file whatever else a run documents. ``Player.cs``
    keeps its extension (``Player.cs.md``) when another source would take the
    name (``Player.py`` beside it), and a source named ``index`` at the top
    never takes the index's place.
    """
    relative = {f.path: Path(f.name) for f in files}
    stems: dict[Path, int] = {}
    for rel in relative.values():
        stems[rel.with_suffix("")] = stems.get(rel.with_suffix(""), 0) + 1
    pages: dict[Path, str] = {}
    for path, rel in relative.items():
        page = rel.with_suffix(".md") if stems[rel.with_suffix("")] == 1 else Path(f"{rel}.md")
        if page.as_posix() == "index.md":
            page = Path(f"{rel}.md")
        pages[path] = page.as_posix()
    return pages

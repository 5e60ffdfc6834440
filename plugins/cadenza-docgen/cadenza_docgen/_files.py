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
    """Relative to the workflow folder when inside it, else absolute (posix separators)."""
    root: Path | None = None
    """The folder its ``files`` entry named (None for a file or glob entry)."""


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
) -> Found:
    """Resolve ``entries`` to files of ``languages``, in a stable order, without duplicates."""
    base_dir = base_dir.resolve()
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
            warnings.append(f"{entry!r} matched no files")
        target = _target(entry, base_dir)
        root = target.resolve() if not _is_pattern(entry, target) and target.is_dir() else None
        for path, explicit in matched:
            language = EXTENSIONS.get(path.suffix.lower())
            name = _display_name(path, base_dir)
            if language is None or language not in languages:
                if explicit:
                    warnings.append(f"{name}: skipped, not a {_wanted(languages)} file")
                continue
            if _excluded(name, excluded):
                continue
            seen.setdefault(path, SourceFile(path=path, language=language, name=name, root=root))
    return Found(files=tuple(seen.values()), warnings=tuple(warnings))


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


def _display_name(path: Path, base_dir: Path) -> str:
    try:
        return path.relative_to(base_dir).as_posix()
    except ValueError:
        return path.as_posix()


def _excluded(name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(Path(name).name, p) for p in patterns)


def _wanted(languages: frozenset[str]) -> str:
    return " or ".join(sorted(ext for ext, lang in EXTENSIONS.items() if lang in languages))


def page_paths(files: Iterable[SourceFile]) -> dict[Path, str]:
    """Each file's Markdown page, relative to the output folder, mirroring the sources' tree.

    Paths are relative to the folder all sources share; ``Player.cs`` becomes
    ``Player.md`` unless another source would take that name (``Player.py``
    beside it), then ``Player.cs.md``. When the sources come from folders
    with little but ``/`` in common (the project's scripts and a generated
    folder in ``/tmp``), each folder's pages go under that folder's name
    instead of under its whole absolute path.
    """
    files = list(files)
    if not files:
        return {}
    root = Path(os.path.commonpath([f.path.parent for f in files]))
    roots = {f.root for f in files}
    if None not in roots and len(roots) > 1 and len(root.parts) <= 2:
        relative = {}
        for f in files:
            assert f.root is not None
            relative[f.path] = Path(f.root.name) / f.path.relative_to(f.root)
    else:
        relative = {f.path: f.path.relative_to(root) for f in files}
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

"""Writing planned files into a step's output folder, off the trio thread.

Paths were made safe by :func:`~._codeblocks.safe_relative_path`; here each
one is checked again after resolving, so a symlink already in the folder
cannot lead a write outside it. Each file is written to a temporary name and
renamed into place, so a cancelled call never leaves half a file, and a
retried call simply replaces the files of the attempt before it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import trio

from ._codeblocks import PlannedFile


class UnsafePathError(ValueError):
    """A planned path would resolve outside the output folder."""


def _write_all(root: Path, files: Sequence[PlannedFile]) -> list[int]:
    root.mkdir(parents=True, exist_ok=True)
    base = root.resolve()
    sizes: list[int] = []
    for planned in files:
        target = (base / planned.path).resolve()
        if not target.is_relative_to(base) or target == base:
            raise UnsafePathError(f"{planned.path!r} resolves outside {root}")
        target.parent.mkdir(parents=True, exist_ok=True)
        data = planned.content.encode("utf-8")
        temporary = target.with_name(f".{target.name}.partial")
        temporary.write_bytes(data)
        os.replace(temporary, target)
        sizes.append(len(data))
    return sizes


async def write_files(root: Path, files: Sequence[PlannedFile]) -> list[int]:
    """Write ``files`` under ``root`` (created if needed); return each file's size in bytes.

    Raises :class:`UnsafePathError` for a path that escapes ``root`` and
    ``OSError`` when the disk refuses.
    """
    return await trio.to_thread.run_sync(_write_all, root, files)

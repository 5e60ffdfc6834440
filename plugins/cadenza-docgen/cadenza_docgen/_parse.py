"""Reading and parsing source files, in a worker thread when there is a lot to parse.

Parsing is fast (tree-sitter and ``ast`` are C), so a handful of scripts is
parsed on the trio thread with a checkpoint between files; a large file set
(more than :data:`INLINE_BYTES` in total) is parsed file by file in a worker
thread so the run's other steps, progress display and cancellation stay
responsive. A file that cannot be read, or is too big to be hand-written
code, becomes a fatal problem of its module, not an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import trio

from ._csharp import parse_csharp
from ._files import SourceFile
from ._model import Module, SourceProblem
from ._python import parse_python

INLINE_BYTES = 256 * 1024
"""Above this many bytes in total, files are parsed in a worker thread."""

MAX_FILE_BYTES = 2 * 1024 * 1024
"""Larger files are skipped: they are generated code, not documentation sources."""

_PARSERS: dict[str, Callable[[bytes, str], Module]] = {
    "csharp": parse_csharp,
    "python": parse_python,
}


def parse_file(source: SourceFile) -> Module:
    """Read and parse one file (blocking)."""
    try:
        data = source.path.read_bytes()
    except OSError as exc:
        return _unreadable(source, f"cannot read the file: {exc.strerror or exc}")
    if len(data) > MAX_FILE_BYTES:
        return _unreadable(
            source, f"skipped: {len(data)} bytes is more than the {MAX_FILE_BYTES} byte limit"
        )
    return _PARSERS[source.language](data, source.name)


def _unreadable(source: SourceFile, message: str) -> Module:
    return Module(
        source=source.name,
        language="python" if source.language == "python" else "csharp",
        fatal=True,
        problems=(SourceProblem(line=0, message=message),),
    )


def _size(source: SourceFile) -> int:
    try:
        return source.path.stat().st_size
    except OSError:
        return 0


async def parse_all(
    files: Sequence[SourceFile], *, progress: Callable[[str], None]
) -> list[Module]:
    """Parse ``files`` in order, reporting ``i/n files`` after each."""
    total = await trio.to_thread.run_sync(lambda: sum(_size(f) for f in files))
    threaded = total > INLINE_BYTES
    modules = []
    for index, source in enumerate(files, start=1):
        if threaded:
            module = await trio.to_thread.run_sync(parse_file, source)
        else:
            module = parse_file(source)
            await trio.lowlevel.checkpoint()
        modules.append(module)
        progress(f"{index}/{len(files)} files")
    return modules

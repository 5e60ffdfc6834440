"""Reading and parsing source files: small sets on the trio thread, large ones on the executor.

Parsing is fast (tree-sitter and ``ast`` are C), so a handful of scripts is
parsed on the trio thread with a checkpoint between files; a large file set
(more than :data:`INLINE_BYTES` in total) is parsed in chunks of about
:data:`CHUNK_BYTES`, each one call on the agent's executor (threads of this
process on ``local``, the default; worker processes on ``process``), so
the run's other steps, progress display and cancellation stay responsive.
:func:`parse_chunk` is what runs there: a module-level function of plain,
picklable values. A file that cannot be read, or is too big to be
hand-written code, becomes a fatal problem of its module, not an exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ._csharp import parse_csharp
from ._files import SourceFile
from ._model import Module, SourceProblem
from ._python import parse_python

if TYPE_CHECKING:
    from cadenza.plugins import Executor

INLINE_BYTES = 256 * 1024
"""Above this many bytes in total, files are parsed on the executor, in chunks."""

CHUNK_BYTES = 128 * 1024
"""About this many bytes of source per executor call (fewer, larger calls cost less to send)."""

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


def parse_chunk(files: Sequence[SourceFile]) -> list[Module]:
    """Read and parse ``files`` in order (blocking; what one executor call runs)."""
    return [parse_file(f) for f in files]


def chunks(files: Sequence[SourceFile], sizes: Sequence[int]) -> list[list[SourceFile]]:
    """``files`` in order, cut where a chunk reaches :data:`CHUNK_BYTES`."""
    out: list[list[SourceFile]] = []
    current: list[SourceFile] = []
    size = 0
    for source, n in zip(files, sizes, strict=True):
        current.append(source)
        size += n
        if size >= CHUNK_BYTES:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


async def parse_all(
    files: Sequence[SourceFile],
    *,
    progress: Callable[[str], None],
    executor: Executor | None = None,
) -> list[Module]:
    """Parse ``files``, in order, reporting ``i/n files`` as they are done.

    ``executor`` runs the chunks of a large set (None: threads of this process).
    """
    import trio  # here, not at the top: a worker process imports this module for parse_chunk

    sizes = await trio.to_thread.run_sync(lambda: [_size(f) for f in files])
    if sum(sizes) <= INLINE_BYTES:
        modules = []
        for index, source in enumerate(files, start=1):
            modules.append(parse_file(source))
            await trio.lowlevel.checkpoint()
            progress(f"{index}/{len(files)} files")
        return modules
    parts = chunks(files, sizes)
    results: list[list[Module]] = [[] for _ in parts]
    limiter = trio.CapacityLimiter(os.cpu_count() or 1)
    done = 0

    async def one(index: int, part: list[SourceFile]) -> None:
        nonlocal done
        async with limiter:
            results[index] = await _call(executor, parse_chunk, part)
        done += len(part)
        progress(f"{done}/{len(files)} files")

    async with trio.open_nursery() as nursery:
        for index, part in enumerate(parts):
            nursery.start_soon(one, index, part)
    return [module for part in results for module in part]


async def _call(executor: Executor | None, fn: Callable[..., Any], *args: Any) -> Any:
    import trio

    if executor is None:
        return await trio.to_thread.run_sync(fn, *args, abandon_on_cancel=True)
    return await executor.run(fn, *args)

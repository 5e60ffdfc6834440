"""Reading untrusted source files (workflows, models, schemas): regular files within a limit.

A workflow file may come from anywhere (a pull request, a download), so it is
checked before it can cost anything: a named pipe would block the reader, a
device like ``/dev/zero`` never ends, and a huge file would be parsed whole.
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from ._problems import Problem, SourceLocation
from ._yaml import source_size_limit, too_big

__all__ = ["read_source"]


def read_source(file: Path, *, what: str = "workflow file") -> tuple[str, str] | Problem:
    """The file's text and SHA-256 digest, or the problem that kept it from being read.

    Only regular files are read (a FIFO would block, ``/dev/zero`` never ends),
    and at most the size limit of :func:`~cadenza._yaml.source_size_limit`: a
    file is refused before it can cost memory, not after.
    """
    shown = str(file)
    limit = source_size_limit()
    if isinstance(limit, Problem):
        return limit
    try:
        info = file.stat()
        if stat.S_ISDIR(info.st_mode):
            return Problem(
                message=f"cannot read {what} {shown!r}: it is a directory",
                hint="Pass the workflow's YAML file, not its directory.",
            )
        if not stat.S_ISREG(info.st_mode):
            return Problem(
                message=f"cannot read {what} {shown!r}: it is not a regular file "
                f"(it is {_file_kind(info.st_mode)})",
                hint="Save the workflow to a file and pass that file's path.",
            )
        if info.st_size > limit:
            return too_big(shown, f"{info.st_size:,} bytes", limit)
        with file.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError:
        return Problem(
            message=f"cannot read {what} {shown!r}: no such file",
            hint="Check the path; it is relative to the current directory.",
        )
    except OSError as exc:
        return Problem(
            message=f"cannot read {what} {shown!r}: {exc.strerror or exc}",
            hint="Check that the file exists and that you may read it.",
        )
    if len(data) > limit:  # it grew after stat()
        return too_big(shown, f"over {limit:,} bytes", limit)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return Problem(
            message="the file is not UTF-8 text",
            location=SourceLocation(file=shown, line=line, column=column),
            hint=f"Save the {what} as UTF-8.",
        )
    return text, hashlib.sha256(data).hexdigest()


def _file_kind(mode: int) -> str:
    """What a non-regular file is, in words."""
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a plain file"

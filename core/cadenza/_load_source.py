"""From a file, YAML text or parsed data to checked workflows, in whichever format.

The public loaders (``_loader``) differ only in where the workflow comes from;
this module does the rest for all of them: read and decode the file (with a
digest of its bytes), parse the YAML keeping every value's position, pick the
format by the top-level keys (``workflows:`` means the seed format), and
collect the problems, dropping the workflows when any problem is an error.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from ._convert import describe_value
from ._format_native import NativeFormat
from ._format_seed import SeedFormat
from ._load_context import LoadContext
from ._plugins import Plugins
from ._problems import Problem, SourceLocation
from ._spec import Workflow
from ._yaml import YamlDocument, parse_yaml, source_size_limit, too_big

__all__ = [
    "Checked",
    "LoadRequest",
    "check_data",
    "check_file",
    "check_text",
    "name_from_filename",
    "read_source",
]


@attrs.frozen(kw_only=True)
class LoadRequest:
    """Everything a load needs besides the workflow itself, whichever way it arrived.

    ``source`` and ``digest`` end up in every workflow loaded; ``select`` names
    the one workflow wanted, ``every`` asks for all of a seed-format file's.
    """

    plugins: Plugins
    base_dir: Path
    default_name: str
    source: Path | None
    digest: str
    select: str | None
    every: bool
    environ: Mapping[str, str] | None
    missing_env: Literal["error", "warning"] = "error"
    text: str = ""


@attrs.frozen(kw_only=True)
class Checked:
    """What checking found: the workflows that loaded, every problem, all workflow names."""

    workflows: dict[str, Workflow]
    names: tuple[str, ...]
    problems: list[Problem]


def check_file(
    file: Path,
    *,
    plugins: Plugins,
    select: str | None,
    every: bool,
    environ: Mapping[str, str] | None,
    missing_env: Literal["error", "warning"] = "error",
) -> Checked | Problem:
    """Read and check the file at ``file``; the problem alone when it cannot be read."""
    raw = read_source(file)
    if isinstance(raw, Problem):
        return raw
    text, digest = raw
    request = LoadRequest(
        plugins=plugins,
        base_dir=file.resolve().parent,
        default_name=file.stem,
        source=file.resolve(),
        digest=digest,
        select=select,
        every=every,
        environ=environ,
        missing_env=missing_env,
    )
    return check_text(text, filename=str(file), request=request)


def check_text(text: str, *, filename: str, request: LoadRequest) -> Checked:
    """Parse YAML ``text`` and check it; the YAML's own problems count as errors."""
    doc = parse_yaml(text, filename=filename)
    if doc.problems and doc.data is None:
        return Checked(workflows={}, names=(), problems=list(doc.problems))
    if doc.data is None:
        empty = Problem(
            message="the workflow file is empty",
            location=SourceLocation(file=filename, line=1, column=1),
            hint="A workflow needs at least agents: and steps: (see docs/workflow-reference.md).",
        )
        return Checked(workflows={}, names=(), problems=[empty])
    checked = check_data(doc.data, doc=doc, request=attrs.evolve(request, text=text))
    checked.problems.extend(doc.problems)
    if doc.problems:  # a duplicate key makes the file invalid even if the rest is fine
        checked.workflows.clear()
    return checked


def check_data(data: Any, *, doc: YamlDocument | None, request: LoadRequest) -> Checked:
    """Check parsed ``data`` in the format its top-level keys name; no workflow if any error."""
    ctx = LoadContext(
        doc=doc,
        plugins=request.plugins,
        environ=os.environ if request.environ is None else request.environ,
        base_dir=request.base_dir,
        missing_env=request.missing_env,
    )
    if not isinstance(data, Mapping):
        ctx.error(
            (),
            f"a workflow file must be a mapping at the top level, got {describe_value(data)}",
            "Start the file with keys like agents: and steps:.",
        )
        return Checked(workflows={}, names=(), problems=ctx.finish())
    common = {
        "source": request.source,
        "source_hash": request.digest,
        "source_text": request.text,
    }
    if "workflows" in data:
        workflows, names = SeedFormat(ctx).load(
            data, select=request.select, every=request.every, common=common
        )
    else:
        workflows, names = NativeFormat(ctx).load(
            data, select=request.select, default_name=request.default_name, common=common
        )
    problems = ctx.finish()
    if any(p.severity == "error" for p in problems):
        workflows = {}
    return Checked(workflows=workflows, names=names, problems=problems)


def name_from_filename(filename: str) -> str:
    """The workflow's name when the file gives none: the file's stem, or ``workflow``."""
    if filename.startswith("<"):
        return "workflow"
    return Path(filename).stem or "workflow"


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

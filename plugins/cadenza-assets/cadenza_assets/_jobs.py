"""Jobs: one file to optimize, planned on the trio side and run on the agent's executor.

A :class:`Job` carries only plain, picklable data (strings and the frozen
:class:`~cadenza_assets._presets.Settings`), because the process executor
pickles it to another process. :func:`plan` decides every output location
up front, so two files can never race for one output and no output can land
on an input: the step refuses to start instead (:class:`UnsafeOutputError`).

:func:`run_job` is what a worker process runs. It never raises for a bad
file: an unreadable or unsupported file becomes an entry with an ``error``,
so one corrupt texture does not fail a whole folder.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import attrs

from ._discover import AUDIO_SUFFIXES, Found
from ._errors import AssetError
from ._presets import Settings

Kind = Literal["texture", "audio"]

OUTPUT_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".wav")
"""Every suffix an output may get; checked against the inputs before anything is written."""


class UnsafeOutputError(ValueError):
    """An output would overwrite an input file."""


@attrs.frozen(kw_only=True)
class Job:
    """One file: where it is, where its output goes (``output_stem`` + suffix), how.

    ``keep_format`` is set when another input shares the output stem
    (``logo.png`` and ``logo.jpg``): keeping each file's format keeps their
    outputs apart.
    """

    source: str
    relative: str
    output_stem: str
    kind: Kind
    settings: Settings
    keep_format: bool = False


def _kind(path: Path) -> Kind:
    return "audio" if path.suffix.lower() in AUDIO_SUFFIXES else "texture"


def plan(
    found: Sequence[Found], *, output_dir: Path, settings: Settings
) -> tuple[list[Job], list[dict[str, Any]]]:
    """A job per file, and error entries for files whose output path another file takes.

    Raise :class:`UnsafeOutputError` if any output could land on an input.
    """
    stems: dict[str, list[Found]] = defaultdict(list)
    for item in found:
        stems[str(Path(item.relative).with_suffix("")).lower()].append(item)
    inputs = {item.source.resolve(): item.source for item in found}
    taken: dict[str, Found] = {}
    jobs: list[Job] = []
    clashes: list[dict[str, Any]] = []
    for item in found:
        output_stem = output_dir / Path(item.relative).with_suffix("")
        for suffix in {*OUTPUT_SUFFIXES, item.source.suffix}:
            target = Path(f"{output_stem}{suffix}").resolve()
            if target in inputs:
                raise UnsafeOutputError(
                    f"the output folder {output_dir} would overwrite the input {inputs[target]} "
                    f"(output {item.relative}). Write outputs outside the inputs: "
                    f"run with --out pointing to another folder."
                )
        first = taken.setdefault(item.relative.lower(), item)
        if first is not item:
            clashes.append(
                error_entry(
                    str(item.source),
                    item.relative,
                    _kind(item.source),
                    f"its output path {item.relative} is already the output of {first.source}; "
                    f"list the two folders in separate steps",
                )
            )
            continue
        jobs.append(
            Job(
                source=str(item.source),
                relative=item.relative,
                output_stem=str(output_stem),
                kind=_kind(item.source),
                settings=settings,
                keep_format=len(stems[str(Path(item.relative).with_suffix("")).lower()]) > 1,
            )
        )
    return jobs, clashes


def error_entry(source: str, relative: str, kind: str, message: str) -> dict[str, Any]:
    """The report entry of a file that could not be optimized."""
    return {
        "source": source,
        "path": relative,
        "kind": kind,
        "status": "failed",
        "error": message,
    }


def write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file: a killed worker leaves no half file."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def run_job(job: Job) -> dict[str, Any]:
    """Optimize one file (in a worker process, or a thread on ``local``); return its entry."""
    # Imported here: both modules import this one (Job, write_atomically).
    try:
        if job.kind == "audio":
            from ._audio import optimize_wav

            return optimize_wav(job)
        from ._textures import optimize_texture

        return optimize_texture(job)
    except AssetError as exc:
        return error_entry(job.source, job.relative, job.kind, str(exc))
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        reason = exc.strerror or str(exc)
        return error_entry(
            job.source, job.relative, job.kind, f"cannot read or write{where}: {reason}"
        )

"""The ``assets`` agent: plans a step's files on trio, optimizes them on the agent's executor.

Pillow work is CPU-bound (its C loops release the GIL, its Python parts do
not) and must stop when a step times out, so each file is one call on the
executor the workflow chose for the agent (``executor:``); without one the
kind's default is ``process``, the kernel's pool of worker processes (see
``__init__``). At most ``workers`` files of one agent are in flight at once;
folders are walked in a thread. The trio thread only hands out jobs and
reports progress, so the run stays responsive. The executor belongs to the
run: nothing outlives it, and cancelling the step (a ``timeout:``, Ctrl-C,
``cadenza cancel``) kills the busy worker processes at once instead of
waiting for their images. On ``executor: local`` files are optimized in
threads of the coordinator, which a cancel abandons rather than stops.

A worker process that dies mid-file (killed, out of memory) is
:class:`cadenza.plugins.WorkerLostError`: that file is tried once more in a
fresh worker, then becomes a failed entry; a step where every file was lost
that way raises the (retryable) error, so the step's retry policy decides.

Errors: a step with bad inputs, no output folder, or outputs that would
land on its inputs fails with :class:`cadenza.PermanentError` before any
work; a bad file is one failed entry in the report; a step where every
file failed (or that was left nothing to do) is a ``PermanentError``
listing the first errors. What a step asked for but is skipped (an asset
type this plugin does not handle) is a warning in the report.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import attrs
import trio

import cadenza
from cadenza.plugins import WorkerLostError, executor_for

from ._discover import ASSET_SUFFIXES, discover, output_inside_inputs
from ._inputs import InputError, parse_inputs
from ._jobs import Job, UnsafeOutputError, error_entry, plan, run_job
from ._options import AssetsOptions, resolve
from ._presets import Settings
from ._report import failure_summary, report

DEFAULT_MAX_WORKERS = 8
"""Default ``workers``: one per CPU, but no more than this."""

DEFAULT_EXECUTOR = "process"
"""The executor of an ``assets`` agent without ``executor:`` (Pillow work wants cores)."""

LOST_WORKER_TRIES = 2
"""Calls per file when worker processes die under it: once more in a fresh worker, then failed."""


def default_workers() -> int:
    """One worker process per CPU, at most :data:`DEFAULT_MAX_WORKERS`."""
    return max(1, min(os.cpu_count() or 1, DEFAULT_MAX_WORKERS))


@attrs.frozen(kw_only=True)
class Prepared:
    """A step's work, planned: the jobs, entries for what cannot be done, named files skipped."""

    output_dir: Path
    jobs: list[Job]
    problems: list[dict[str, Any]]
    skipped: list[str] = attrs.field(factory=list)


def prepare(
    paths: Sequence[str],
    *,
    base_dir: Path,
    output_dir: Path,
    settings: Settings,
    suffixes: frozenset[str] = ASSET_SUFFIXES,
) -> Prepared:
    """Find the files and plan their outputs (file-system work: runs in a thread).

    Raise :class:`UnsafeOutputError` when the outputs would land on or among
    the inputs.
    """
    output_dir = Path(os.path.abspath(output_dir))
    found = discover(paths, base_dir=base_dir, skip=output_dir, suffixes=suffixes)
    inside = output_inside_inputs(output_dir, found.roots)
    if inside is not None:
        raise UnsafeOutputError(
            f"the output folder {output_dir} is inside the input folder {inside}: optimized "
            f"copies would be mixed with the originals (and read as inputs next time). "
            f"Run with --out pointing outside it."
        )
    jobs, clashes = plan(found.found, output_dir=output_dir, settings=settings)
    missing = [error_entry(m.entry, m.entry, "input", m.message) for m in found.missing]
    return Prepared(
        output_dir=output_dir, jobs=jobs, problems=clashes + missing, skipped=found.skipped
    )


@attrs.define(eq=False)
class AssetsAgent:
    """Optimizes the textures and WAV files a step names, into the step's output folder."""

    name: str
    options: AssetsOptions
    base_dir: Path
    capabilities: frozenset[str] = frozenset()
    workers: int = 1
    config: cadenza.AgentConfig | None = attrs.field(default=None, repr=False)
    """The agent's configuration (names its executor); None runs on ``local``."""
    _limiter: trio.CapacityLimiter | None = attrs.field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: cadenza.AgentConfig) -> AssetsAgent:
        """Build the agent; nothing is started until a step runs."""
        options = config.options_as(AssetsOptions)
        return cls(
            name=config.name,
            options=options,
            base_dir=config.base_dir,
            capabilities=config.capabilities,
            workers=options.workers or default_workers(),
            config=config,
        )

    def _error(self, message: str, request: cadenza.AgentRequest) -> cadenza.PermanentError:
        return cadenza.PermanentError(
            f"assets agent {self.name!r}, step {request.step_id!r}: {message}",
            agent=self.name,
            step_id=request.step_id,
        )

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        """Optimize the step's files; the output is the report (see ``_report``)."""
        if request.output_dir is None:
            raise self._error(
                "this step writes optimized files, but the run has no output folder. "
                "Run it with `cadenza run --out DIR` (or pass output_dir= to run_workflow).",
                request,
            )
        try:
            step = parse_inputs(request.inputs, default_paths=self.options.paths)
        except InputError as exc:
            raise self._error(f"bad inputs:\n{exc}", request) from None
        settings = resolve(
            step.preset or self.options.preset, self.options.overrides, step.overrides
        )
        try:
            prepared = await trio.to_thread.run_sync(
                functools.partial(
                    prepare,
                    step.paths,
                    base_dir=self.base_dir,
                    output_dir=request.output_dir,
                    settings=settings,
                    suffixes=step.suffixes,
                )
            )
        except UnsafeOutputError as exc:
            raise self._error(str(exc), request) from None
        warnings = list(step.warnings)
        if prepared.skipped:
            wanted = ", ".join(step.asset_types or ())
            warnings += [
                f"{p}: not among asset_types ({wanted}), skipped" for p in prepared.skipped
            ]
        if not prepared.jobs and not prepared.problems:
            raise self._error(
                "nothing to optimize:\n" + "\n".join(f"  {w}" for w in warnings), request
            )
        entries, lost = await self._optimize(prepared.jobs, request)
        if lost and lost == len(entries):
            raise WorkerLostError(
                f"assets agent {self.name!r}, step {request.step_id!r}: the worker process of "
                f"every file died ({entries[0]['error']})",
                agent=self.name,
                step_id=request.step_id,
            )
        entries += prepared.problems
        if all(e["status"] == "failed" for e in entries):
            raise self._error(
                f"no file could be optimized ({len(entries)} failed):\n" + failure_summary(entries),
                request,
            )
        return cadenza.AgentResult(
            output=report(
                entries, settings=settings, output_dir=prepared.output_dir, warnings=warnings
            )
        )

    async def _optimize(
        self, jobs: list[Job], request: cadenza.AgentRequest
    ) -> tuple[list[dict[str, Any]], int]:
        """Run every job on the agent's executor: entries in job order, files lost with workers."""
        if not jobs:
            return [], 0
        executor = self._executor(request)
        if self._limiter is None:
            self._limiter = trio.CapacityLimiter(self.workers)
        limiter = self._limiter
        results: list[dict[str, Any]] = [{} for _ in jobs]
        total = len(jobs)
        done = lost = 0
        request.report_progress(f"0/{total} files")

        async def one(index: int, job: Job) -> None:
            nonlocal done, lost
            async with limiter:
                results[index], worker_lost = await _optimize_one(executor, job)
            lost += worker_lost
            done += 1
            request.report_progress(f"{done}/{total} files")

        async with trio.open_nursery() as nursery:
            for index, job in enumerate(jobs):
                nursery.start_soon(one, index, job)
        return results, lost

    def _executor(self, request: cadenza.AgentRequest) -> cadenza.plugins.Executor:
        if self.config is None:  # built by hand, without a config: threads of this process
            return executor_for(cadenza.AgentConfig(name=self.name, kind="assets"))
        try:
            return executor_for(self.config)
        except LookupError as exc:
            raise self._error(str(exc), request) from None

    async def aclose(self) -> None:
        """Nothing to release: the executor and its workers belong to the run."""


async def _optimize_one(
    executor: cadenza.plugins.Executor, job: Job
) -> tuple[dict[str, Any], bool]:
    """One file's report entry, and whether its worker was lost (tried once more first)."""
    tries = 0
    while True:
        tries += 1
        try:
            return cast(dict[str, Any], await executor.run(run_job, job)), False
        except WorkerLostError as exc:
            if tries < LOST_WORKER_TRIES:
                continue
            message = f"the worker process died {tries} times optimizing it: {exc}"
            return error_entry(job.source, job.relative, job.kind, message), True
        except Exception as exc:
            message = f"unexpected error (please report it): {type(exc).__name__}: {exc}"
            return error_entry(job.source, job.relative, job.kind, message), False

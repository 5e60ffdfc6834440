"""The ``docgen`` agent: source files in, Markdown API docs and coverage numbers out.

One call documents the files a step names: find them, parse them (C# with
tree-sitter, Python with ``ast``; a large set in chunks on the agent's
executor, ``local`` threads unless the workflow says ``executor:``, see
``_parse``), apply what only the whole set tells
(Unity base classes, ``<inheritdoc/>``), keep the public API, optionally ask
an LLM agent of the run to summarise what is undocumented, then render and
write the pages. Options come from the agent's ``options:``; a step may
override most of them through its inputs (``with:``).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import attrs
import trio

import cadenza
from cadenza.plugins import executor_for

from ._enrich import enrich
from ._files import MissingSourceError, find_sources
from ._inherit import resolve_inheritdoc
from ._model import Module
from ._options import DocgenOptions, step_settings
from ._output import build_output, write_pages
from ._parse import parse_all
from ._select import select
from ._unity import apply_unity

CAPABILITY = "documentation"
TASK_TYPE = "documentation"
"""The task type of the calls made to the enrichment agent."""


@attrs.define(eq=False)
class DocgenAgent:
    """Writes Markdown API documentation for C# and Python sources (see the module doc)."""

    name: str
    options: DocgenOptions
    base_dir: Path
    capabilities: frozenset[str] = frozenset({CAPABILITY})
    config: cadenza.AgentConfig | None = attrs.field(default=None, repr=False)
    """The agent's configuration (names its executor); None parses in threads here."""

    @classmethod
    def from_config(cls, config: cadenza.AgentConfig) -> DocgenAgent:
        """Build the agent; nothing is read until a step runs."""
        options = config.options_as(DocgenOptions)
        return cls(
            name=config.name,
            options=options,
            base_dir=config.base_dir,
            capabilities=config.capabilities | {CAPABILITY},
            config=config,
        )

    def _error(self, message: str, request: cadenza.AgentRequest) -> cadenza.PermanentError:
        return cadenza.PermanentError(
            f"docgen agent {self.name!r}: {message}", agent=self.name, step_id=request.step_id
        )

    def _root(self, options: DocgenOptions, request: cadenza.AgentRequest) -> Path:
        """The project folder the docs' paths are relative to: ``root``, else the workflow's."""
        if options.root is None:
            return self.base_dir.resolve()
        root = (self.base_dir / os.path.expanduser(options.root)).resolve()
        if not root.is_dir():
            raise self._error(
                f"root: no such folder {options.root!r} (looked at {root}); root is the "
                f"project folder paths in the docs are relative to, itself relative to "
                f"the workflow file's folder. Fix the path or leave root out.",
                request,
            )
        return root

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        """Document the step's ``files``; see the README for inputs, options and output."""
        try:
            entries, options = step_settings(self.options, request.inputs)
        except ValueError as exc:
            raise self._error(str(exc), request) from None
        if options.enrich_with == self.name:
            raise self._error(
                "enrich_with names this agent itself; name an LLM agent of the run", request
            )
        languages = options.language_set
        root = self._root(options, request)
        try:
            found = await trio.to_thread.run_sync(
                functools.partial(
                    find_sources,
                    entries,
                    base_dir=self.base_dir,
                    languages=languages,
                    exclude=options.exclude,
                    root=root,
                )
            )
        except MissingSourceError as exc:
            raise self._error(str(exc), request) from None
        if not found.files:
            searched = ", ".join(map(repr, entries))
            raise self._error(
                f"no {' or '.join(sorted(languages))} source files in {searched} "
                f"(relative to {self.base_dir})",
                request,
            )
        warnings = list(found.warnings)
        try:
            executor = executor_for(self.config) if self.config is not None else None
        except LookupError as exc:
            raise self._error(str(exc), request) from None
        modules = await parse_all(found.files, progress=request.report_progress, executor=executor)
        warnings += [w for m in modules if (w := _problem_warning(m))]
        modules = resolve_inheritdoc(apply_unity(modules))
        modules = [select(m, include_private=options.include_private) for m in modules]
        agent = options.enrich_with
        if agent:
            report = await enrich(
                modules,
                ask=functools.partial(request.ask, task_type=TASK_TYPE),
                agent=agent,
                limit=options.max_enrich,
                concurrency=options.enrich_concurrency,
                progress=request.report_progress,
            )
            modules = report.modules
            warnings += report.warnings
        output = build_output(
            modules,
            found.files,
            title=options.title,
            one_file=options.one_file,
            output_dir=request.output_dir,
            warnings=warnings,
        )
        if request.output_dir is not None:
            await trio.to_thread.run_sync(write_pages, request.output_dir, output.pages)
        return cadenza.AgentResult(output=output.data)

    async def aclose(self) -> None:
        """Nothing to release."""


def _problem_warning(module: Module) -> str:
    if not module.problems:
        return ""
    first = module.problems[0]
    where = f"{module.source}:{first.line}" if first.line else module.source
    if module.fatal:
        return f"{where}: {first.message}; the file is not documented"
    more = len(module.problems) - 1
    extra = f" (and {more} more)" if more else ""
    return f"{where}: {first.message}{extra}; documented what could be parsed"


DocgenAgent.__module__ = "cadenza_docgen"  # tracebacks and reprs say cadenza_docgen.DocgenAgent

"""From a file, YAML text or parsed data to checked workflows, in whichever format.

The public loaders (``_loader``) differ only in where the workflow comes from;
this module does the rest for all of them: read and decode the file (with a
digest of its bytes), parse the YAML keeping every value's position, pick the
format by the top-level keys (``workflows:`` means the seed format), and
collect the problems, dropping the workflows when any problem is an error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import attrs

from .._plugins._registry import Plugins, plugin_config_scope
from .._problems import Problem, SourceLocation
from .._source_file import read_source
from .._spec._convert import describe_value
from .._spec._workflow import Workflow
from .._yaml import parse_yaml
from ._context import LoadContext, Locator
from ._native import NativeFormat
from ._plugin_config import attach_agent_config, load_plugin_config
from ._seed import SeedFormat
from ._start import check_startable

__all__ = [
    "Checked",
    "LoadRequest",
    "check_data",
    "check_file",
    "check_text",
    "name_from_filename",
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
    chain: tuple[Path, ...] = ()
    """Files of the workflows that include this one as a sub-workflow, outermost first."""


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
    chain: tuple[Path, ...] = (),
) -> Checked | Problem:
    """Read and check the file at ``file``; the problem alone when it cannot be read.

    ``chain`` lists the files that include this one as a sub-workflow.
    """
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
        chain=chain,
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


def check_data(data: Any, *, doc: Locator | None, request: LoadRequest) -> Checked:
    """Check parsed ``data`` in the format its top-level keys name; no workflow if any error."""
    ctx = LoadContext(
        doc=doc,
        plugins=request.plugins,
        environ=os.environ if request.environ is None else request.environ,
        base_dir=request.base_dir,
        missing_env=request.missing_env,
        chain=(*request.chain, request.source) if request.source is not None else request.chain,
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
    seed = "workflows" in data
    # Strategy factories run while the file loads: they see the plugins' configuration.
    config = load_plugin_config(ctx, data.get("plugins"), allowed=not seed)
    with plugin_config_scope(config.configs):
        if seed:
            workflows, names = SeedFormat(ctx).load(
                data, select=request.select, every=request.every, common=common
            )
        else:
            workflows, names = NativeFormat(ctx).load(
                data, select=request.select, default_name=request.default_name, common=common
            )
    workflows = {name: attach_agent_config(ctx, w, config) for name, w in workflows.items()}
    for workflow in workflows.values():
        check_startable(ctx, workflow)  # what the runner would refuse before a first step
    problems = ctx.finish()
    if any(p.severity == "error" for p in problems):
        workflows = {}
    return Checked(workflows=workflows, names=names, problems=problems)


def name_from_filename(filename: str) -> str:
    """The workflow's name when the file gives none: the file's stem, or ``workflow``."""
    if filename.startswith("<"):
        return "workflow"
    return Path(filename).stem or "workflow"

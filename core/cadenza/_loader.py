"""Load workflow files (native and seed format) into validated :class:`Workflow` specs.

Loading never stops at the first problem: every check runs and every problem
is reported at once, each with file:line:col, the path of the offending value,
what is wrong and how to fix it (``WorkflowError.problems``). Warnings (a step
whose capability no configured agent serves) do not stop a file from loading.

Two formats load:

* the native format: top-level ``steps:`` mapping, ``agents:`` mapping, ...
  (docs/workflow-reference.md);
* the seed format, recognised by a top-level ``workflows:`` key: an
  ``agents:`` list (``id``, ``type``, ``api_endpoint``, ``api_key``,
  ``max_concurrent_tasks``) served by the built-in ``http`` kind, and named
  workflows whose ``steps:`` are lists (``name``, ``agent_type``, ``priority``,
  ``dependencies``, ``data``, ``max_retries``).

``${NAME}`` inside strings of the ``agents`` section expands from the
environment; expanded values and literal ``api_key`` values become the agent's
``secrets`` and are redacted from every problem message.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import attrs
import yaml

from ._convert import ValuePath, describe_value, render_path, structure, suggest
from ._errors import WorkflowError
from ._expr import Condition, compile_condition, compile_value
from ._graph import find_cycle
from ._plugins import Plugins
from ._problems import Problem, SourceLocation
from ._redact import redact
from ._spec import AgentConfig, InputSpec, RetryPolicy, Step, Workflow, parse_duration
from ._yaml import YamlDocument, parse_yaml

__all__ = [
    "WELL_KNOWN_CAPABILITIES",
    "FileReport",
    "LoadResult",
    "check_workflow_file",
    "load_workflow",
    "load_workflow_data",
    "load_workflow_text",
    "parse_input_value",
    "resolve_inputs",
]

WELL_KNOWN_CAPABILITIES = frozenset(
    {
        "code_generator",
        "asset_optimizer",
        "documentation",
        "testing",
        "deployment",
        "quality_assurance",
    }
)
"""The seed's agent types: a step using one that no agent serves loads with a warning."""

_NATIVE_KEYS = (
    "name",
    "description",
    "inputs",
    "concurrency",
    "fail_fast",
    "defaults",
    "agents",
    "steps",
)
_INPUT_KEYS = ("default", "description", "required")
_DEFAULTS_KEYS = ("retry", "timeout")
_RETRY_KEYS = ("max_attempts", "backoff", "max_backoff", "multiplier", "jitter")
_AGENT_KEYS = ("kind", "capabilities", "max_concurrent", "options")
_STEP_KEYS = (
    "uses",
    "with",
    "needs",
    "priority",
    "when",
    "retry",
    "timeout",
    "if_needs_skipped",
    "description",
)
_SEED_KEYS = ("agents", "workflows")
_SEED_AGENT_KEYS = ("id", "type", "api_endpoint", "api_key", "max_concurrent_tasks")
_SEED_WORKFLOW_KEYS = ("description", "steps")
_SEED_STEP_KEYS = ("name", "agent_type", "priority", "dependencies", "data", "max_retries")

_SEED_RETRY = RetryPolicy(backoff=2.0, multiplier=2.0, max_backoff=300.0)
_SEED_DEFAULT_PRIORITY = 5
_SEED_DEFAULT_RETRIES = 3
_SEED_DEFAULT_CONCURRENT = 3

_ENV_REF = re.compile(r"(\$?)\$\{([A-Za-z_][A-Za-z0-9_]*)\}")

_MISSING: Any = object()


@attrs.frozen(kw_only=True)
class LoadResult:
    """A loaded workflow, the warnings found loading it, and every workflow name in the file."""

    workflow: Workflow
    warnings: tuple[Problem, ...]
    workflows: tuple[str, ...]


@attrs.frozen(kw_only=True)
class FileReport:
    """What :func:`check_workflow_file` found: the workflows that loaded and every problem."""

    workflows: tuple[Workflow, ...]
    problems: tuple[Problem, ...]
    names: tuple[str, ...]

    @property
    def valid(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "warning")


# -- public entry points --------------------------------------------------------------


def load_workflow(
    path: str | os.PathLike[str],
    *,
    plugins: Plugins,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Load and validate the workflow file at ``path``; raise :class:`WorkflowError` if invalid.

    ``workflow`` picks one workflow of a seed-format file with several (it may
    be left out when the file has exactly one). ``environ`` (default
    ``os.environ``) expands ``${NAME}`` references in the agents section.
    """
    file = Path(path)
    raw = _read(file)
    if isinstance(raw, Problem):
        raise WorkflowError([raw])
    text, digest = raw
    checked = _check_text(
        text,
        plugins=plugins,
        filename=str(file),
        base_dir=file.resolve().parent,
        default_name=file.stem,
        source=file.resolve(),
        digest=digest,
        select=workflow,
        every=False,
        environ=environ,
    )
    return _result(checked)


def load_workflow_text(
    text: str,
    *,
    plugins: Plugins,
    filename: str = "<string>",
    base_dir: Path | None = None,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Like :func:`load_workflow`, from YAML ``text``; ``filename`` is used in messages."""
    checked = _check_text(
        text,
        plugins=plugins,
        filename=filename,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
        default_name=_default_name(filename),
        source=None,
        digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        select=workflow,
        every=False,
        environ=environ,
    )
    return _result(checked)


def load_workflow_data(
    data: Mapping[str, Any],
    *,
    plugins: Plugins,
    base_dir: Path | None = None,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> LoadResult:
    """Like :func:`load_workflow`, from already-parsed data (problems carry no locations)."""
    try:
        canonical = json.dumps(data, sort_keys=True, default=repr)
    except (TypeError, ValueError):  # keys of mixed types cannot be sorted
        canonical = repr(data)
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    checked = _check(
        data,
        doc=None,
        plugins=plugins,
        base_dir=base_dir if base_dir is not None else Path.cwd(),
        default_name="workflow",
        source=None,
        digest=digest,
        select=workflow,
        every=False,
        environ=environ,
    )
    return _result(checked)


def check_workflow_file(
    path: str | os.PathLike[str],
    *,
    plugins: Plugins,
    workflow: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> FileReport:
    """Validate a file without raising: every workflow in it (or just ``workflow``).

    This is ``cadenza validate``: a seed-format file with several workflows is
    checked whole, instead of asking which one to load.
    """
    file = Path(path)
    raw = _read(file)
    if isinstance(raw, Problem):
        return FileReport(workflows=(), problems=(raw,), names=())
    text, digest = raw
    checked = _check_text(
        text,
        plugins=plugins,
        filename=str(file),
        base_dir=file.resolve().parent,
        default_name=file.stem,
        source=file.resolve(),
        digest=digest,
        select=workflow,
        every=workflow is None,
        environ=environ,
    )
    return FileReport(
        workflows=tuple(checked.workflows.values()),
        problems=tuple(sorted(checked.problems, key=Problem.sort_key)),
        names=checked.names,
    )


def parse_input_value(text: str) -> Any:
    """Parse a ``--set`` value as a YAML scalar: ``"3"`` -> 3, ``"true"`` -> True.

    Anything that is not a plain scalar (``"a: b"``, ``"[1"``, a date) stays the
    string it was; an empty value is the empty string.
    """
    if text.strip() == "":
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return text


def resolve_inputs(workflow: Workflow, overrides: Mapping[str, str]) -> dict[str, Any]:
    """The run's inputs: defaults, overridden by ``--set name=value`` pairs.

    Raises :class:`WorkflowError` naming every unknown input (with the known
    ones) and every required input that was not given.
    """
    problems: list[Problem] = []
    known = list(workflow.inputs)
    for name in overrides:
        if name not in workflow.inputs:
            hint = suggest(name, known)
            hint += (
                f"Known inputs: {_listing(known)}."
                if known
                else "This workflow declares no inputs (add them under inputs:)."
            )
            problems.append(
                Problem(message=f"unknown input {name!r}", path=f"--set {name}", hint=hint)
            )
    values: dict[str, Any] = {}
    for name, spec in workflow.inputs.items():
        if name in overrides:
            values[name] = parse_input_value(overrides[name])
        elif spec.required:
            problems.append(
                Problem(
                    message=f"input {name!r} is required but was not given",
                    path=f"inputs.{name}",
                    hint=f"Pass --set {name}=VALUE"
                    + (f" ({spec.description})." if spec.description else "."),
                )
            )
        else:
            values[name] = spec.default
    if problems:
        raise WorkflowError(problems)
    return values


# -- reading and dispatch ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class _Checked:
    workflows: dict[str, Workflow]
    names: tuple[str, ...]
    problems: list[Problem]


def _default_name(filename: str) -> str:
    if filename.startswith("<"):
        return "workflow"
    return Path(filename).stem or "workflow"


def _read(file: Path) -> tuple[str, str] | Problem:
    try:
        data = file.read_bytes()
    except FileNotFoundError:
        return Problem(
            message=f"cannot read workflow file {str(file)!r}: no such file",
            hint="Check the path; it is relative to the current directory.",
        )
    except IsADirectoryError:
        return Problem(
            message=f"cannot read workflow file {str(file)!r}: it is a directory",
            hint="Pass the workflow's YAML file, not its directory.",
        )
    except OSError as exc:
        return Problem(
            message=f"cannot read workflow file {str(file)!r}: {exc.strerror or exc}",
            hint="Check that the file exists and that you may read it.",
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return Problem(
            message="the file is not UTF-8 text",
            location=SourceLocation(file=str(file), line=line, column=column),
            hint="Save the workflow file as UTF-8.",
        )
    return text, hashlib.sha256(data).hexdigest()


def _result(checked: _Checked) -> LoadResult:
    problems = sorted(checked.problems, key=Problem.sort_key)
    if any(p.severity == "error" for p in problems) or not checked.workflows:
        raise WorkflowError(problems)
    workflow = next(iter(checked.workflows.values()))
    warnings = tuple(p for p in problems if p.severity == "warning")
    return LoadResult(workflow=workflow, warnings=warnings, workflows=checked.names)


def _check_text(
    text: str,
    *,
    plugins: Plugins,
    filename: str,
    base_dir: Path,
    default_name: str,
    source: Path | None,
    digest: str,
    select: str | None,
    every: bool,
    environ: Mapping[str, str] | None,
) -> _Checked:
    doc = parse_yaml(text, filename=filename)
    if doc.problems and doc.data is None:
        return _Checked(workflows={}, names=(), problems=list(doc.problems))
    if doc.data is None:
        empty = Problem(
            message="the workflow file is empty",
            location=SourceLocation(file=filename, line=1, column=1),
            hint="A workflow needs at least agents: and steps: (see docs/workflow-reference.md).",
        )
        return _Checked(workflows={}, names=(), problems=[empty])
    checked = _check(
        doc.data,
        doc=doc,
        plugins=plugins,
        base_dir=base_dir,
        default_name=default_name,
        source=source,
        digest=digest,
        select=select,
        every=every,
        environ=environ,
    )
    checked.problems.extend(doc.problems)
    if doc.problems:  # a duplicate key makes the file invalid even if the rest is fine
        checked.workflows.clear()
    return checked


def _check(
    data: Any,
    *,
    doc: YamlDocument | None,
    plugins: Plugins,
    base_dir: Path,
    default_name: str,
    source: Path | None,
    digest: str,
    select: str | None,
    every: bool,
    environ: Mapping[str, str] | None,
) -> _Checked:
    ctx = _Ctx(
        doc=doc,
        plugins=plugins,
        environ=os.environ if environ is None else environ,
        base_dir=base_dir,
    )
    if not isinstance(data, Mapping):
        ctx.error(
            (),
            f"a workflow file must be a mapping at the top level, got {describe_value(data)}",
            "Start the file with keys like agents: and steps:.",
        )
        return _Checked(workflows={}, names=(), problems=ctx.finish())
    common = {"source": source, "source_hash": digest}
    if "workflows" in data:
        workflows, names = _Seed(ctx).load(data, select=select, every=every, common=common)
    else:
        workflows, names = _Native(ctx).load(
            data, select=select, default_name=default_name, common=common
        )
    problems = ctx.finish()
    if any(p.severity == "error" for p in problems):
        workflows = {}
    return _Checked(workflows=workflows, names=names, problems=problems)


# -- the problem collector -------------------------------------------------------------


@attrs.define
class _Ctx:
    doc: YamlDocument | None
    plugins: Plugins
    environ: Mapping[str, str]
    base_dir: Path
    problems: list[Problem] = attrs.field(factory=list)
    secrets: set[str] = attrs.field(factory=set)
    malformed: set[ValuePath] = attrs.field(factory=set)
    """Sections already reported as missing or of the wrong type (no follow-up errors)."""

    def loc(self, path: ValuePath, *, key: bool = False) -> SourceLocation | None:
        return self.doc.locate(path, key=key) if self.doc is not None else None

    def error(self, path: ValuePath, message: str, hint: str = "", *, key: bool = False) -> None:
        self.problems.append(
            Problem(
                message=message, path=render_path(path), location=self.loc(path, key=key), hint=hint
            )
        )

    def warn(self, path: ValuePath, message: str, hint: str = "") -> None:
        self.problems.append(
            Problem(
                message=message,
                path=render_path(path),
                location=self.loc(path),
                hint=hint,
                severity="warning",
            )
        )

    def finish(self) -> list[Problem]:
        """Every problem, with secret values redacted from messages and hints."""
        if not self.secrets:
            return self.problems
        return [
            attrs.evolve(
                p, message=redact(p.message, self.secrets), hint=redact(p.hint, self.secrets)
            )
            for p in self.problems
        ]

    # -- typed getters: report a problem and return a fallback when the value is wrong --

    def mapping(
        self, value: Any, path: ValuePath, what: str, hint: str = ""
    ) -> Mapping[Any, Any] | None:
        if isinstance(value, Mapping):
            return value
        self.error(path, f"{what} must be a mapping, got {describe_value(value)}", hint)
        return None

    def keys(
        self, mapping: Mapping[Any, Any], path: ValuePath, allowed: Sequence[str], where: str
    ) -> None:
        for key in mapping:
            if key in allowed:
                continue
            hint = suggest(str(key), allowed) + f"Allowed keys {where}: {', '.join(allowed)}."
            self.error((*path, key), f"unknown key {key!r} {where}", hint, key=True)

    def string(
        self, mapping: Mapping[Any, Any], key: str, path: ValuePath, *, required: str = ""
    ) -> str | None:
        """The string at ``mapping[key]``; ``required`` is the hint when it is missing."""
        value = mapping.get(key, _MISSING)
        if value is _MISSING or (value is None and required):
            if required:
                self.error(path, f"missing required key {key!r}", required, key=True)
            return None
        if value is None:
            return None
        if isinstance(value, str):
            if required and not value.strip():
                self.error((*path, key), f"{key} must not be empty", required)
                return None
            return value
        self.error(
            (*path, key), f"{key} must be a string, got {describe_value(value)}", _quote_hint(value)
        )
        return None

    def integer(
        self,
        mapping: Mapping[Any, Any],
        key: str,
        path: ValuePath,
        *,
        default: int,
        minimum: int | None = None,
        hint: str = "",
    ) -> int:
        value = mapping.get(key, _MISSING)
        if value is _MISSING:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            self.error(
                (*path, key),
                f"{key} must be an integer, got {describe_value(value)}",
                hint or "Write a whole number, without quotes.",
            )
            return default
        if minimum is not None and value < minimum:
            self.error(
                (*path, key),
                f"{key} must be at least {minimum}, got {value}",
                hint or f"Use a whole number >= {minimum}.",
            )
            return default
        return value

    def boolean(
        self, mapping: Mapping[Any, Any], key: str, path: ValuePath, *, default: bool
    ) -> bool:
        value = mapping.get(key, _MISSING)
        if value is _MISSING:
            return default
        if isinstance(value, bool):
            return value
        self.error(
            (*path, key),
            f"{key} must be true or false, got {describe_value(value)}",
            "Write true or false, without quotes.",
        )
        return default

    def duration(self, value: Any, path: ValuePath, *, allow_zero: bool = True) -> float | None:
        try:
            seconds = float(parse_duration(value))
        except ValueError as exc:
            self.error(
                path, str(exc), "Write a number of seconds or a string like 30s, 1m30s or 2h."
            )
            return None
        if not allow_zero and seconds <= 0:
            self.error(
                path,
                f"{path[-1]} must be greater than 0, got {value!r}",
                "Use a duration like 30s.",
            )
            return None
        return seconds

    def names(self, value: Any, path: ValuePath, what: str) -> list[tuple[str, ValuePath]]:
        """A list of strings (or one string) with each entry's path."""
        if value is None:
            return []
        if isinstance(value, str):
            return [(value, path)]
        if not isinstance(value, list):
            self.error(path, f"{what} must be a list of strings, got {describe_value(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append((item, (*path, i)))
            else:
                self.error(
                    (*path, i),
                    f"{what} entries must be strings, got {describe_value(item)}",
                    _quote_hint(item),
                )
        return out

    def name_key(self, key: Any, path: ValuePath, what: str) -> str | None:
        """A mapping key used as a name (a step id, an agent name): a non-empty string."""
        if isinstance(key, str) and key.strip():
            return key
        if isinstance(key, str):
            self.error(path, f"{what} must not be empty", key=True)
        else:
            self.error(
                path,
                f"{what} must be a string, got {describe_value(key)}",
                _quote_hint(key),
                key=True,
            )
        return None

    # -- environment variables ----------------------------------------------------------

    def expand_env(
        self, value: Any, path: ValuePath, found: set[str], *, secret: bool = False
    ) -> Any:
        """Expand ``${NAME}`` in every string under ``value``; add secrets to ``found``.

        Secrets are every expanded value and every string under an ``api_key`` key.
        """
        if isinstance(value, str):
            out, complete = self._expand_string(value, path, found)
            if secret and complete and out:
                found.add(out)
                self.secrets.add(out)
            return out
        if isinstance(value, Mapping):
            return {
                k: self.expand_env(v, (*path, k), found, secret=secret or k == "api_key")
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.expand_env(v, (*path, i), found, secret=secret) for i, v in enumerate(value)
            ]
        return value

    def _expand_string(self, text: str, path: ValuePath, found: set[str]) -> tuple[str, bool]:
        missing = False

        def sub(match: re.Match[str]) -> str:
            nonlocal missing
            escaped, name = match.group(1), match.group(2)
            if escaped:
                return match.group(0)[1:]
            value = self.environ.get(name)
            if value is None:
                self.error(
                    path,
                    f"environment variable {name} is not set",
                    f"export {name}=... before running cadenza "
                    f"(or write $${{{name}}} for a literal).",
                )
                missing = True
                return match.group(0)
            if value:
                found.add(value)
                self.secrets.add(value)
            return value

        out = _ENV_REF.sub(sub, text)
        return out, not missing


def _quote_hint(value: Any) -> str:
    if isinstance(value, bool | int | float) or value is None:
        return f"Quote it to make it a string: '{_yaml_scalar(value)}'."
    return ""


def _yaml_scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _listing(names: Iterable[str], limit: int = 20) -> str:
    items = sorted(names)
    if len(items) > limit:
        return ", ".join(items[:limit]) + f", and {len(items) - limit} more"
    return ", ".join(items)


# -- shared: agents, steps and the checks that span them ------------------------------------


@attrs.define
class _Draft:
    """A step as read from either format, before the cross-step checks."""

    id: str
    location: SourceLocation | None
    uses: str | None
    uses_path: ValuePath
    needs: list[tuple[str, ValuePath]]
    with_value: Any
    with_path: ValuePath
    when: str | None
    when_path: ValuePath
    priority: int
    retry: RetryPolicy
    timeout: float | None
    if_needs_skipped: Literal["skip", "run"]


def _options(
    ctx: _Ctx,
    *,
    kind: str,
    data: Any,
    path: ValuePath,
    rename: Mapping[str, ValuePath] | None = None,
) -> Any:
    """Structure ``data`` into ``kind``'s options class; report issues at their paths."""
    reg = ctx.plugins.agent_kinds.get(kind)
    if reg is None:
        return None
    if data is None:
        data = {}
    if reg.options is None:
        return dict(data) if ctx.mapping(data, path, "options") is not None else None
    obj, issues = structure(data, reg.options)
    for issue in issues:
        where = path + issue.path
        if rename and issue.path and isinstance(issue.path[0], str) and issue.path[0] in rename:
            where = rename[issue.path[0]] + issue.path[1:]
        ctx.error(where, issue.message, issue.hint, key=issue.at_key)
    return obj


def _kind_problem(ctx: _Ctx, kind: str, path: ValuePath) -> None:
    known = list(ctx.plugins.agent_kinds)
    hint = suggest(kind, known)
    hint += f"Known kinds: {_listing(known)}. " if known else "No agent kinds are registered. "
    hint += f"A plugin may provide it: pip install cadenza-{kind}."
    ctx.error(path, f"unknown agent kind {kind!r}", hint)


def _retry(ctx: _Ctx, value: Any, path: ValuePath, base: RetryPolicy) -> RetryPolicy:
    """``retry:`` as an int (max_attempts) or a mapping, merged over ``base``."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            ctx.error(
                path,
                f"max_attempts must be at least 1, got {value}",
                "Use retry: 1 for no retries.",
            )
            return base
        return attrs.evolve(base, max_attempts=value)
    retry = ctx.mapping(
        value,
        path,
        "retry",
        "Write retry: 3 (max attempts) or retry: {max_attempts: 3, backoff: 1s}.",
    )
    if retry is None:
        return base
    ctx.keys(retry, path, _RETRY_KEYS, "in retry")
    changes: dict[str, Any] = {}
    if "max_attempts" in retry:
        changes["max_attempts"] = ctx.integer(
            retry,
            "max_attempts",
            path,
            default=base.max_attempts,
            minimum=1,
            hint="max_attempts counts every attempt, the first included: 1 means no retries.",
        )
    for key in ("backoff", "max_backoff"):
        if key in retry:
            seconds = ctx.duration(retry[key], (*path, key))
            if seconds is not None:
                changes[key] = seconds
    if "multiplier" in retry:
        mult = retry["multiplier"]
        if not isinstance(mult, int | float) or isinstance(mult, bool) or not mult >= 1:
            ctx.error(
                (*path, "multiplier"),
                f"multiplier must be a number >= 1, got {describe_value(mult)}",
                "Each retry waits multiplier times longer than the one before; 2 is common.",
            )
        else:
            changes["multiplier"] = float(mult)
    if "jitter" in retry:
        if retry["jitter"] in ("full", "none"):
            changes["jitter"] = retry["jitter"]
        else:
            ctx.error(
                (*path, "jitter"),
                f"jitter must be 'full' or 'none', got {describe_value(retry['jitter'])}",
            )
    return attrs.evolve(base, **changes)


def _ref_pattern(step: str) -> re.Pattern[str]:
    name = re.escape(step)
    return re.compile(rf"steps\s*(?:\.\s*{name}\b|\[\s*['\"]{name}['\"]\s*\])")


def _strings_under(value: Any, path: ValuePath) -> Iterable[tuple[str, ValuePath]]:
    if isinstance(value, str):
        yield value, path
    elif isinstance(value, Mapping):
        for k, v in value.items():
            yield from _strings_under(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings_under(v, (*path, i))


def _paths_under(value: Any, path: ValuePath) -> dict[str, ValuePath]:
    """Every path under ``value``, rendered as ExprIssue.path renders it, to its tuple."""
    out: dict[str, ValuePath] = {}
    stack: list[tuple[Any, ValuePath]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        out[render_path(where)] = where
        if isinstance(item, Mapping):
            stack.extend((v, (*where, k)) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, (*where, i)) for i, v in enumerate(item))
    return out


def _issue_path(
    rendered: str, candidates: Mapping[str, ValuePath], fallback: ValuePath
) -> ValuePath:
    if rendered in candidates:
        return candidates[rendered]
    best: ValuePath | None = None
    best_len = -1
    for text, path in candidates.items():
        if rendered.startswith(text) and len(text) > best_len:
            best, best_len = path, len(text)
    return best if best is not None else fallback


@attrs.define
class _Agents:
    """The agents of a file, plus what each serves (recorded even for invalid agents)."""

    configs: dict[str, AgentConfig] = attrs.field(factory=dict)
    serves: dict[str, set[str]] = attrs.field(factory=dict)

    def capabilities(self) -> set[str]:
        out: set[str] = set()
        for caps in self.serves.values():
            out |= caps
        return out


def _finish_steps(
    ctx: _Ctx,
    drafts: list[_Draft],
    *,
    agents: _Agents,
    inputs: Mapping[str, InputSpec],
    steps_path: ValuePath,
    seed: bool,
) -> dict[str, Step]:
    """The checks that span steps: uses, needs, references, cycles; then build the steps."""
    ids = [d.id for d in drafts]
    known = set(ids)
    if not drafts and steps_path not in ctx.malformed:
        ctx.error(
            steps_path,
            "the workflow has no steps",
            "Add at least one step"
            + (" (a list item with name: and agent_type:)." if seed else " under steps:."),
        )
    capabilities = agents.capabilities()
    valid_needs: dict[str, list[str]] = {}
    steps: dict[str, Step] = {}
    for d in drafts:
        if d.uses is not None and ("agents",) not in ctx.malformed:
            _check_uses(ctx, d, agents=agents, capabilities=capabilities, seed=seed)
        needs: list[str] = []
        for need, need_path in d.needs:
            if need == d.id:
                ctx.error(need_path, f"step {d.id!r} needs itself", "Remove it from its own needs.")
            elif need not in known:
                hint = suggest(need, ids) + f"Known steps: {_listing(ids)}."
                ctx.error(need_path, f"unknown step {need!r}", hint)
            elif need in needs:
                ctx.warn(need_path, f"step {need!r} is listed twice", "Remove the duplicate.")
            else:
                needs.append(need)
        valid_needs[d.id] = needs

        template, issues = compile_value(d.with_value, path=render_path(d.with_path))
        candidates = _paths_under(d.with_value, d.with_path) if issues else {}
        for issue in issues:
            where = _issue_path(issue.path, candidates, d.with_path)
            ctx.error(where, issue.message, issue.hint)
        _check_refs(
            ctx, d, template.step_refs, template.input_refs, needs, ids, known, inputs, in_with=True
        )

        condition: Condition | None = None
        if d.when is not None:
            condition, issues = compile_condition(d.when, path=render_path(d.when_path))
            for issue in issues:
                ctx.error(d.when_path, issue.message, issue.hint)
            if condition is not None:
                _check_refs(
                    ctx,
                    d,
                    condition.step_refs,
                    condition.input_refs,
                    needs,
                    ids,
                    known,
                    inputs,
                    in_with=False,
                )
        if d.uses is None:
            continue
        steps[d.id] = Step(
            id=d.id,
            uses=d.uses,
            inputs=template,
            needs=tuple(needs),
            priority=d.priority,
            condition=condition,
            retry=d.retry,
            timeout=d.timeout,
            if_needs_skipped=d.if_needs_skipped,
            location=d.location,
        )

    _report_cycles(ctx, drafts, valid_needs)
    return steps


def _check_uses(
    ctx: _Ctx, d: _Draft, *, agents: _Agents, capabilities: set[str], seed: bool
) -> None:
    uses = d.uses
    assert uses is not None
    if uses in agents.serves or uses in capabilities:
        return
    kinds = sorted(
        name for name, reg in ctx.plugins.agent_kinds.items() if uses in reg.capabilities
    )
    if uses in WELL_KNOWN_CAPABILITIES or kinds:
        add = (
            f"Add an agent with type: {uses} under agents:"
            if seed
            else f"Add an agent with capabilities: [{uses}] under agents:"
        )
        if kinds:
            add += f" (agent kinds that serve it: {', '.join(kinds)})"
        ctx.warn(
            d.uses_path,
            f"no configured agent serves {uses!r}, so step {d.id!r} will fail when it runs",
            add + ".",
        )
        return
    names = sorted(set(agents.serves) | capabilities)
    hint = suggest(uses, names)
    if names:
        hint += f"Agents: {_listing(agents.serves)}"
        if capabilities:
            hint += f"; capabilities: {_listing(capabilities)}"
        hint += "."
    else:
        hint += "No agents are configured: add one under agents:."
    what = "agent type" if seed else "agent or capability"
    ctx.error(d.uses_path, f"unknown {what} {uses!r}", hint)


def _check_refs(
    ctx: _Ctx,
    d: _Draft,
    step_refs: Iterable[str],
    input_refs: Iterable[str],
    needs: list[str],
    ids: list[str],
    known: set[str],
    inputs: Mapping[str, InputSpec],
    *,
    in_with: bool,
) -> None:
    base = d.with_path if in_with else d.when_path
    field = "with" if in_with else "when"

    def where(pattern: re.Pattern[str]) -> ValuePath:
        if not in_with:
            return base
        for text, path in _strings_under(d.with_value, base):
            if pattern.search(text):
                return path
        return base

    for ref in sorted(step_refs):
        if ref in needs:
            continue
        path = where(_ref_pattern(ref))
        if ref == d.id:
            ctx.error(
                path,
                f"step {d.id!r} refers to its own output in {field}:",
                "A step can only use the outputs of steps it needs.",
            )
        elif ref not in known:
            hint = suggest(ref, ids) + f"Known steps: {_listing(ids)}."
            ctx.error(path, f"{field}: refers to unknown step {ref!r}", hint)
        else:
            ctx.error(
                path,
                f"{field}: uses the output of step {ref!r}, which step {d.id!r} does not need",
                f"Add {ref} to needs, so it finishes first: needs: [{', '.join([*needs, ref])}].",
            )
    known_inputs = list(inputs)
    for ref in sorted(input_refs):
        if ref in inputs:
            continue
        path = where(re.compile(rf"inputs\s*(?:\.\s*{re.escape(ref)}\b|\[)"))
        hint = suggest(ref, known_inputs)
        hint += (
            f"Known inputs: {_listing(known_inputs)}; declare new ones under inputs:."
            if known_inputs
            else "Declare it under inputs: at the top of the file."
        )
        ctx.error(path, f"{field}: refers to unknown input {ref!r}", hint)


def _report_cycles(ctx: _Ctx, drafts: list[_Draft], needs: dict[str, list[str]]) -> None:
    graph = {k: list(v) for k, v in needs.items()}
    need_paths = {(d.id, n): p for d in drafts for n, p in d.needs}
    for _ in range(20):  # every independent cycle, up to a sane number
        cycle = find_cycle(graph)
        if cycle is None:
            return
        first, second = cycle[0], cycle[1]
        ctx.error(
            need_paths.get((first, second), ()),
            "steps form a cycle: " + " -> ".join(cycle),
            "A step cannot (even indirectly) need itself: remove one of these needs.",
        )
        for node in cycle[:-1]:  # break this cycle and look for another
            graph[node] = [n for n in graph.get(node, []) if n not in cycle]


# -- native format -----------------------------------------------------------------------


@attrs.define
class _Native:
    ctx: _Ctx

    def load(
        self,
        data: Mapping[Any, Any],
        *,
        select: str | None,
        default_name: str,
        common: dict[str, Any],
    ) -> tuple[dict[str, Workflow], tuple[str, ...]]:
        ctx = self.ctx
        ctx.keys(data, (), _NATIVE_KEYS, "at the top level")
        name = ctx.string(data, "name", ()) or default_name
        if select is not None and select != name:
            hint = suggest(select, [name]) + f"This file defines one workflow, {name!r}."
            ctx.error(("name",), f"no workflow named {select!r} in this file", hint)
        description = ctx.string(data, "description", ()) or ""
        inputs = self.inputs(data.get("inputs"), ("inputs",))
        concurrency = ctx.integer(
            data,
            "concurrency",
            (),
            default=16,
            minimum=1,
            hint="concurrency bounds attempts in flight over the whole run; use 1 or more.",
        )
        fail_fast = ctx.boolean(data, "fail_fast", (), default=False)
        retry, timeout = RetryPolicy(), None
        if data.get("defaults") is not None:
            defaults = ctx.mapping(data["defaults"], ("defaults",), "defaults")
            if defaults is not None:
                ctx.keys(defaults, ("defaults",), _DEFAULTS_KEYS, "in defaults")
                if "retry" in defaults:
                    retry = _retry(ctx, defaults["retry"], ("defaults", "retry"), retry)
                if defaults.get("timeout") is not None:
                    timeout = ctx.duration(
                        defaults["timeout"], ("defaults", "timeout"), allow_zero=False
                    )
        agents = self.agents(data.get("agents"))
        drafts = self.steps(data, retry=retry, timeout=timeout)
        steps = _finish_steps(
            ctx, drafts, agents=agents, inputs=inputs, steps_path=("steps",), seed=False
        )
        workflow = Workflow(
            name=name,
            steps=steps,
            agents=agents.configs,
            inputs=inputs,
            concurrency=concurrency,
            fail_fast=fail_fast,
            description=description,
            **common,
        )
        return {name: workflow}, (name,)

    def inputs(self, value: Any, path: ValuePath) -> dict[str, InputSpec]:
        ctx = self.ctx
        if value is None:
            return {}
        section = ctx.mapping(
            value, path, "inputs", "Write inputs as name: default, or name: {default: ...}."
        )
        if section is None:
            return {}
        out: dict[str, InputSpec] = {}
        for key, spec in section.items():
            name = ctx.name_key(key, (*path, key), "an input name")
            if name is None:
                continue
            where = (*path, key)
            if isinstance(spec, Mapping) and any(k in spec for k in _INPUT_KEYS):
                ctx.keys(spec, where, _INPUT_KEYS, f"in input {name!r}")
                required = ctx.boolean(spec, "required", where, default=False)
                if required and "default" in spec:
                    ctx.error(
                        (*where, "required"),
                        f"input {name!r} is required but also has a default",
                        "Remove required: true (the default is used when --set is not given) "
                        "or remove the default.",
                    )
                out[name] = InputSpec(
                    name=name,
                    default=spec.get("default"),
                    required=required,
                    description=ctx.string(spec, "description", where) or "",
                )
            else:
                out[name] = InputSpec(name=name, default=spec)
        return out

    def agents(self, value: Any) -> _Agents:
        ctx = self.ctx
        result = _Agents()
        if value is None:
            return result
        section = ctx.mapping(
            value,
            ("agents",),
            "agents",
            "Write agents as a mapping: name -> {kind: ..., options: ...}.",
        )
        if section is None:
            ctx.malformed.add(("agents",))
            return result
        for key, raw in section.items():
            path = ("agents", key)
            name = ctx.name_key(key, path, "an agent name")
            if name is None:
                continue
            result.serves[name] = set()
            spec = ctx.mapping(
                raw,
                path,
                f"agent {name!r}",
                "Give it at least kind: (http, python, template, ...).",
            )
            if spec is None:
                continue
            secrets: set[str] = set()
            spec = ctx.expand_env(spec, path, secrets)
            ctx.keys(spec, path, _AGENT_KEYS, f"in agent {name!r}")
            known = ", ".join(sorted(ctx.plugins.agent_kinds)) or "none registered"
            kind = ctx.string(spec, "kind", path, required=f"Add kind: one of {known}.")
            caps = {
                c
                for c, _ in ctx.names(
                    spec.get("capabilities"), (*path, "capabilities"), "capabilities"
                )
            }
            reg = ctx.plugins.agent_kinds.get(kind) if kind is not None else None
            if kind is not None and reg is None:
                _kind_problem(ctx, kind, (*path, "kind"))
            if reg is not None:
                caps |= reg.capabilities
            result.serves[name] = caps
            max_concurrent: int | None = None
            if spec.get("max_concurrent") is not None:
                max_concurrent = ctx.integer(
                    spec,
                    "max_concurrent",
                    path,
                    default=1,
                    minimum=1,
                    hint="max_concurrent is how many calls this agent takes at once; "
                    "leave it out for no limit.",
                )
            if reg is None or kind is None:
                continue
            options = _options(ctx, kind=kind, data=spec.get("options"), path=(*path, "options"))
            if options is None:
                continue
            result.configs[name] = AgentConfig(
                name=name,
                kind=kind,
                options=options,
                max_concurrent=max_concurrent,
                capabilities=frozenset(caps),
                secrets=frozenset(secrets),
                base_dir=ctx.base_dir,
                location=ctx.loc(path, key=True),
            )
        return result

    def steps(
        self, data: Mapping[Any, Any], *, retry: RetryPolicy, timeout: float | None
    ) -> list[_Draft]:
        ctx = self.ctx
        ctx.malformed.add(("steps",))  # until proven otherwise
        if "steps" not in data:
            ctx.error(
                (),
                "missing required key 'steps'",
                "Add steps: a mapping of step id -> {uses: ...}.",
            )
            return []
        value = data["steps"]
        if isinstance(value, list):
            ctx.error(
                ("steps",),
                "steps must be a mapping of step id -> step, got a list",
                "Write steps: {build: {uses: writer}}; the list form with name: and "
                "agent_type: belongs to the seed format under workflows:.",
            )
            return []
        section = (
            ctx.mapping(value, ("steps",), "steps", "Write steps: {build: {uses: writer}}.")
            if value is not None
            else {}
        )
        if section is None:
            return []
        ctx.malformed.discard(("steps",))
        drafts = []
        for key, raw in section.items():
            path = ("steps", key)
            step_id = ctx.name_key(key, path, "a step id")
            if step_id is None:
                continue
            spec = ctx.mapping(
                raw, path, f"step {step_id!r}", "Give it at least uses: <agent or capability>."
            )
            if spec is None:
                continue
            ctx.keys(spec, path, _STEP_KEYS, f"in step {step_id!r}")
            drafts.append(self.step(step_id, spec, path, retry=retry, timeout=timeout))
        return drafts

    def step(
        self,
        step_id: str,
        spec: Mapping[Any, Any],
        path: ValuePath,
        *,
        retry: RetryPolicy,
        timeout: float | None,
    ) -> _Draft:
        ctx = self.ctx
        uses = ctx.string(spec, "uses", path, required="Add uses: <an agent name or a capability>.")
        with_value = spec.get("with")
        if with_value is None:
            with_value = {}
        elif not isinstance(with_value, Mapping):
            ctx.error(
                (*path, "with"),
                f"with must be a mapping of input name -> value, got {describe_value(with_value)}",
                "Write with: {prompt: 'Summarise ${{ steps.fetch.output }}'}.",
            )
            with_value = {}
        when = self.when(spec, path)
        if "retry" in spec:
            retry = _retry(ctx, spec["retry"], (*path, "retry"), retry)
        if "timeout" in spec:
            timeout = (
                None
                if spec["timeout"] is None
                else ctx.duration(spec["timeout"], (*path, "timeout"), allow_zero=False)
            )
        mode = spec.get("if_needs_skipped", "skip")
        if mode not in ("skip", "run"):
            ctx.error(
                (*path, "if_needs_skipped"),
                f"if_needs_skipped must be 'skip' or 'run', got {describe_value(mode)}",
                "skip (the default) skips this step when a needed step was skipped by its when:; "
                "run runs it anyway.",
            )
            mode = "skip"
        return _Draft(
            id=step_id,
            location=ctx.loc(path, key=True),
            uses=uses,
            uses_path=(*path, "uses"),
            needs=ctx.names(spec.get("needs"), (*path, "needs"), "needs"),
            with_value=with_value,
            with_path=(*path, "with"),
            when=when,
            when_path=(*path, "when"),
            priority=ctx.integer(spec, "priority", path, default=0),
            retry=retry,
            timeout=timeout,
            if_needs_skipped=mode,
        )

    def when(self, spec: Mapping[Any, Any], path: ValuePath) -> str | None:
        value = spec.get("when")
        if value is None:
            return None
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, str):
            return value
        self.ctx.error(
            (*path, "when"),
            f"when must be an expression string, got {describe_value(value)}",
            'Write when: "inputs.publish" (a CEL expression).',
        )
        return None


# -- seed format ---------------------------------------------------------------------------


@attrs.define
class _Seed:
    ctx: _Ctx

    def load(
        self,
        data: Mapping[Any, Any],
        *,
        select: str | None,
        every: bool,
        common: dict[str, Any],
    ) -> tuple[dict[str, Workflow], tuple[str, ...]]:
        ctx = self.ctx
        ctx.keys(data, (), _SEED_KEYS, "at the top level of a seed-format file")
        agents = self.agents(data.get("agents"))
        section = ctx.mapping(
            data["workflows"],
            ("workflows",),
            "workflows",
            "Write workflows: {name: {description: ..., steps: [...]}}.",
        )
        if section is None:
            return {}, ()
        names: list[str] = []
        bodies: dict[str, tuple[Any, ValuePath]] = {}
        for key, body in section.items():
            name = ctx.name_key(key, ("workflows", key), "a workflow name")
            if name is not None:
                names.append(name)
                bodies[name] = (body, ("workflows", key))
        if not names:
            if not section:
                ctx.error(
                    ("workflows",),
                    "workflows is empty",
                    "Add a workflow: workflows: {name: {steps: [...]}}.",
                )
            return {}, ()
        if select is not None:
            if select not in bodies:
                hint = suggest(select, names) + f"Workflows in this file: {_listing(names)}."
                ctx.error(
                    ("workflows",), f"no workflow named {select!r} in this file", hint, key=True
                )
                return {}, tuple(names)
            chosen = [select]
        elif every or len(names) == 1:
            chosen = names
        else:
            ctx.error(
                ("workflows",),
                f"this file has {len(names)} workflows: {', '.join(names)}",
                "Pick one with --workflow NAME.",
                key=True,
            )
            return {}, tuple(names)
        out: dict[str, Workflow] = {}
        for name in chosen:
            body, path = bodies[name]
            workflow = self.workflow(name, body, path, agents=agents, common=common)
            if workflow is not None:
                out[name] = workflow
        return out, tuple(names)

    def agents(self, value: Any) -> _Agents:
        ctx = self.ctx
        result = _Agents()
        if value is None:
            return result
        if not isinstance(value, list):
            ctx.error(
                ("agents",),
                f"agents must be a list in a seed-format file, got {describe_value(value)}",
                "Write agents: [{id: ..., type: ..., api_endpoint: ..., api_key: ...}].",
            )
            ctx.malformed.add(("agents",))
            return result
        first_line: dict[str, int] = {}
        for i, raw in enumerate(value):
            path: ValuePath = ("agents", i)
            entry = ctx.mapping(
                raw, path, f"agents[{i}]", "Each agent is {id: ..., type: ..., api_endpoint: ...}."
            )
            if entry is None:
                ctx.malformed.add(("agents",))
                continue
            secrets: set[str] = set()
            entry = ctx.expand_env(entry, path, secrets)
            ctx.keys(entry, path, _SEED_AGENT_KEYS, "in a seed-format agent")
            agent_id = ctx.string(
                entry, "id", path, required="Add id: a unique name for this agent."
            )
            agent_type = ctx.string(
                entry,
                "type",
                path,
                required="Add type: the capability it serves, e.g. code_generator.",
            )
            endpoint = ctx.string(
                entry,
                "api_endpoint",
                path,
                required="Add api_endpoint: the URL tasks are POSTed to.",
            )
            max_tasks = ctx.integer(
                entry,
                "max_concurrent_tasks",
                path,
                default=_SEED_DEFAULT_CONCURRENT,
                minimum=1,
                hint="max_concurrent_tasks is how many tasks this agent takes at once.",
            )
            if agent_id is None:
                ctx.malformed.add(("agents",))
                continue
            loc = ctx.loc(path)
            if agent_id in first_line:
                ctx.error(
                    (*path, "id"),
                    f"duplicate agent id {agent_id!r} "
                    f"(first defined on line {first_line[agent_id]})",
                    "Give every agent a unique id.",
                )
                continue
            first_line[agent_id] = loc.line if loc else 0
            result.serves[agent_id] = {agent_type} if agent_type else set()
            if agent_type is None:
                ctx.malformed.add(("agents",))  # what it serves is unknown
            if agent_type is None or endpoint is None:
                continue
            if "http" not in ctx.plugins.agent_kinds:
                _kind_problem(ctx, "http", path)
                continue
            options_data: dict[str, Any] = {"endpoint": endpoint}
            rename: dict[str, ValuePath] = {"endpoint": (*path, "api_endpoint")}
            if "api_key" in entry:
                options_data["api_key"] = entry["api_key"]
                rename["api_key"] = (*path, "api_key")
            options = _options(ctx, kind="http", data=options_data, path=path, rename=rename)
            if options is None:
                continue
            caps = {agent_type} | set(ctx.plugins.agent_kinds["http"].capabilities)
            result.serves[agent_id] = caps
            result.configs[agent_id] = AgentConfig(
                name=agent_id,
                kind="http",
                options=options,
                max_concurrent=max_tasks,
                capabilities=frozenset(caps),
                secrets=frozenset(secrets),
                base_dir=ctx.base_dir,
                location=loc,
            )
        return result

    def workflow(
        self,
        name: str,
        body: Any,
        path: ValuePath,
        *,
        agents: _Agents,
        common: dict[str, Any],
    ) -> Workflow | None:
        ctx = self.ctx
        spec = ctx.mapping(
            body, path, f"workflow {name!r}", "Write {description: ..., steps: [...]}."
        )
        if spec is None:
            return None
        ctx.keys(spec, path, _SEED_WORKFLOW_KEYS, f"in workflow {name!r}")
        description = ctx.string(spec, "description", path) or ""
        steps_path = (*path, "steps")
        raw_steps = spec.get("steps")
        drafts: list[_Draft] = []
        if "steps" not in spec:
            ctx.malformed.add(steps_path)
            ctx.error(
                path,
                "missing required key 'steps'",
                "Add steps: a list of {name: ..., agent_type: ...}.",
                key=True,
            )
        elif raw_steps is not None and not isinstance(raw_steps, list):
            ctx.malformed.add(steps_path)
            ctx.error(
                steps_path,
                f"steps must be a list in a seed-format workflow, got {describe_value(raw_steps)}",
                "Write steps: [{name: build, agent_type: code_generator}].",
            )
        elif raw_steps is not None:
            first_line: dict[str, int] = {}
            for i, raw in enumerate(raw_steps):
                draft = self.step(raw, (*steps_path, i), first_line)
                if draft is not None:
                    drafts.append(draft)
        steps = _finish_steps(
            ctx, drafts, agents=agents, inputs={}, steps_path=steps_path, seed=True
        )
        return Workflow(
            name=name,
            steps=steps,
            agents=agents.configs,
            description=description,
            **common,
        )

    def step(self, raw: Any, path: ValuePath, first_line: dict[str, int]) -> _Draft | None:
        ctx = self.ctx
        spec = ctx.mapping(
            raw, path, f"{render_path(path)}", "Each step is {name: ..., agent_type: ...}."
        )
        if spec is None:
            return None
        ctx.keys(spec, path, _SEED_STEP_KEYS, "in a seed-format step")
        name = ctx.string(spec, "name", path, required="Add name: a unique id for this step.")
        uses = ctx.string(
            spec, "agent_type", path, required="Add agent_type: the capability it needs."
        )
        if name is None:
            return None
        loc = ctx.loc(path)
        if name in first_line:
            ctx.error(
                (*path, "name"),
                f"duplicate step name {name!r} (first defined on line {first_line[name]})",
                "Give every step a unique name.",
            )
            return None
        first_line[name] = loc.line if loc else 0
        retries = ctx.integer(
            spec,
            "max_retries",
            path,
            default=_SEED_DEFAULT_RETRIES,
            minimum=0,
            hint="max_retries counts retries after the first attempt; 0 means try once.",
        )
        data = spec.get("data")
        if data is None:
            data = {}
        elif not isinstance(data, Mapping):
            ctx.error(
                (*path, "data"),
                f"data must be a mapping, got {describe_value(data)}",
                "Write data: {feature_description: ...}.",
            )
            data = {}
        return _Draft(
            id=name,
            location=loc,
            uses=uses,
            uses_path=(*path, "agent_type"),
            needs=ctx.names(spec.get("dependencies"), (*path, "dependencies"), "dependencies"),
            with_value=data,
            with_path=(*path, "data"),
            when=None,
            when_path=path,
            priority=ctx.integer(spec, "priority", path, default=_SEED_DEFAULT_PRIORITY),
            retry=attrs.evolve(_SEED_RETRY, max_attempts=retries + 1),
            timeout=None,
            if_needs_skipped="skip",
        )

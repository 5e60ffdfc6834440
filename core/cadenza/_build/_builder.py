"""``cadenza.workflow``: write a workflow in Python, get the ``Workflow`` its YAML would load.

The builder does not model workflows itself. Each call adds one part (an
input, an agent, a step) to the same native-format mapping a YAML file holds
(docs/workflow-reference.md), keys spelt as in YAML (``with_=`` for the
Python keyword), and records where it was called. ``build()`` hands that
mapping and those call sites to the loader a file goes through, so every
check, default and step key the loader knows works here unchanged, and every
problem is reported at the builder call that made it, all at once, in one
:class:`~cadenza.WorkflowError`.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, final

import attrs
import yaml

from .._errors import WorkflowError
from .._load._source import LoadRequest, check_data
from .._plugins._registry import Plugins, load_plugins
from .._problems import Problem, SourceLocation
from .._spec._convert import describe_value
from .._spec._workflow import Workflow
from ._data import Converter
from ._refs import AgentHandle, Ref, StepHandle, member
from ._sites import CallSites, call_site, caller_dir

__all__ = ["WorkflowBuilder", "workflow"]

_UNSET: Any = object()
# libyaml's emitter is ~10x faster (build() writes the YAML form as the workflow's source).
_DUMPER: type[yaml.SafeDumper] | type[yaml.CSafeDumper] = getattr(
    yaml, "CSafeDumper", yaml.SafeDumper
)

Needs = StepHandle | str | Sequence[StepHandle | str]
"""What ``needs=`` takes: one step or a list of them, as handles or ids."""


def _yaml_key(key: str) -> str:
    """The YAML spelling of a keyword argument: ``with_`` -> ``with`` (a trailing ``_`` goes)."""
    return key[:-1] if key.endswith("_") and not key.endswith("__") else key


def workflow(
    name: str, *, base_dir: str | os.PathLike[str] | None = None, **settings: Any
) -> WorkflowBuilder:
    """Start a workflow named ``name``; add inputs, agents and steps, then ``build()`` or run it.

    ``settings`` are the workflow's top-level keys as YAML spells them
    (``description``, ``concurrency``, ``fail_fast``, ``deadline``, ``route``,
    ``budget``, ``defaults``, ``plugins``). ``base_dir`` is where relative paths
    in agent options resolve, as a YAML file's own directory is for it; it
    defaults to the directory of the file calling ``workflow()``.

    .. versionadded:: 0.2
    """
    site = call_site()
    builder = WorkflowBuilder(
        name=name, base_dir=Path(base_dir) if base_dir is not None else caller_dir()
    )
    builder._sites.record((), site)
    builder._set_section((), {"name": name}, site, functions=False)
    builder._set_section((), settings, site, functions=False)
    return builder


@final
@attrs.define(eq=False)
class WorkflowBuilder:
    """A workflow being written in Python; made by :func:`cadenza.workflow`.

    Parts are added in call order (the order a YAML file lists them in);
    nothing is checked until :meth:`build` (or :meth:`check`), which reports
    every problem at once, each at the call that made it.

    .. versionadded:: 0.2
    """

    name: str
    base_dir: Path
    _data: dict[str, Any] = attrs.field(factory=dict, init=False)
    _sites: CallSites = attrs.field(factory=CallSites, init=False)
    _problems: list[Problem] = attrs.field(factory=list, init=False)
    _declared: dict[str, Any] = attrs.field(factory=dict, init=False)
    """Each input's declaration as given, to tell a repeat from a conflicting one."""

    # -- parts ------------------------------------------------------------------------

    def input(
        self,
        name: str,
        default: Any = _UNSET,
        *,
        description: str | None = None,
        required: bool | None = None,
    ) -> Ref:
        """Declare run input ``name`` (once) and return ``${{ inputs.<name> }}``.

        Without a default the input's default is None, as ``name:`` with no
        value in YAML; ``required=True`` makes a run refuse to start without
        it. A later ``wf.input(name)`` with no settings only refers to it;
        settings given after a bare first use complete the declaration.
        """
        site = call_site()
        given: dict[str, Any] = {}
        if default is not _UNSET:
            given["default"] = default
        if description is not None:
            given["description"] = description
        if required is not None:
            given["required"] = required
        if not self._named(name, "an input name", site):
            return Ref(member("inputs", str(name)))
        spec = Converter(self._problems, site).value(given, ("inputs", name))
        inputs = self._data.setdefault("inputs", {})
        if name in self._declared and (self._declared[name] or not spec):
            # declared with settings, or only referred to again: a reference (or a conflict)
            if spec and spec != self._declared[name]:
                self._twice(
                    "input",
                    ("inputs", name),
                    site,
                    "Declare the input once, with "
                    f"its settings; later calls wf.input({name!r}) only refer to it.",
                )
            return Ref(member("inputs", name))
        self._declared[name] = spec
        self._sites.record(("inputs", name), site)
        inputs[name] = spec or None  # nothing given: `name:` with no value, as in YAML
        return Ref(member("inputs", name))

    def agent(
        self, name: str, spec: Mapping[str, Any] | None = None, /, **keys: Any
    ) -> AgentHandle:
        """Add agent ``name``: ``kind=``, ``options=``, ... as in YAML, or that mapping as ``spec``.

        A function given in the agent's options (the ``python`` kind's
        ``function``) becomes its import path, ``module:name``.
        """
        site = call_site()
        if not self._named(name, "an agent name", site):
            return AgentHandle(str(name))
        path = ("agents", name)
        if name in self._data.get("agents", {}):
            self._twice("agent", path, site, "Give each agent its own name.")
            return AgentHandle(name)
        self._sites.record(path, site)
        self._data.setdefault("agents", {})[name] = {}
        given: object = spec  # typed as a mapping, but a caller without mypy may pass anything
        if isinstance(given, Mapping):
            self._set_section(path, given, site, functions=True)
        elif given is not None:
            Converter(self._problems, site).problem(
                path,
                f"agent {name!r} must be a mapping or keywords, got {describe_value(given)}",
                f"Write wf.agent({name!r}, kind=..., options=...) or pass a dict of its keys.",
            )
        self._set_section(path, keys, site, functions=True)
        return AgentHandle(name)

    def step(
        self,
        id: str,
        *,
        uses: str | AgentHandle | None = None,
        with_: Mapping[str, Any] | None = None,
        needs: Needs | None = None,
        when: str | bool | Ref | None = None,
        **keys: Any,
    ) -> StepHandle:
        """Add step ``id``; every YAML step key is a keyword (``retry=``, ``fallback=``, ...).

        ``with_`` is YAML's ``with:`` and may hold references anywhere
        (``wf.input("x")``, ``other.output.key``, inside f-strings and nested
        lists and dicts); ``needs`` takes step handles or ids; ``when`` a
        reference or a CEL string (``"inputs.publish && steps.a.output.ok"``).
        """
        site = call_site()
        if not self._named(id, "a step id", site):
            return StepHandle(str(id))
        path = ("steps", id)
        if id in self._data.get("steps", {}):
            self._twice("step", path, site, "Give each step its own id.")
            return StepHandle(id)
        self._sites.record(path, site)
        self._data.setdefault("steps", {})[id] = {}
        given: dict[str, Any] = {}
        if uses is not None:
            given["uses"] = uses
        if needs is not None:
            listed = [needs] if isinstance(needs, StepHandle | str) else needs
            if isinstance(listed, list | tuple):  # anything else: the loader says what is wrong
                listed = [n.id if isinstance(n, StepHandle) else n for n in listed]
            given["needs"] = listed
        if with_ is not None:
            given["with"] = with_
        if when is not None:
            given["when"] = when.expression if isinstance(when, Ref) else when
        self._set_section(path, given, site, functions=False)
        self._set_section(path, keys, site, functions=False)
        return StepHandle(id)

    @property
    def item(self) -> Ref:
        """``${{ item }}``: the current item of a ``for_each`` step."""
        return Ref("item")

    @property
    def index(self) -> Ref:
        """``${{ index }}``: the current item's position in a ``for_each`` step."""
        return Ref("index")

    # -- results ----------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The workflow as native-format data: what a YAML file of it would hold."""
        copied: dict[str, Any] = _copy(self._data)
        return copied

    def to_yaml(self) -> str:
        """The workflow as a native-format YAML file (``cadenza run`` runs it as it is)."""
        return yaml.dump(
            self._data,
            Dumper=_DUMPER,
            sort_keys=False,
            allow_unicode=True,
            default_flow_style=False,
        )

    def check(
        self, *, plugins: Plugins | None = None, environ: Mapping[str, str] | None = None
    ) -> tuple[Problem, ...]:
        """Every problem, warnings included, without raising (``cadenza validate`` for code)."""
        _workflow, problems = self._load(plugins, environ)
        return problems

    def build(
        self, *, plugins: Plugins | None = None, environ: Mapping[str, str] | None = None
    ) -> Workflow:
        """The validated :class:`~cadenza.Workflow`, equal to the one its YAML file loads.

        ``plugins`` (default: the installed ones, ``cadenza.plugins.load_plugins()``)
        supply the agent kinds and strategies the workflow names; ``environ``
        (default ``os.environ``) expands ``${NAME}`` in agent settings. Raises
        :class:`~cadenza.WorkflowError` listing every problem, each at the call
        that made it.
        """
        workflow, problems = self._load(plugins, environ)
        if workflow is None:
            raise WorkflowError([p for p in problems if p.severity == "error"] or problems)
        return workflow

    # -- internals --------------------------------------------------------------------

    def _load(
        self, plugins: Plugins | None, environ: Mapping[str, str] | None
    ) -> tuple[Workflow | None, tuple[Problem, ...]]:
        """Hand the data and call sites to the loader; the workflow (None if any error)."""
        text = self.to_yaml()
        request = LoadRequest(
            plugins=plugins if plugins is not None else load_plugins(),
            base_dir=self.base_dir,
            default_name=self.name,
            source=None,
            digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            select=None,
            every=False,
            environ=environ,
            text=text,
        )
        checked = check_data(self.to_dict(), doc=self._sites, request=request)
        # A value the builder refused is None in the data: the loader's complaint about
        # that None would only repeat the builder's, less helpfully.
        refused = {p.path for p in self._problems if p.path}
        found = [*self._problems, *(p for p in checked.problems if p.path not in refused)]
        problems = tuple(sorted(found, key=Problem.sort_key))
        if any(p.severity == "error" for p in problems) or not checked.workflows:
            return None, problems
        return next(iter(checked.workflows.values())), problems

    def _set_section(
        self,
        path: tuple[str, ...],
        keys: Mapping[str, Any],
        site: SourceLocation | None,
        *,
        functions: bool,
    ) -> None:
        """Put ``keys`` (YAML-spelt, converted to data) into the mapping at ``path``."""
        target = self._data
        for part in path:
            target = target[part]
        convert = Converter(self._problems, site)
        for raw, value in keys.items():
            key = _yaml_key(raw)
            if key in target:
                convert.problem(
                    (*path, key),
                    f"{key} is given twice",
                    f"Pass {key} once (write {key}_= or {key}=, not both).",
                )
                continue
            target[key] = convert.value(value, (*path, key), functions=functions)

    def _named(self, name: Any, what: str, site: SourceLocation | None) -> bool:
        """True if ``name`` can name a part; a problem at ``site`` otherwise."""
        if isinstance(name, str) and name.strip():
            return True
        got = "an empty string" if isinstance(name, str) else f"{type(name).__name__} {name!r}"
        self._problems.append(
            Problem(message=f"{what} must be a non-empty string, got {got}", location=site)
        )
        return False

    def _twice(
        self, what: str, path: tuple[str, str], site: SourceLocation | None, hint: str
    ) -> None:
        first = self._sites.get(path)
        where = f" (first at {first.render()})" if first is not None else ""
        self._problems.append(
            Problem(
                message=f"{what} {path[1]!r} is defined twice{where}",
                path=".".join(path),
                location=site,
                hint=hint,
            )
        )


def _copy(value: Any) -> Any:
    """A deep copy of JSON-shaped data, so callers cannot change the builder's."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value

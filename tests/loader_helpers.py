"""Test plugins and shortcuts for the loader tests.

The fake kinds have their own options classes, so the loader tests do not
depend on the built-in agents' options (those are covered by the seed test
that loads with the real built-ins).
"""

from __future__ import annotations

import textwrap
from typing import Any, Literal

import attrs
import pytest

import cadenza
from cadenza._load._loader import LoadResult, load_workflow_text
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza._spec._workflow import Duration
from cadenza.hookspecs import RegisterAgentKind
from cadenza.testing import ScriptedAgent


@attrs.frozen(kw_only=True)
class FakeHttpOptions:
    endpoint: str
    api_key: str | None = attrs.field(default=None, repr=False)
    timeout: Duration = Duration(30.0)


@attrs.frozen(kw_only=True)
class FakeTemplateOptions:
    text: str = ""
    delay: Duration = Duration(0.0)
    tags: list[str] = attrs.field(factory=list)
    mode: Literal["plain", "upper"] = "plain"
    retries: int = attrs.field(default=0, validator=attrs.validators.ge(0))
    headers: dict[str, str] = attrs.field(factory=dict)


def _factory(config: cadenza.AgentConfig) -> Any:
    """An agent that answers nothing: the loader builds each agent once to check it."""
    return ScriptedAgent(config.name, lambda request: None)


class FakeKinds:
    """Registers ``http`` and ``template`` with options, ``docgen`` without (serving ``docs``)."""

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: RegisterAgentKind) -> None:
        register("http", _factory, options=FakeHttpOptions)
        register("template", _factory, options=FakeTemplateOptions)
        register("docgen", _factory, capabilities=["docs"])


def fake_plugins() -> Plugins:
    """Plugins holding only :class:`FakeKinds` (no built-ins, no entry points)."""
    return load_plugins(entry_points=False, builtins=False, extra=[FakeKinds()])


PLUGINS = fake_plugins()


def load(text: str, **kwargs: Any) -> LoadResult:
    """Load dedented YAML ``text`` as ``wf.yaml`` with the fake kinds."""
    kwargs.setdefault("plugins", PLUGINS)
    kwargs.setdefault("environ", {})
    return load_workflow_text(textwrap.dedent(text), filename="wf.yaml", **kwargs)


def problems(text: str, **kwargs: Any) -> list[cadenza.Problem]:
    """The problems loading ``text`` raises (fails the test if it loads)."""
    with pytest.raises(cadenza.WorkflowError) as info:
        load(text, **kwargs)
    return list(info.value.problems)


def errors(text: str, **kwargs: Any) -> list[cadenza.Problem]:
    return [p for p in problems(text, **kwargs) if p.severity == "error"]


def one_error(text: str, **kwargs: Any) -> cadenza.Problem:
    """The single error loading ``text`` raises."""
    found = errors(text, **kwargs)
    assert len(found) == 1, "\n".join(p.render() for p in found)
    return found[0]


def where(problem: cadenza.Problem) -> tuple[int, int]:
    assert problem.location is not None
    return problem.location.line, problem.location.column

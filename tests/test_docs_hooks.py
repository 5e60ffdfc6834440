"""docs/hooks.md documents every hookspec, and every worked example there is a loadable plugin."""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import cadenza
from cadenza import hookspecs
from cadenza._plugins._registry import load_plugins

HOOKS_MD = Path(__file__).parent.parent / "docs" / "hooks.md"
SPEC_MARKER = f"{hookspecs.PROJECT_NAME}_spec"


def hookspec_functions() -> dict[str, Callable[..., Any]]:
    return {
        name: fn
        for name, fn in vars(hookspecs).items()
        if callable(fn) and hasattr(fn, SPEC_MARKER)
    }


def signature(fn: Callable[..., Any]) -> str:
    """``name(param, ...)``: how a hook's section is headed."""
    return f"{fn.__name__}({', '.join(inspect.signature(fn).parameters)})"


def sections() -> dict[str, str]:
    """Level-2 sections of docs/hooks.md, by heading."""
    text = HOOKS_MD.read_text(encoding="utf-8")
    parts = re.split(r"^## (.+)$", text, flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2], strict=True)}


def plain(text: str) -> str:
    """Docstring markup as the docs write it: ``x`` and :role:`~a.b` become `x` and `a.b`."""
    text = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", text)
    return " ".join(text.replace("``", "`").split())


def example_module(name: str) -> types.ModuleType:
    """The first ```python block of hook ``name``'s section, executed as a module."""
    body = sections()[signature(HOOKS[name])]
    blocks = re.findall(r"^```python\n(.*?)^```$", body, flags=re.MULTILINE | re.DOTALL)
    assert blocks, f"the {name} section has no ```python example"
    module = types.ModuleType(f"docs_example_{name}")
    exec(compile(blocks[0], f"docs/hooks.md ({name} example)", "exec"), module.__dict__)
    return module


HOOKS = hookspec_functions()


def test_every_hookspec_is_found() -> None:
    """The hookspec scan finds the kernel's hooks (guards the parametrised tests below)."""
    assert {"cadenza_agent_kinds", "cadenza_commands", "cadenza_on_event"} <= set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_hookspec_has_a_section_headed_by_its_signature(name: str) -> None:
    """Each hookspec has a ``## name(params)`` section in docs/hooks.md."""
    assert signature(HOOKS[name]) in sections()


def test_no_section_documents_a_missing_hook() -> None:
    """Every ``## cadenza_...(...)`` heading names a hook that exists, with its parameters."""
    documented = {h for h in sections() if h.startswith(f"{hookspecs.PROJECT_NAME}_")}
    assert documented == {signature(fn) for fn in HOOKS.values()}


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_section_carries_the_docstring_summary(name: str) -> None:
    """Each section states its hookspec's summary line, so the two cannot drift apart."""
    doc = inspect.getdoc(HOOKS[name]) or ""
    summary = doc.split("\n\n", 1)[0]
    assert plain(summary) in plain(sections()[signature(HOOKS[name])])


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_worked_example_is_a_loadable_plugin(name: str) -> None:
    """The section's first Python block, run as a module, loads as a plugin of that hook."""
    module = example_module(name)
    plugins = load_plugins(builtins=False, entry_points=False, extra=[module])
    (info,) = plugins.infos
    assert info.status == "loaded", info.error
    assert name in info.hooks
    if name != "cadenza_on_event":
        assert info.registrations, f"the {name} example registers nothing"


async def test_agent_kind_example_really_runs() -> None:
    """The ``shout`` example agent, built by its registered factory, does its work."""
    plugins = load_plugins(
        builtins=False, entry_points=False, extra=[example_module("cadenza_agent_kinds")]
    )
    reg = plugins.agent_kinds["shout"]
    assert reg.options is not None
    agent = reg.obj(
        cadenza.AgentConfig(name="loud", kind="shout", options=reg.options(suffix="!!"))
    )
    request = cadenza.AgentRequest(
        run_id="r",
        step_id="greet",
        task_type="shout",
        inputs={"text": "hello"},
        attempt=1,
        idempotency_key="k",
    )
    result = await agent.run(request)
    await agent.aclose()
    assert result.output == "HELLO!!"
    assert "shouting" in agent.capabilities

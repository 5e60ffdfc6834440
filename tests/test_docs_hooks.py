"""docs/hooks.md documents every hookspec and ``Register*`` protocol, and its examples load.

Each hook's section is headed ``## name(params)`` and shows the typed
signature hookspecs.py declares, in a ```python block of its own; notes say
which *hook API* version added or changed the hook. New hooks are covered
without editing this file: the specs are read from hookspecs.py.
"""

from __future__ import annotations

import inspect
import re
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from packaging.version import Version

import cadenza
from cadenza import hookspecs
from cadenza._plugins._registry import load_plugins
from cadenza._version import HOOK_API_VERSION

from .docs_code import examples, hook_signatures, python_blocks, register_protocols

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
    blocks = examples("hooks.md", body)
    assert blocks, f"the {name} section has no ```python example"
    module = types.ModuleType(f"docs_example_{name}")
    exec(compile(blocks[0].text, f"docs/hooks.md ({name} example)", "exec"), module.__dict__)
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


SIGNATURES = hook_signatures()
PROTOCOLS = register_protocols()
VERSION_NOTE = re.compile(r"^\s*\.\. version(added|changed):: (\S+)", re.MULTILINE)


def test_signatures_are_read_for_every_hookspec() -> None:
    """hookspecs.py's source yields a typed signature for each hookspec pluggy sees."""
    assert set(SIGNATURES) == set(HOOKS)


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_section_shows_the_typed_signature(name: str) -> None:
    """Each hook's section has a ```python line equal to the signature in hookspecs.py."""
    body = sections().get(signature(HOOKS[name]), "")
    shown = {block.text.strip() for block in python_blocks("hooks.md", body)}
    assert SIGNATURES[name] in shown, (
        f"docs/hooks.md, section '## {signature(HOOKS[name])}': show the hook's signature "
        f"as in core/cadenza/hookspecs.py, right under the heading:\n\n"
        f"```python\n{SIGNATURES[name]}\n```"
    )


def test_every_register_protocol_has_a_section_with_its_call() -> None:
    """Each ``Register*`` protocol of hookspecs.py has a ``### Name`` section showing its call."""
    parts = re.split(r"^### (.+)$", sections()["Registration protocols"], flags=re.MULTILINE)
    subsections = dict(zip(parts[1::2], parts[2::2], strict=True))
    for name, call in PROTOCOLS.items():
        assert name in subsections, f"docs/hooks.md: add '### {name}' to 'Registration protocols'"
        assert call in subsections[name], (
            f"docs/hooks.md, '### {name}': show its call as hookspecs.py declares it: {call}"
        )
    assert set(subsections) <= set(PROTOCOLS), "a ### section names a protocol hookspecs.py lacks"


def spec_versions(name: str) -> list[tuple[str, str]]:
    """The ``(added|changed, version)`` notes of a hookspec's docstring, in order."""
    return VERSION_NOTE.findall(inspect.getdoc(HOOKS[name]) or "")


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_docstring_versions_are_hook_api_versions(name: str) -> None:
    """A hookspec is added once, and its notes name hook API versions up to this kernel's."""
    notes = spec_versions(name)
    assert [kind for kind, _ in notes].count("added") == 1, f"{name}: one `.. versionadded::`"
    for kind, version in notes:
        assert Version("1.0") <= Version(version) <= Version(HOOK_API_VERSION), (
            f"{name}: `.. version{kind}:: {version}` must name a hook API version "
            f"(1.0 to {HOOK_API_VERSION}, cadenza.plugins.HOOK_API_VERSION), not the package "
            f"version; a hook added or changed now says `.. version{kind}:: {HOOK_API_VERSION}`"
        )


@pytest.mark.parametrize("name", sorted(HOOKS))
def test_section_notes_match_the_docstring(name: str) -> None:
    """The section says "Added in hook API X" and "Changed in hook API Y" as the docstring does."""
    body = plain(sections().get(signature(HOOKS[name]), ""))
    for kind, version in spec_versions(name):
        note = f"{kind.capitalize()} in hook API {version}"
        assert note in body, f"docs/hooks.md, section '## {signature(HOOKS[name])}': add *{note}*"


def test_no_note_names_a_package_version() -> None:
    """Added/Changed notes in docs/hooks.md name hook API versions only."""
    text = plain(HOOKS_MD.read_text(encoding="utf-8"))
    assert not re.findall(r"(?:Added|Changed) in \d", text)


def test_hook_api_versions_rule_is_stated() -> None:
    """docs/hooks.md explains the one version axis and names the current hook API version."""
    rule = plain(sections()["Hook API versions"])
    assert f"`{HOOK_API_VERSION}`" in rule

"""The python agent: importing by path, sync and async calls, and error mapping."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trio

from cadenza import (
    AgentConfig,
    AgentRequest,
    AgentResult,
    PermanentError,
    RetryableError,
)
from cadenza._agents._python import PythonAgent, PythonOptions

from . import helpers_tasks

HELPERS = "tests.helpers_tasks"


def make_request(**inputs: Any) -> AgentRequest:
    return AgentRequest(
        run_id="run-1",
        step_id="build",
        task_type="build",
        inputs=inputs,
        attempt=2,
        idempotency_key="run-1/build",
    )


def make_agent(
    function: str, *, base_dir: Path = Path(), max_concurrent: int | None = None, **options: Any
) -> PythonAgent:
    options.setdefault("search_path", None)
    config = AgentConfig(
        name="py",
        kind="python",
        options=PythonOptions(function=function, **options),
        max_concurrent=max_concurrent,
        base_dir=base_dir,
    )
    return PythonAgent.from_config(config)


@pytest.fixture
def isolated_imports(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo sys.path changes and forget modules imported by the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        del sys.modules[name]


async def test_sync_function_runs_in_a_worker_thread() -> None:
    """A plain function gets the inputs as keyword arguments, off the trio thread."""
    agent = make_agent(f"{HELPERS}:add")
    result = await agent.run(make_request(a=2, b=3))
    assert result == AgentResult(output=5)
    assert helpers_tasks.thread_ids[-1] != threading.get_ident()


async def test_async_function_is_awaited_on_trio(autojump_clock: trio.abc.Clock) -> None:
    """An async def function is awaited in the calling task (on the trio clock)."""
    agent = make_agent(f"{HELPERS}:async_add")
    start = trio.current_time()
    result = await agent.run(make_request(a=1))
    assert result.output == 1
    assert trio.current_time() - start == pytest.approx(1)


async def test_instance_with_async_call_is_awaited() -> None:
    """A callable object whose __call__ is async is awaited too."""
    agent = make_agent(f"{HELPERS}:greeter")
    assert (await agent.run(make_request(name="ada"))).output == "hello ada"


async def test_sync_function_returning_an_awaitable_is_awaited() -> None:
    """An awaitable returned by a sync function (a decorator's wrapper) is awaited."""
    agent = make_agent(f"{HELPERS}:returns_coroutine")
    assert (await agent.run(make_request(x=1))).output == 2


async def test_pass_request_hands_over_the_whole_request() -> None:
    """With pass_request the function receives the AgentRequest."""
    agent = make_agent(f"{HELPERS}:take_request", pass_request=True)
    assert (await agent.run(make_request(ignored=1))).output == {"step": "build", "attempt": 2}


async def test_returned_agent_result_passes_through() -> None:
    """An AgentResult returned by the function is used as is."""
    agent = make_agent(f"{HELPERS}:with_result")
    result = await agent.run(make_request(x=4))
    assert result == AgentResult(output=4, confidence=0.5, source="helper")


async def test_var_keyword_function_takes_any_inputs() -> None:
    """A function with **kwargs accepts every input, even non-identifier names."""
    agent = make_agent(f"{HELPERS}:only_kwargs")
    assert (await agent.run(make_request(**{"a-b": 1}))).output == {"a-b": 1}


async def test_threads_are_limited_by_max_concurrent() -> None:
    """At most max_concurrent sync calls run at once (default 4)."""
    assert make_agent(f"{HELPERS}:counted").threads == 4
    agent = make_agent(f"{HELPERS}:counted", max_concurrent=2)
    helpers_tasks.max_active = 0
    async with trio.open_nursery() as nursery:
        for _ in range(6):
            nursery.start_soon(agent.run, make_request(delay=0.03))
    assert helpers_tasks.max_active == 2


async def test_cancelling_a_sync_call_abandons_the_thread() -> None:
    """Cancellation returns promptly even while the function is still running."""
    agent = make_agent(f"{HELPERS}:blocks_until_released")
    helpers_tasks.release.clear()
    try:
        with trio.move_on_after(0.1) as scope:
            await agent.run(make_request())
        assert scope.cancelled_caught
    finally:
        helpers_tasks.release.set()


async def test_missing_module_is_permanent() -> None:
    """An unknown module is a PermanentError naming it."""
    agent = make_agent("no_such_module_xyz:run")
    with pytest.raises(PermanentError, match="cannot import module 'no_such_module_xyz'"):
        await agent.run(make_request())


async def test_missing_dependency_of_the_module_is_reported_as_such(
    tmp_path: Path, isolated_imports: None
) -> None:
    """A module that imports a missing package says which package is missing."""
    (tmp_path / "needs_dep.py").write_text("import not_installed_pkg_q\n")
    agent = make_agent("needs_dep:run", base_dir=tmp_path, search_path=".")
    with pytest.raises(PermanentError, match="importing module 'needs_dep' failed") as info:
        await agent.run(make_request())
    assert "not_installed_pkg_q" in str(info.value)


async def test_module_raising_on_import_is_permanent(
    tmp_path: Path, isolated_imports: None
) -> None:
    """An exception while importing the module is a PermanentError naming the module."""
    (tmp_path / "broken_mod.py").write_text("raise RuntimeError('config missing')\n")
    agent = make_agent("broken_mod:run", base_dir=tmp_path, search_path=".")
    with pytest.raises(PermanentError, match="RuntimeError: config missing"):
        await agent.run(make_request())


async def test_missing_attribute_is_permanent_with_suggestion() -> None:
    """An unknown attribute is a PermanentError naming it, with close matches."""
    agent = make_agent(f"{HELPERS}:ad")
    with pytest.raises(PermanentError, match="has no attribute 'ad'") as info:
        await agent.run(make_request())
    assert "Did you mean 'add'" in str(info.value)


async def test_nested_attribute_path_resolves() -> None:
    """'module:Class.attr' walks attributes; a missing one names its owner."""
    agent = make_agent(f"{HELPERS}:AsyncCallable.__call__")
    assert agent.name == "py"
    bad = make_agent(f"{HELPERS}:AsyncCallable.nope")
    with pytest.raises(PermanentError, match=f"{HELPERS}:AsyncCallable has no attribute 'nope'"):
        await bad.run(make_request())


async def test_non_callable_attribute_is_permanent() -> None:
    """Pointing at data instead of a function is a PermanentError."""
    agent = make_agent(f"{HELPERS}:NOT_CALLABLE")
    with pytest.raises(PermanentError, match="is a dict, not a callable"):
        await agent.run(make_request())


async def test_search_path_is_relative_to_the_workflow(
    tmp_path: Path, isolated_imports: None
) -> None:
    """A module beside the workflow file imports through search_path '.'."""
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "local_tasks_q.py").write_text(
        textwrap.dedent(
            """
            def shout(text):
                return text.upper()
            """
        )
    )
    agent = make_agent("local_tasks_q:shout", base_dir=tmp_path, search_path="tasks")
    assert (await agent.run(make_request(text="hi"))).output == "HI"
    assert sys.path[0] == str((tmp_path / "tasks").resolve())


async def test_missing_input_is_permanent_and_named() -> None:
    """Inputs lacking a required parameter fail before the call, naming it."""
    agent = make_agent(f"{HELPERS}:add")
    with pytest.raises(PermanentError, match="missing input 'a'") as info:
        await agent.run(make_request(b=1))
    assert f"{HELPERS}:add(a, b=0)" in str(info.value)
    assert "inputs given: b" in str(info.value)
    assert isinstance(info.value.__cause__, TypeError)


async def test_unexpected_input_is_permanent_and_named() -> None:
    """An input the function does not take is named in the error."""
    agent = make_agent(f"{HELPERS}:add")
    with pytest.raises(PermanentError, match="unexpected input 'c'"):
        await agent.run(make_request(a=1, c=2))


async def test_type_error_inside_the_function_is_not_a_signature_error() -> None:
    """A TypeError raised by the body is reported as raised, with the original as cause."""
    agent = make_agent(f"{HELPERS}:raises_type_error_inside")
    with pytest.raises(PermanentError, match="raised TypeError: unsupported operand") as info:
        await agent.run(make_request(x=1))
    assert isinstance(info.value.__cause__, TypeError)


@pytest.mark.parametrize(
    ("function", "returned"),
    [("returns_set", "returned a set"), ("returns_nested_bad", "returned a dict")],
)
async def test_non_json_return_is_permanent(function: str, returned: str) -> None:
    """A return value that is not JSON-serialisable is a PermanentError naming its type."""
    agent = make_agent(f"{HELPERS}:{function}")
    with pytest.raises(PermanentError, match=returned) as info:
        await agent.run(make_request())
    assert "not JSON-serialisable" in str(info.value)


async def test_exceptions_are_permanent_by_default() -> None:
    """Any other exception fails the step permanently, keeping the original as cause."""
    agent = make_agent(f"{HELPERS}:raises_value_error")
    with pytest.raises(PermanentError, match="raised ValueError: bad value") as info:
        await agent.run(make_request())
    assert isinstance(info.value.__cause__, ValueError)
    assert "retry_on" in str(info.value)


@pytest.mark.parametrize("name", ["ConnectionResetError", "ConnectionError", "builtins.OSError"])
async def test_retry_on_makes_listed_exceptions_retryable(name: str) -> None:
    """retry_on matches the class, a base class, or a dotted path."""
    agent = make_agent(f"{HELPERS}:raises_reset", retry_on=(name,))
    with pytest.raises(RetryableError, match="raised ConnectionResetError") as info:
        await agent.run(make_request())
    assert isinstance(info.value.__cause__, ConnectionResetError)


async def test_agent_errors_pass_through() -> None:
    """A cadenza AgentError raised by the function reaches the caller unchanged."""
    agent = make_agent(f"{HELPERS}:raises_retryable")
    with pytest.raises(RetryableError, match="busy") as info:
        await agent.run(make_request())
    assert info.value.retry_after == 3


def test_function_option_is_validated() -> None:
    """function must look like 'module:attribute'."""
    for bad in ("tasks.build", "tasks:", ":build", "tasks:build()", "a b:c"):
        with pytest.raises(ValueError, match="function: expected 'module:attribute'"):
            PythonOptions(function=bad)


def test_from_config_requires_python_options() -> None:
    """A config whose options are not PythonOptions is a TypeError."""
    with pytest.raises(TypeError, match="options must be PythonOptions"):
        PythonAgent.from_config(AgentConfig(name="py", kind="python", options={}))

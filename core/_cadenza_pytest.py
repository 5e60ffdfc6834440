"""Cadenza's pytest plugin: fixtures for testing workflows and plugins.

pytest loads it through the ``pytest11`` entry point ``cadenza`` in every session
of an environment where Cadenza is installed (``-p no:cadenza`` turns it off), so
it is a module beside the ``cadenza`` package and imports nothing of Cadenza when
loaded: each fixture imports what it needs when a test uses it, and one whose
dependencies (the ``testing`` extra: pytest-trio, h11) are missing fails naming
the extra. The fixtures are documented in docs/testing-plugins.md, "The pytest
plugin"; what they do lives in ``cadenza.testing._pytest_plugin``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    import trio
    import trio.testing

    from cadenza.plugins import Plugins
    from cadenza.testing import CaptureRunner, SeedAgentServer

INSTALL_EXTRA = "pip install 'cadenza[testing]'"


@pytest.fixture
def cadenza_extra_plugins() -> Sequence[object]:
    """Plugin objects ``cadenza_plugins`` loads after the built-ins: none.

    Override it (in a conftest.py, a test module or a class) to return your
    plugins: ``return [ShoutPlugin()]``; a module works as a plugin too.
    """
    return []


@pytest.fixture
def cadenza_plugins(cadenza_extra_plugins: Sequence[object]) -> Plugins:
    """The test's plugins: the built-ins plus ``cadenza_extra_plugins``, strictly.

    Installed plugins are not loaded, so a test sees only what it asks for. An
    extra plugin that is refused (a misspelt hook, an ``async def`` hookimpl, ...)
    raises ``cadenza.plugins.PluginError`` with the reason, failing the test at setup.
    """
    from cadenza.plugins import load_plugins

    if not isinstance(cadenza_extra_plugins, Sequence) or isinstance(
        cadenza_extra_plugins, str | bytes
    ):
        extra = cadenza_extra_plugins
        raise TypeError(
            "cadenza_extra_plugins must return a list of plugin objects, got "
            f"{type(extra).__name__} {extra!r}; return [plugin] for one plugin."
        )
    return load_plugins(extra=list(cadenza_extra_plugins), entry_points=False)


@pytest.fixture
def captured_run(cadenza_plugins: Plugins, tmp_path: Path) -> CaptureRunner:
    """``await captured_run(source, ...)`` runs a workflow with ``cadenza_plugins``.

    ``source`` is YAML text, a dict or a ``pathlib.Path``; the other arguments
    are ``cadenza.testing.run_captured``'s (``inputs``, ``environ``, ``store``, ...).
    Returns the ``CapturedRun``; agents' files go under the test's ``tmp_path``;
    ``captured_run.runs`` lists every run of the test.
    """
    try:
        from cadenza.testing._pytest_plugin import CaptureRunner
    except ImportError as exc:
        problem = exc
    else:
        output_dir = tmp_path / "cadenza-out" / "{run_id}"
        return CaptureRunner(plugins=cadenza_plugins, output_dir=output_dir)
    _missing_extra("captured_run", problem)


@pytest.fixture
def cadenza_clock() -> trio.testing.MockClock:
    """trio's virtual clock with autojump (pytest-trio's ``autojump_clock`` under our name).

    Request it in a trio test's own arguments: sleeps, retry backoff, timeouts and
    ``Retry-After`` delays then take no real time, and ``trio.current_time()`` tells
    how much virtual time passed. Not with ``seed_server`` (real sockets).
    """
    import trio.testing

    return trio.testing.MockClock(autojump_threshold=0)


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a broken or blocked installation
        return False


if _installed("pytest_trio"):

    @pytest.fixture(name="seed_server")
    async def _seed_server(nursery: trio.Nursery) -> SeedAgentServer:
        """A ``cadenza.testing.SeedAgentServer`` listening on 127.0.0.1 for this test.

        It serves in pytest-trio's ``nursery`` until the test ends; point an ``http``
        agent at ``seed_server.url`` and script it while it runs (append to
        ``faults``, set ``handler`` or ``default``). Runs on the real clock only.
        """
        try:
            from cadenza.testing._pytest_plugin import start_seed_server
        except ImportError as exc:
            problem = exc
        else:
            return await start_seed_server(nursery)
        _missing_extra("seed_server", problem)

else:

    @pytest.fixture(name="seed_server")
    def _seed_server_needs_pytest_trio() -> NoReturn:
        """A ``cadenza.testing.SeedAgentServer``: needs pytest-trio (the testing extra)."""
        pytest.fail(
            f"seed_server runs in a trio test and needs pytest-trio: {INSTALL_EXTRA}, "
            "and set trio_mode = true in your pytest configuration.",
            pytrace=False,
        )


def _missing_extra(fixture: str, problem: ImportError) -> NoReturn:
    """Fail the test with ``import cadenza.testing``'s message, which names the extra.

    Called after the ``except`` block, so the report is the message alone.
    """
    pytest.fail(f"the {fixture} fixture cannot run: {problem}", pytrace=False)

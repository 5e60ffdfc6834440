"""Cadenza's pytest plugin (the ``pytest11`` entry point ``cadenza``), proven with pytester.

Each test writes a small test module of a plugin author's, runs pytest on it (the
plugin is loaded from its entry point, as in the author's own project) and checks
the outcomes. The last tests run Python in a subprocess with a dependency of the
``testing`` extra blocked, as if it were not installed.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from importlib.metadata import entry_points

import _cadenza_pytest
import pytest

import cadenza.testing

pytest_plugins = ["pytester"]

PYTEST_INI = """\
[pytest]
trio_mode = true
filterwarnings = error
"""

FIXTURES = (
    "cadenza_extra_plugins",
    "cadenza_plugins",
    "captured_run",
    "cadenza_clock",
    "seed_server",
)

SHOUT_PLUGIN = """
import attrs
import cadenza


@attrs.define(eq=False)
class ShoutAgent:
    name: str
    capabilities: frozenset[str] = frozenset()

    async def run(self, request):
        if request.output_dir is not None:
            request.output_dir.mkdir(parents=True, exist_ok=True)
            (request.output_dir / "shout.txt").write_text(request.inputs["text"].upper())
        return cadenza.AgentResult(output=request.inputs["text"].upper())

    async def aclose(self):
        pass


class ShoutPlugin:
    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register):
        register("shout", lambda config: ShoutAgent(name=config.name))
"""

SHOUT_WORKFLOW = """
agents:
  loud: {kind: shout}
steps:
  greet: {uses: loud, with: {text: hello}}
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A pytester project in trio mode holding the ``shout`` plugin module."""
    pytester.makeini(PYTEST_INI)
    pytester.makepyfile(shout=SHOUT_PLUGIN)
    pytester.syspathinsert()
    return pytester


def run_tests(project: pytest.Pytester, source: str) -> pytest.RunResult:
    """Write ``source`` as ``test_author.py`` and run pytest on the project."""
    project.makepyfile(test_author=textwrap.dedent(source))
    return project.runpytest("-p", "no:cacheprovider", "-rA")


def test_plugin_is_registered_as_a_pytest11_entry_point() -> None:
    """pytest finds the plugin through the entry point ``cadenza`` of the kernel's distribution."""
    (entry,) = [e for e in entry_points(group="pytest11") if e.name == "cadenza"]
    assert entry.value == "_cadenza_pytest"
    assert entry.dist is not None
    assert entry.dist.name == "cadenza"
    assert entry.load() is _cadenza_pytest


def test_plugin_lists_its_fixtures_with_their_docs(pytester: pytest.Pytester) -> None:
    """``pytest --fixtures`` in any project shows the plugin's fixtures with their docstrings."""
    result = pytester.runpytest("--fixtures", "-p", "no:cacheprovider")
    for name in FIXTURES:  # in whatever order pytest lists them
        result.stdout.fnmatch_lines(["*fixtures defined from _cadenza_pytest*", f"{name} -- *"])


def test_kernel_suite_runs_with_the_plugin_loaded(request: pytest.FixtureRequest) -> None:
    """Cadenza's own test session has the plugin, and no conftest fixture shadows its names."""
    assert request.config.pluginmanager.get_plugin("cadenza") is _cadenza_pytest
    for name in FIXTURES:
        (definition,) = request._fixturemanager.getfixturedefs(name, request.node) or ()
        assert definition.func.__module__ == "_cadenza_pytest", name


async def test_captured_run_works_in_the_kernel_suite(
    captured_run: cadenza.testing.CaptureRunner,
) -> None:
    """The kernel's own tests can use captured_run next to tests/conftest.py's fixtures."""
    run = await captured_run(
        {"agents": {"echo": {"kind": "template"}}, "steps": {"a": {"uses": "echo"}}}
    )
    assert run.result.status == "succeeded"
    assert captured_run.runs == [run]


def test_cadenza_plugins_holds_the_built_ins_and_the_extras(project: pytest.Pytester) -> None:
    """cadenza_plugins has the built-in kinds and the plugins cadenza_extra_plugins returns."""
    result = run_tests(
        project,
        """
        import pytest
        from shout import ShoutPlugin


        @pytest.fixture
        def cadenza_extra_plugins():
            return [ShoutPlugin()]


        def test_kinds(cadenza_plugins):
            assert {"http", "template", "shout"} <= set(cadenza_plugins.agent_kinds)


        class TestWithout:
            @pytest.fixture
            def cadenza_extra_plugins(self):
                return []

            def test_only_built_ins(self, cadenza_plugins):
                assert "shout" not in cadenza_plugins.agent_kinds
                assert "template" in cadenza_plugins.agent_kinds
        """,
    )
    result.assert_outcomes(passed=2)


def test_refused_extra_plugin_fails_the_test_at_setup(project: pytest.Pytester) -> None:
    """An extra plugin with a misspelt hook errors the test with PluginError and the reason."""
    result = run_tests(
        project,
        """
        import pytest
        import cadenza


        class Misspelt:
            @cadenza.hookimpl
            def cadenza_agent_kind(self, register):
                pass


        @pytest.fixture
        def cadenza_extra_plugins():
            return [Misspelt()]


        def test_never_runs(cadenza_plugins):
            raise AssertionError("the plugin set must not be built")
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*PluginError*unknown hook 'cadenza_agent_kind'*Did you mean 'cadenza_agent_kinds'?*"]
    )


def test_extra_plugins_fixture_must_return_a_list(project: pytest.Pytester) -> None:
    """Returning one plugin instead of a list is refused with the form to use."""
    result = run_tests(
        project,
        """
        import pytest
        from shout import ShoutPlugin


        @pytest.fixture
        def cadenza_extra_plugins():
            return ShoutPlugin()


        def test_never_runs(cadenza_plugins):
            pass
        """,
    )
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*cadenza_extra_plugins must return a list of plugin objects, got ShoutPlugin*"]
    )


def test_captured_run_runs_text_dicts_and_paths(project: pytest.Pytester) -> None:
    """captured_run takes YAML text, a dict or a Path, with the test's plugins."""
    project.makefile(".yaml", workflow=SHOUT_WORKFLOW)
    result = run_tests(
        project,
        f"""
        import pathlib

        import pytest
        import yaml
        from shout import ShoutPlugin

        WORKFLOW = {SHOUT_WORKFLOW!r}


        @pytest.fixture
        def cadenza_extra_plugins():
            return [ShoutPlugin()]


        @pytest.mark.parametrize(
            "source",
            [WORKFLOW, yaml.safe_load(WORKFLOW), pathlib.Path("workflow.yaml")],
            ids=["text", "dict", "path"],
        )
        async def test_greet(captured_run, source):
            run = await captured_run(source)
            assert run.result.status == "succeeded"
            assert run.result.steps["greet"].output == "HELLO"
            assert run.kinds()[0] == "run_started"
        """,
    )
    result.assert_outcomes(passed=3)


def test_captured_run_reports_a_bad_file_by_its_name(project: pytest.Pytester) -> None:
    """A workflow file with a mistake fails with the file's name, line and the fix."""
    project.makefile(".yaml", broken=SHOUT_WORKFLOW.replace("uses: loud", "uses: lound"))
    result = run_tests(
        project,
        """
        import pathlib

        import pytest
        import cadenza
        from shout import ShoutPlugin


        @pytest.fixture
        def cadenza_extra_plugins():
            return [ShoutPlugin()]


        async def test_broken(captured_run):
            with pytest.raises(cadenza.WorkflowError) as info:
                await captured_run(pathlib.Path("broken.yaml"))
            assert "broken.yaml:4:" in str(info.value)
            assert "Did you mean 'loud'?" in str(info.value)
        """,
    )
    result.assert_outcomes(passed=1)


def test_captured_run_refuses_a_file_name_given_as_text(project: pytest.Pytester) -> None:
    """A str naming a .yaml file is refused with the Path form to use instead."""
    result = run_tests(
        project,
        """
        import pytest


        async def test_file_name(captured_run):
            with pytest.raises(TypeError) as info:
                await captured_run("flow.yaml")
            assert "pass a path: captured_run(pathlib.Path('flow.yaml'))" in str(info.value)
        """,
    )
    result.assert_outcomes(passed=1)


def test_captured_run_gives_agents_a_folder_in_tmp_path(project: pytest.Pytester) -> None:
    """Agents' files land in the test's tmp_path, one folder per run and step."""
    result = run_tests(
        project,
        f"""
        import pytest
        from shout import ShoutPlugin


        @pytest.fixture
        def cadenza_extra_plugins():
            return [ShoutPlugin()]


        async def test_files(captured_run, tmp_path):
            run = await captured_run({SHOUT_WORKFLOW!r})
            run_id = run.events[0].run_id
            written = tmp_path / "cadenza-out" / run_id / "greet" / "shout.txt"
            assert written.read_text() == "HELLO"
        """,
    )
    result.assert_outcomes(passed=1)


def test_cadenza_clock_is_the_tests_virtual_clock(project: pytest.Pytester) -> None:
    """With cadenza_clock the test runs on an autojumping MockClock: a Retry-After is instant."""
    result = run_tests(
        project,
        """
        import trio
        from trio.testing import MockClock

        from cadenza.testing import ScriptedAgent, scripted_agent_kind
        import cadenza
        import pytest

        coder = ScriptedAgent("coder", [cadenza.RetryableError("busy", retry_after=45), "done"])


        @pytest.fixture
        def cadenza_extra_plugins():
            return [scripted_agent_kind(coder)]


        async def test_retry_after_45_seconds(captured_run, cadenza_clock):
            assert isinstance(cadenza_clock, MockClock)
            assert trio.lowlevel.current_clock() is cadenza_clock
            run = await captured_run(
                "agents: {coder: {kind: scripted}}\\n"
                "steps: {build: {uses: coder, retry: 2}}\\n"
            )
            assert run.result.steps["build"].output == "done"
            assert coder.call_times[1] - coder.call_times[0] >= 45
        """,
    )
    result.assert_outcomes(passed=1)


def test_seed_server_serves_for_the_test(project: pytest.Pytester) -> None:
    """seed_server listens on loopback during the test and can be scripted while it runs."""
    result = run_tests(
        project,
        """
        from cadenza.testing import SeedAgentServer, Status


        def workflow(url):
            return (
                "agents:\\n"
                f"  api: {{kind: http, options: {{endpoint: '{url}/v1/tasks'}}}}\\n"
                "steps:\\n"
                "  generate: {uses: api, retry: {max_attempts: 2, backoff: 10ms}}\\n"
            )


        async def test_generate(seed_server, captured_run):
            assert isinstance(seed_server, SeedAgentServer)
            assert seed_server.url.startswith("http://127.0.0.1:")
            seed_server.faults.append(Status(503))
            run = await captured_run(workflow(seed_server.url))
            assert run.result.steps["generate"].attempts == 2
            assert run.result.steps["generate"].output == {
                "task_id": "generate",
                "echo": {},
            }
            assert [call.path for call in seed_server.calls] == ["/v1/tasks"] * 2
        """,
    )
    result.assert_outcomes(passed=1)


def test_seed_server_refuses_an_autojumping_clock(project: pytest.Pytester) -> None:
    """seed_server with cadenza_clock errors at setup, saying to drop the clock."""
    result = run_tests(
        project,
        """
        async def test_both(seed_server, cadenza_clock):
            pass
        """,
    )
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*seed_server talks over real loopback sockets*autojumping*"])


BLOCKED_SESSION = """
import sys
from importlib.machinery import PathFinder

find_on_path = PathFinder.find_spec


def find_unblocked(cls, name, path=None, target=None):
    # The blocked distributions are not found, as if they were not installed.
    if name.split(".")[0] in {blocked!r}:
        return None
    return find_on_path(name, path, target)


PathFinder.find_spec = classmethod(find_unblocked)
import pytest

sys.exit(pytest.main(["-p", "no:cacheprovider", "-p", "no:trio", "-rA", *sys.argv[1:]]))
"""


@pytest.mark.slow
def test_plugin_loads_without_the_testing_extra(pytester: pytest.Pytester) -> None:
    """Without h11 and pytest-trio a session runs; fixtures that need them fail naming the extra."""
    pytester.makepyfile(
        test_author="""
        def test_unrelated():
            assert True


        def test_uses_plugins(cadenza_plugins):
            assert "template" in cadenza_plugins.agent_kinds


        def test_uses_captured_run(captured_run):
            pass


        def test_uses_seed_server(seed_server):
            pass
        """
    )
    script = pytester.makepyfile(run_blocked=BLOCKED_SESSION.format(blocked=["h11", "pytest_trio"]))
    result = pytester.run(sys.executable, str(script), "test_author.py")
    result.assert_outcomes(passed=2, errors=2)
    errors = result.stdout.lines[result.stdout.lines.index(" ERRORS ".center(80, "=")) :]
    assert (
        "the captured_run fixture cannot run: cadenza.testing needs h11, which comes with "
        "the 'testing' extra: pip install 'cadenza[testing]'"
    ) in errors
    assert (
        "seed_server runs in a trio test and needs pytest-trio: pip install 'cadenza[testing]', "
        "and set trio_mode = true in your pytest configuration."
    ) in errors
    assert "During handling of the above exception, another exception occurred:" not in errors


@pytest.mark.slow
def test_loading_the_plugin_imports_nothing_of_cadenza() -> None:
    """Importing the plugin module, as pytest does in every session, leaves cadenza unimported."""
    code = (
        "import sys, _cadenza_pytest\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('cadenza', 'trio', 'h11')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


@pytest.mark.slow
@pytest.mark.parametrize("missing", ["h11", "pytest"])
def test_import_without_the_testing_extra_names_the_extra(missing: str) -> None:
    """``import cadenza.testing`` without h11 or pytest says which extra to install."""
    code = f"import sys\nsys.modules[{missing!r}] = None\nimport cadenza.testing\n"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert last == (
        f"ImportError: cadenza.testing needs {missing}, which comes with the 'testing' extra: "
        "pip install 'cadenza[testing]'"
    )

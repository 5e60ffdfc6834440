"""Plugin configuration: ``plugins:`` in the workflow file, the project file, and reading it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from structlog.testing import capture_logs

import cadenza
from cadenza._load._loader import check_workflow_file, load_workflow
from cadenza._load._plugin_config import find_project_file
from cadenza.plugins import Plugins, load_plugins, plugin_config, project_config
from cadenza.testing import run_captured

from .plugin_helpers import Site, clear_plugin_env, open_site


@attrs.frozen(kw_only=True)
class NotifyConfig:
    """The configuration of the test plugin ``notify``."""

    url: str
    retries: int = 1
    timeout: cadenza.Duration = cadenza.Duration(10.0)
    channel: str = "general"


@attrs.frozen(kw_only=True)
class EchoOptions:
    prefix: str = ""


class EchoAgent:
    """Answers with its plugin's configuration, as its factory read it."""

    capabilities = frozenset({"echo"})

    def __init__(self, config: cadenza.AgentConfig) -> None:
        self.name = config.name
        self.settings = config.plugin_config
        self.prefix = config.options_as(EchoOptions).prefix

    async def run(self, request: cadenza.AgentRequest) -> cadenza.AgentResult:
        settings = self.settings
        return cadenza.AgentResult(
            output={
                "url": self.prefix + settings.url,
                "channel": settings.channel,
                "timeout": float(settings.timeout),
                "seen_in_run": plugin_config("notify") is settings,
            }
        )

    async def health(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


class NotifyPlugin:
    """A plugin with configuration, an agent kind that reads it, and an observer."""

    def __init__(self) -> None:
        self.observed: list[Any] = []

    @cadenza.hookimpl
    def cadenza_plugin_config(self, register: Any) -> None:
        register("notify", NotifyConfig)

    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        register("echo", EchoAgent, options=EchoOptions)

    @cadenza.hookimpl
    def cadenza_on_event(self, event: cadenza.events.Event) -> None:
        if event.kind == "run_finished":
            self.observed.append(plugin_config("notify"))


class Bare:
    """A loaded plugin that declares no configuration."""

    @cadenza.hookimpl
    def cadenza_on_event(self, event: cadenza.events.Event) -> None:
        pass


@pytest.fixture
def plugins() -> Plugins:
    return load_plugins(entry_points=False, extra=[NotifyPlugin()])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project folder for the workflow and project files of one test."""
    root = tmp_path / "project"
    root.mkdir()
    return root


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


ECHO_WORKFLOW = """
agents:
  e: {kind: echo}
steps:
  s: {uses: e}
"""


MINIMAL = """
agents:
  t: {kind: template, options: {output: hi}}
steps:
  s: {uses: t}
"""


def rendered(problems: Any) -> str:
    return "\n".join(p.render() for p in problems)


# -- where configuration comes from --------------------------------------------------


def test_workflow_section_builds_the_declared_class(project: Path, plugins: Plugins) -> None:
    """``plugins: {notify: {...}}`` is structured into the declared class, durations parsed."""
    wf = write(
        project / "wf.yaml",
        """
        plugins:
          notify: {url: "https://hooks.test/a", timeout: 1m30s}
        """
        + textwrap.dedent(ECHO_WORKFLOW),
    )
    loaded = load_workflow(wf, plugins=plugins, environ={})
    config = loaded.workflow.plugin_config["notify"]
    assert config == NotifyConfig(url="https://hooks.test/a", timeout=cadenza.Duration(90.0))
    assert loaded.workflow.agents["e"].plugin_config is config


def test_cadenza_toml_is_found_upward_from_the_workflow(project: Path, plugins: Plugins) -> None:
    """A ``cadenza.toml`` in a parent folder configures a workflow in a subfolder."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "https://hooks.test/toml"\n')
    wf = write(project / "flows" / "deep" / "wf.yaml", ECHO_WORKFLOW)
    loaded = load_workflow(wf, plugins=plugins, environ={})
    assert loaded.workflow.plugin_config["notify"].url == "https://hooks.test/toml"


def test_pyproject_tool_cadenza_table_is_read(project: Path, plugins: Plugins) -> None:
    """``[tool.cadenza.plugins.notify]`` in pyproject.toml configures the plugin."""
    write(
        project / "pyproject.toml",
        """
        [project]
        name = "mine"

        [tool.cadenza.plugins.notify]
        url = "https://hooks.test/py"
        retries = 4
        """,
    )
    wf = write(project / "wf.yaml", ECHO_WORKFLOW)
    config = load_workflow(wf, plugins=plugins, environ={}).workflow.plugin_config["notify"]
    assert (config.url, config.retries) == ("https://hooks.test/py", 4)


def test_workflow_file_wins_over_project_file_key_by_key(project: Path, plugins: Plugins) -> None:
    """A key set in both comes from the workflow file; the project file's other keys stay."""
    write(
        project / "cadenza.toml",
        '[plugins.notify]\nurl = "https://hooks.test/project"\nchannel = "ops"\n',
    )
    wf = write(
        project / "wf.yaml",
        'plugins:\n  notify: {url: "https://hooks.test/workflow"}\n' + ECHO_WORKFLOW,
    )
    config = load_workflow(wf, plugins=plugins, environ={}).workflow.plugin_config["notify"]
    assert (config.url, config.channel) == ("https://hooks.test/workflow", "ops")


def test_cadenza_toml_wins_over_pyproject_in_one_folder(project: Path) -> None:
    """In one folder, cadenza.toml is the project file even when pyproject.toml has a table."""
    write(project / "pyproject.toml", '[tool.cadenza.plugins.notify]\nurl = "py"\n')
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "toml"\n')
    found = find_project_file(project / "sub", home=project.parent)
    assert found is not None
    assert found.path == project / "cadenza.toml"
    assert found.plugins == {"notify": {"url": "toml"}}


def test_pyproject_without_tool_cadenza_is_passed_over(project: Path) -> None:
    """A nearer pyproject.toml without ``[tool.cadenza]`` does not hide the project file above."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "toml"\n')
    write(project / "pkg" / "pyproject.toml", '[project]\nname = "pkg"\n')
    found = find_project_file(project / "pkg", home=project.parent)
    assert found is not None
    assert found.path == project / "cadenza.toml"


def test_pyproject_with_a_similar_tool_table_is_passed_over(project: Path) -> None:
    """``[tool.cadenza-lint]`` is another tool's table: that pyproject.toml is passed over."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "toml"\n')
    write(project / "pkg" / "pyproject.toml", "[tool.cadenza-lint]\nstrict = true\n")
    found = find_project_file(project / "pkg", home=project.parent)
    assert found is not None
    assert found.path == project / "cadenza.toml"


def test_search_stops_below_the_home_folder(tmp_path: Path) -> None:
    """A project file in the home folder is not used for a project under it."""
    write(tmp_path / "cadenza.toml", '[plugins.notify]\nurl = "home"\n')
    assert find_project_file(tmp_path / "work" / "proj", home=tmp_path) is None


def test_unconfigured_plugin_with_defaults_only_gets_its_defaults(tmp_path: Path) -> None:
    """A plugin whose class builds from defaults alone gets that object without any config."""

    @attrs.frozen
    class Quiet:
        level: int = 3

    class QuietPlugin:
        @cadenza.hookimpl
        def cadenza_plugin_config(self, register: Any) -> None:
            register("quiet", Quiet)

    plugins = load_plugins(entry_points=False, extra=[QuietPlugin()])
    wf = write(tmp_path / "p" / "wf.yaml", MINIMAL)
    assert load_workflow(wf, plugins=plugins, environ={}).workflow.plugin_config == {
        "quiet": Quiet()
    }


# -- errors with file:line -------------------------------------------------------------


def test_unknown_key_is_reported_with_line_and_suggestion(project: Path, plugins: Plugins) -> None:
    """An unknown key under ``plugins.notify`` points at its line and suggests the right one."""
    wf = write(
        project / "wf.yaml",
        "plugins:\n  notify:\n    url: https://hooks.test\n    timeot: 5s\n" + MINIMAL,
    )
    report = check_workflow_file(wf, plugins=plugins, environ={})
    assert not report.valid
    (problem,) = report.problems
    assert problem.render().startswith(f"{wf}:4:5: plugins.notify.timeot: unknown field 'timeot'")
    assert "Did you mean 'timeout'?" in problem.hint


def test_wrong_type_in_project_file_points_at_its_line(project: Path, plugins: Plugins) -> None:
    """A value of the wrong type in pyproject.toml is reported at that file's line."""
    toml = write(
        project / "pyproject.toml",
        """
        [project]
        name = "mine"

        [tool.cadenza.plugins.notify]
        url = "https://hooks.test"
        retries = "3"
        """,
    )
    wf = write(project / "wf.yaml", MINIMAL)
    (problem,) = check_workflow_file(wf, plugins=plugins, environ={}).problems
    assert problem.location is not None
    assert (problem.location.file, problem.location.line) == (str(toml), 6)
    assert problem.path == "tool.cadenza.plugins.notify.retries"
    assert "expected an integer" in problem.message


def test_missing_required_field_is_reported_at_the_entry(project: Path, plugins: Plugins) -> None:
    """``plugins: {notify: {}}`` lacks ``url``: reported at the entry, saying what to add."""
    wf = write(project / "wf.yaml", "plugins:\n  notify: {}\n" + MINIMAL)
    (problem,) = check_workflow_file(wf, plugins=plugins, environ={}).problems
    assert problem.render().startswith(f"{wf}:2:3: plugins.notify: missing required field 'url'")
    assert "Add url:" in problem.hint


def test_unknown_plugin_is_an_error_with_a_hint(project: Path, plugins: Plugins) -> None:
    """A ``plugins:`` entry no loaded plugin declares is an error suggesting the known ones."""
    wf = write(project / "wf.yaml", "plugins:\n  notfy: {url: x}\n" + MINIMAL)
    (problem,) = check_workflow_file(wf, plugins=plugins, environ={}).problems
    assert problem.severity == "error"
    assert problem.render().startswith(f"{wf}:2:3: plugins.notfy: unknown plugin 'notfy'")
    assert "Did you mean 'notify'?" in problem.hint


def test_plugin_without_configuration_is_an_error(project: Path) -> None:
    """Naming a loaded plugin that declares no configuration says to remove the entry."""
    plugins = load_plugins(entry_points=False, extra=[Bare()])
    name = next(i.name for i in plugins.infos if i.name.endswith("Bare instance"))
    wf = write(project / "wf.yaml", f"plugins:\n  '{name}': {{}}\n" + MINIMAL)
    (problem,) = check_workflow_file(wf, plugins=plugins, environ={}).problems
    assert problem.message == f"plugin {name!r} declares no configuration"
    assert "Remove plugins." in problem.hint


def test_unknown_plugin_in_the_project_file_is_a_warning(project: Path, plugins: Plugins) -> None:
    """The project file is shared by environments with other plugins: unknown tables only warn."""
    toml = write(project / "cadenza.toml", "[plugins.slack]\ntoken = 'x'\n")
    wf = write(project / "wf.yaml", MINIMAL)
    report = check_workflow_file(wf, plugins=plugins, environ={})
    assert report.valid
    (warning,) = report.warnings
    assert warning.location is not None
    assert warning.location.file == str(toml)
    assert warning.message == "unknown plugin 'slack'"


def test_seed_format_takes_the_project_file_only(project: Path, plugins: Plugins) -> None:
    """A seed-format file has no ``plugins:`` section; the project file still configures it."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "https://hooks.test/seed"\n')
    wf = write(
        project / "seed.yaml",
        """
        agents: [{id: a, type: x, api_endpoint: "http://127.0.0.1:9/task"}]
        workflows:
          w:
            steps: [{name: s, agent_type: x}]
        """,
    )
    workflow = load_workflow(wf, plugins=plugins, environ={}).workflow
    assert workflow.plugin_config["notify"].url == "https://hooks.test/seed"


# -- secrets ----------------------------------------------------------------------------


def test_env_references_expand_and_are_secrets(project: Path, plugins: Plugins) -> None:
    """``${NAME}`` in both files expands; the values join the workflow's secrets."""
    write(project / "cadenza.toml", '[plugins.notify]\nchannel = "${CHANNEL}"\n')
    wf = write(
        project / "wf.yaml",
        'plugins:\n  notify: {url: "https://hooks.test/${TOKEN}"}\n' + ECHO_WORKFLOW,
    )
    environ = {"TOKEN": "tok-123", "CHANNEL": "chan-456"}
    workflow = load_workflow(wf, plugins=plugins, environ=environ).workflow
    config = workflow.plugin_config["notify"]
    assert (config.url, config.channel) == ("https://hooks.test/tok-123", "chan-456")
    assert {"tok-123", "chan-456"} <= workflow.secrets


def test_secret_is_redacted_from_problems(project: Path, plugins: Plugins) -> None:
    """A secret in a value of the wrong type is not printed in the problem."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "u"\nretries = "${TOKEN}"\n')
    wf = write(project / "wf.yaml", MINIMAL)
    report = check_workflow_file(wf, plugins=plugins, environ={"TOKEN": "hunter2"})
    assert not report.valid
    assert "hunter2" not in rendered(report.problems)


def test_unset_env_reference_points_into_the_project_file(project: Path, plugins: Plugins) -> None:
    """An unset ``${NAME}`` in cadenza.toml is reported at its line there."""
    toml = write(project / "cadenza.toml", '[plugins.notify]\n\nurl = "${HOOK_URL}"\n')
    wf = write(project / "wf.yaml", MINIMAL)
    with pytest.raises(cadenza.WorkflowError) as info:
        load_workflow(wf, plugins=plugins, environ={})
    (problem,) = info.value.problems
    assert problem.render().startswith(f"{toml}:3:1: plugins.notify.url: environment variable")


# -- reading it ---------------------------------------------------------------------------


async def test_agent_factory_and_observer_read_the_configuration(
    project: Path,
) -> None:
    """End to end: the agent's factory gets it as ``config.plugin_config``; the run sees it too."""
    plugin = NotifyPlugin()
    write(project / "cadenza.toml", '[plugins.notify]\nchannel = "ops"\ntimeout = "2s"\n')
    text = (
        'plugins:\n  notify: {url: "/hooks/${TOKEN}"}\n'
        "agents:\n  e: {kind: echo, options: {prefix: 'https://x'}}\n"
        "steps:\n  s: {uses: e}\n"
    )
    captured = await run_captured(
        text, extra_plugins=[plugin], base_dir=project, environ={"TOKEN": "tok-8d1f"}
    )
    assert captured.result.status == "succeeded"
    (done,) = captured.of("step_succeeded")
    assert done.to_dict()["output"] == {
        "url": "https://x/hooks/***",
        "channel": "ops",
        "timeout": 2.0,
        "seen_in_run": True,
    }
    assert plugin.observed == [NotifyConfig(url="/hooks/tok-8d1f", channel="ops", timeout=2.0)]


def test_agent_kind_of_an_unconfigured_plugin_is_an_error(project: Path, plugins: Plugins) -> None:
    """Using ``kind: echo`` while ``notify`` (its plugin's config) lacks ``url`` fails to load."""
    wf = write(project / "wf.yaml", ECHO_WORKFLOW)
    with pytest.raises(cadenza.WorkflowError) as info:
        load_workflow(wf, plugins=plugins, environ={})
    (problem,) = info.value.problems
    assert problem.path == "agents.e.kind"
    assert "needs the configuration of plugin 'notify'" in problem.message
    assert "[plugins.notify] in cadenza.toml" in problem.hint


def test_strategy_factory_reads_the_configuration_when_the_file_loads(project: Path) -> None:
    """A router factory, called while the workflow loads, sees the workflow's configuration."""
    seen: list[Any] = []

    class First:
        def choose(self, candidates: Any, request: Any) -> cadenza.strategies.Route:
            return cadenza.strategies.Route(agent=candidates[0].name, reason="first")

    def sticky(options: dict[str, Any]) -> First:
        seen.append(plugin_config("notify"))
        return First()

    class RouterPlugin(NotifyPlugin):
        @cadenza.hookimpl
        def cadenza_routers(self, register: Any) -> None:
            register("sticky", sticky)

    plugins = load_plugins(entry_points=False, extra=[RouterPlugin()])
    wf = write(
        project / "wf.yaml",
        "route: sticky\nplugins:\n  notify: {url: https://h.test}\n" + MINIMAL,
    )
    assert check_workflow_file(wf, plugins=plugins, environ={}).valid
    assert seen
    assert all(config == NotifyConfig(url="https://h.test") for config in seen)


def test_plugin_config_is_none_outside_a_load_or_a_run() -> None:
    """Outside a workflow load or a run there is no workflow configuration to read."""
    assert plugin_config("notify") is None


def test_project_config_reads_the_project_file_for_commands(project: Path) -> None:
    """``project_config`` builds the class from the project file found from ``start``."""
    write(project / "cadenza.toml", '[plugins.notify]\nurl = "https://hooks.test/cmd"\n')
    config = project_config("notify", NotifyConfig, start=project / "sub", environ={})
    assert config == NotifyConfig(url="https://hooks.test/cmd")


def test_project_config_errors_name_file_and_line(project: Path) -> None:
    """A bad value read by ``project_config`` raises WorkflowError with file:line."""
    toml = write(project / "cadenza.toml", '[plugins.notify]\nurl = "u"\ntimeout = "soon"\n')
    with pytest.raises(cadenza.WorkflowError) as info:
        project_config("notify", NotifyConfig, start=project, environ={})
    assert info.value.render().startswith(f"{toml}:3:1: plugins.notify.timeout:")


def test_project_config_without_a_table_says_where_to_add_one(project: Path) -> None:
    """No table and a required field: the error says where configuration goes."""
    with pytest.raises(cadenza.WorkflowError) as info:
        project_config("notify", NotifyConfig, start=project, environ={})
    assert "missing required field 'url'" in info.value.render()
    assert "[plugins.notify] in cadenza.toml" in info.value.render()


def test_cadenza_plugins_lists_the_configuration_registration(plugins: Plugins) -> None:
    """``cadenza plugins`` shows a plugin's configuration as a ``cadenza_plugin_config`` entry."""
    info = next(i for i in plugins.infos if "NotifyPlugin" in i.name)
    assert ("cadenza_plugin_config", "notify") in info.registrations


# -- the CLI, with the plugin installed ------------------------------------------------------

INSTALLED = """
import attrs
import click

from cadenza.plugins import project_config


@attrs.frozen(kw_only=True)
class Config:
    url: str
    retries: int = 1


@cadenza.hookimpl
def cadenza_plugin_config(register):
    register("hooky", Config)


@click.command("hooky-url")
def show():
    click.echo(project_config("hooky", Config).url)


@cadenza.hookimpl
def cadenza_commands(register):
    register(show)
"""


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    clear_plugin_env(monkeypatch)
    with capture_logs():
        yield from open_site(tmp_path, monkeypatch)


def _cadenza(site: Site, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site.path), env.get("PYTHONPATH")]))
    env["CADENZA_LOAD_PLUGINS"] = "hooky"
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_validate_reports_plugin_configuration_errors(site: Site, project: Path) -> None:
    """``cadenza validate`` checks ``plugins:`` and the project file: file:line, exit 2."""
    site.add_plugin("cadenza-hooky", "1.0", INSTALLED)
    toml = write(project / "cadenza.toml", '[plugins.hooky]\nurl = "u"\nretries = "two"\n')
    wf = write(project / "wf.yaml", "plugins:\n  hooky: {ur: x}\n" + MINIMAL)
    proc = _cadenza(site, project, "validate", str(wf))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert f"{wf}:2:11: plugins.hooky.ur: unknown field 'ur'" in out
    assert f"{toml}:3:1: plugins.hooky.retries:" in out
    assert "Traceback" not in out


@pytest.mark.slow
def test_plugin_command_reads_the_project_file(site: Site, project: Path) -> None:
    """A plugin's command reads its configuration with project_config; bad values exit 2."""
    site.add_plugin("cadenza-hooky", "1.0", INSTALLED)
    write(project / "pyproject.toml", '[tool.cadenza.plugins.hooky]\nurl = "https://h.test"\n')
    (project / "sub").mkdir()
    proc = _cadenza(site, project / "sub", "hooky-url")
    assert (proc.returncode, proc.stdout.strip()) == (0, "https://h.test"), proc.stderr
    write(project / "pyproject.toml", "[tool.cadenza.plugins.hooky]\nretries = 2\n")
    proc = _cadenza(site, project / "sub", "hooky-url")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "missing required field 'url'" in proc.stderr
    assert "Traceback" not in proc.stderr

"""``cadenza plugins`` and plugin-provided commands, in-process and as a real installation."""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import site as site_module
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

import cadenza
from cadenza._cli import _add_plugin_commands, cli
from cadenza._cli._common import CliState
from cadenza._cli._exit import ExitCode
from cadenza._cli._plugins_cmd import plugins as plugins_command

from .plugin_helpers import Site, clear_plugin_env, open_site

TINY = Path(__file__).parent / "data" / "plugins" / "cadenza-tinyplugin"

FINE = """
def make(config):
    raise NotImplementedError

@cadenza.hookimpl
def cadenza_agent_kinds(register):
    register("fine", make)

@cadenza.hookimpl
def cadenza_on_event(event):
    pass
"""

HELLO = """
import click

@click.command("hello")
@click.argument("who")
def hello(who):
    click.echo(f"hello {who}, from a plugin")

@cadenza.hookimpl
def cadenza_commands(register):
    register(hello)
"""


@pytest.fixture(autouse=True)
def _plugin_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No inherited CADENZA_* settings; logs captured (the CLI itself sends them to stderr)."""
    clear_plugin_env(monkeypatch)
    with capture_logs():
        yield


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    yield from open_site(tmp_path, monkeypatch)


@pytest.fixture
def mixed(site: Site, monkeypatch: pytest.MonkeyPatch) -> Site:
    """One plugin of each status: loaded, failed (import), refused (fence), disabled."""
    site.add_plugin("cadenza-fine", "1.0", FINE)
    site.add_plugin("cadenza-broken", "0.2", "raise ImportError('needs libfoo')\n")
    site.add_plugin("cadenza-old", "0.3", "", hook_api='"<1.0"')
    site.add_plugin("cadenza-off", "0.1", FINE.replace('"fine"', '"off"'))
    monkeypatch.setenv("CADENZA_LOAD_PLUGINS", "fine,broken,old")
    return site


@pytest.fixture
def own_cli(monkeypatch: pytest.MonkeyPatch) -> click.Group:
    """The ``cadenza`` group with its commands restored after the test."""
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    return cli


def test_plugins_table_lists_each_plugin_and_its_problems(mixed: Site) -> None:
    """The table shows every plugin's status, hooks and registrations, then its errors; exit 0."""
    result = CliRunner().invoke(plugins_command, [])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split() == [
        "NAME",
        "DISTRIBUTION",
        "VERSION",
        "ENTRY",
        "POINT",
        "STATUS",
        "HOOKS",
        "AND",
        "REGISTRATIONS",
    ]
    row = {line.split()[0]: line.split() for line in lines[1:] if line and line[0] != " "}
    assert row["cadenza"][:5] == [
        "cadenza",
        "(built-in)",
        "cadenza",
        cadenza.__version__,
        "cadenza._plugins._builtins",
    ]
    assert row["fine"] == [
        "fine",
        "cadenza-fine",
        "1.0",
        "cadenza_fine",
        "loaded",
        "cadenza_agent_kinds:",
        "fine",
    ]
    assert "    cadenza_on_event" in result.stdout  # the second hook, on its own line
    assert row["broken"][1:5] == ["cadenza-broken", "0.2", "cadenza_broken", "failed"]
    assert row["old"][4] == "refused"
    assert row["off"][4] == "disabled"
    # Plugins really installed beside the kernel (the first-party ones, in a dev
    # environment) are disabled by CADENZA_LOAD_PLUGINS too, and counted.
    installed = {
        ep.name
        for ep in importlib.metadata.entry_points(group="cadenza")
        if ep.name not in ("fine", "broken", "old", "off")
    }
    total, disabled = 5 + len(installed), 1 + len(installed)
    summary = f"{total} plugins: 2 loaded, 1 failed, 1 refused, {disabled} disabled."
    assert summary in result.stdout
    problems = result.stdout.split("Problems:\n", 1)[1]
    assert (
        "  broken (failed): cadenza-broken 0.2: could not import entry point "
        "broken = cadenza_broken: ImportError: needs libfoo"
    ) in problems
    assert "  old (refused): cadenza-old 0.3 supports hook API <1.0" in problems


def test_plugins_json_prints_one_object_per_plugin(mixed: Site) -> None:
    """``--json`` prints a list of plugin records, failed ones included; exit 0."""
    result = CliRunner().invoke(plugins_command, ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {item["name"]: item for item in data}
    assert data[0]["name"] == "cadenza (built-in)"
    assert by_name["fine"] == {
        "name": "fine",
        "distribution": "cadenza-fine",
        "version": "1.0",
        "entry_point": "cadenza_fine",
        "status": "loaded",
        "hooks": ["cadenza_agent_kinds", "cadenza_on_event"],
        "registrations": [{"hook": "cadenza_agent_kinds", "name": "fine"}],
        "error": None,
    }
    assert by_name["broken"]["status"] == "failed"
    assert "ImportError: needs libfoo" in by_name["broken"]["error"]
    assert by_name["old"]["status"] == "refused"
    assert by_name["off"]["status"] == "disabled"


def test_duplicate_registration_exits_3(site: Site) -> None:
    """Two plugins registering one name make ``cadenza plugins`` exit 3 naming both."""
    site.add_plugin("cadenza-one", "1.0", FINE)
    site.add_plugin("cadenza-two", "2.0", FINE)
    result = CliRunner().invoke(plugins_command, ["--json"])
    assert result.exit_code == ExitCode.PLUGIN_ERROR.value
    assert result.stdout == ""
    assert "'fine' is registered by both cadenza-one 1.0 and cadenza-two 2.0" in result.stderr


def test_plugin_commands_join_the_cli(site: Site, own_cli: click.Group) -> None:
    """A ``cadenza_commands`` registration becomes a ``cadenza`` subcommand."""
    site.add_plugin("cadenza-hello", "0.1", HELLO)
    state = CliState()
    _add_plugin_commands(state)
    assert state.plugins is not None
    result = CliRunner().invoke(own_cli, ["hello", "world"], obj=state)
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello world, from a plugin\n"


def test_broken_plugins_do_not_break_the_cli(site: Site, own_cli: click.Group) -> None:
    """When plugins cannot load together, the CLI still starts; commands report the error."""
    site.add_plugin("cadenza-one", "1.0", FINE)
    site.add_plugin("cadenza-two", "2.0", FINE)
    before = dict(own_cli.commands)
    state = CliState()
    _add_plugin_commands(state)
    assert state.plugins is None
    assert own_cli.commands == before


def test_plugin_command_cannot_replace_a_builtin(
    site: Site, own_cli: click.Group, capsys: pytest.CaptureFixture[str]
) -> None:
    """A plugin command named like a built-in one is ignored with a warning."""
    site.add_plugin("cadenza-evil", "0.1", HELLO.replace('"hello"', '"plugins"'))
    own_cli.add_command(plugins_command)
    _add_plugin_commands(CliState())
    assert own_cli.commands["plugins"] is plugins_command
    assert "cadenza-evil 0.1 registers a command 'plugins'" in capsys.readouterr().err


# -- the tiny plugin, installed for real -------------------------------------------


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env.update(extra)
    return env


def _cadenza(python: Path | str, *args: str, env: dict[str, str], cwd: Path) -> Any:
    return subprocess.run(
        [str(python), "-m", "cadenza", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _assert_tiny_listed(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 0, proc.stderr
    by_name = {item["name"]: item for item in json.loads(proc.stdout)}
    assert by_name["tiny"] == {
        "name": "tiny",
        "distribution": "cadenza-tinyplugin",
        "version": "0.1.0",
        "entry_point": "cadenza_tinyplugin",
        "status": "loaded",
        "hooks": ["cadenza_agent_kinds"],
        "registrations": [{"hook": "cadenza_agent_kinds", "name": "tiny"}],
        "error": None,
    }


def _run_tiny_workflow(python: Path | str, env: dict[str, str], cwd: Path) -> None:
    """Run a one-step workflow on the ``tiny`` kind: it really counts words."""
    wf = cwd / "count.yaml"
    wf.write_text(
        textwrap.dedent(
            """
            agents:
              counter: {kind: tiny, options: {field: text}}
            steps:
              count: {uses: counter, with: {text: "the quick brown fox jumps"}}
            """
        )
    )
    proc = _cadenza(python, "run", str(wf), "--json", "--no-progress", env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"words": 5' in proc.stdout


@pytest.mark.slow
def test_pip_installed_tiny_plugin_is_listed_and_runs(tmp_path: Path) -> None:
    """pip-installing cadenza-tinyplugin into a venv makes it show in ``cadenza plugins``."""
    pytest.importorskip("hatchling", reason="building the plugin needs hatchling (test group)")
    pytest.importorskip("pip", reason="installing the plugin needs pip")
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", str(venv)],
        check=True,
        timeout=120,
    )
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    # The kernel (and hatchling) live in this interpreter's environment, which may
    # itself be a venv that --system-site-packages does not reach: add it explicitly.
    dirs = [*site_module.getsitepackages(), site_module.getusersitepackages()]
    (Path(purelib) / "_cadenza_kernel.pth").write_text(
        "".join(f"import site; site.addsitedir({d!r})\n" for d in dirs)
    )
    source = tmp_path / "cadenza-tinyplugin"
    shutil.copytree(TINY, source)
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "--quiet",
            str(source),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    env = _clean_env(CADENZA_LOAD_PLUGINS="tiny")
    _assert_tiny_listed(_cadenza(python, "plugins", "--json", env=env, cwd=tmp_path))
    _run_tiny_workflow(python, env, tmp_path)


@pytest.mark.slow
def test_tiny_plugin_dist_info_on_pythonpath_is_listed_and_runs(tmp_path: Path) -> None:
    """A built ``.dist-info`` on PYTHONPATH is found the same way (no pip, no build backend)."""
    target = tmp_path / "site"
    shutil.copytree(TINY / "cadenza_tinyplugin", target / "cadenza_tinyplugin")
    info = target / "cadenza_tinyplugin-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: cadenza-tinyplugin\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text("[cadenza]\ntiny = cadenza_tinyplugin\n")
    pythonpath = os.pathsep.join(filter(None, [str(target), os.environ.get("PYTHONPATH")]))
    env = _clean_env(CADENZA_LOAD_PLUGINS="tiny", PYTHONPATH=pythonpath)
    _assert_tiny_listed(_cadenza(sys.executable, "plugins", "--json", env=env, cwd=tmp_path))
    _run_tiny_workflow(sys.executable, env, tmp_path)


# -- plugins that exit or print ----------------------------------------------------

LOUD = """
import sys
import cadenza

print("loud: imported")


class LoudAgent:
    capabilities = frozenset()

    def __init__(self, name):
        self.name = name

    async def run(self, request):
        print("loud: running", request.step_id)
        return cadenza.AgentResult(output={"said": "hi"})

    async def aclose(self):
        print("loud: closed")


@cadenza.hookimpl
def cadenza_agent_kinds(register):
    print("loud: registering")
    register("loud", lambda config: LoudAgent(config.name))


@cadenza.hookimpl
def cadenza_on_event(event):
    print("loud: saw", event.kind)
"""

EXITING_OBSERVER = """
@cadenza.hookimpl
def cadenza_on_event(event):
    if event.kind == "step_ready":
        raise SystemExit(3)
"""

TWO_STEPS = """
agents:
  speaker: {kind: %s}
steps:
  first: {uses: speaker}
  second: {uses: speaker, needs: [first]}
"""


def _site_env(site: Site, load: str) -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [str(site.path), os.environ.get("PYTHONPATH")]))
    return _clean_env(CADENZA_LOAD_PLUGINS=load, PYTHONPATH=pythonpath)


@pytest.mark.slow
def test_cli_still_works_when_a_plugin_exits_at_import(site: Site, tmp_path: Path) -> None:
    """A plugin calling ``sys.exit()`` at import: ``--version`` works; ``plugins`` says why."""
    site.add_plugin("cadenza-exiter", "0.1", "import sys\nsys.exit(7)\n")
    env = _site_env(site, "exiter")
    version = _cadenza(sys.executable, "--version", env=env, cwd=tmp_path)
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("cadenza, version ")
    listed = _cadenza(sys.executable, "plugins", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    by_name = {item["name"]: item for item in json.loads(listed.stdout)}
    assert by_name["exiter"]["status"] == "failed"
    assert "SystemExit(7) while importing" in by_name["exiter"]["error"]


@pytest.mark.slow
def test_plugin_prints_never_reach_json_stdout(site: Site, tmp_path: Path) -> None:
    """What plugin code prints (import, hooks, observers, agents) goes to stderr under --json."""
    site.add_plugin("cadenza-loud", "0.1", LOUD)
    env = _site_env(site, "loud")
    (tmp_path / "talk.yaml").write_text(TWO_STEPS % "loud")
    run = _cadenza(
        sys.executable, "run", "talk.yaml", "--json", "--no-progress", env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert json.loads(run.stdout)["status"] == "succeeded"
    for line in ("loud: imported", "loud: registering", "loud: running first", "loud: closed"):
        assert line in run.stderr
    assert "loud: saw run_finished" in run.stderr
    listed = _cadenza(sys.executable, "plugins", "--json", env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert [item["name"] for item in json.loads(listed.stdout)] == ["cadenza (built-in)", "loud"]
    assert "loud: imported" in listed.stderr


@pytest.mark.slow
def test_run_goes_on_when_an_observer_exits(site: Site, tmp_path: Path) -> None:
    """An observer raising SystemExit is reported; the run succeeds and is journaled as such."""
    site.add_plugin("cadenza-quitter", "0.1", EXITING_OBSERVER)
    env = _site_env(site, "quitter")
    (tmp_path / "wf.yaml").write_text(TWO_STEPS % "template")
    run = _cadenza(
        sys.executable, "run", "wf.yaml", "--json", "--no-progress", env=env, cwd=tmp_path
    )
    assert run.returncode == 0, run.stdout + run.stderr
    result = json.loads(run.stdout)
    assert result["status"] == "succeeded"
    assert "observer_failed" in run.stderr
    assert "cadenza-quitter 0.1" in run.stderr
    assert "Traceback" not in run.stderr
    status = _cadenza(sys.executable, "status", result["run_id"], "--json", env=env, cwd=tmp_path)
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "succeeded"
    assert "cancelled by the caller" not in status.stdout

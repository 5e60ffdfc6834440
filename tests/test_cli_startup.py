"""The ``cadenza`` command starts without importing what ``--help`` and ``--version`` don't use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from cadenza._cli import BUILTIN_COMMANDS, _builtin_command, cli
from cadenza._cli._common import CliState

from .plugin_helpers import Site, clear_plugin_env, open_site

HEAVY = (
    "celpy",
    "lark",
    "pendulum",
    "jsonschema",
    "rich",
    "structlog",
    "cadenza._load",
    "cadenza._scheduler",
    "cadenza._plugins",
    "cadenza._expr",
    "cadenza._journal",
)
"""Modules (and their submodules) that ``--help`` and ``--version`` must not import."""

RUN_CLI = textwrap.dedent(
    """
    import sys
    from cadenza._cli import main
    try:
        main(sys.argv[1:])
    except SystemExit:
        pass
    sys.stderr.write("\\n".join(sorted(sys.modules)))
    """
)

HELLO = """
import click

@click.command("hello")
def hello():
    "Say hello from a plugin."

@cadenza.hookimpl
def cadenza_commands(register):
    register(hello)
"""


def _modules_after(*args: str) -> tuple[str, set[str]]:
    """Run the CLI's ``main`` with ``args`` in a fresh interpreter: its stdout and sys.modules."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CADENZA_")}
    env["CADENZA_LOAD_PLUGINS"] = ""  # plugin distributions installed beside the kernel
    done = subprocess.run(
        [sys.executable, "-c", RUN_CLI, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    return done.stdout, set(done.stderr.splitlines())


def _heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY))


@pytest.mark.slow
def test_version_imports_nothing_heavy() -> None:
    """``cadenza --version`` prints the version without importing loader, scheduler, CEL or rich."""
    out, modules = _modules_after("--version")
    assert out.startswith("cadenza, version ")
    assert _heavy(modules) == []


@pytest.mark.slow
def test_help_imports_nothing_heavy() -> None:
    """``cadenza --help`` lists every built-in command without importing their modules."""
    out, modules = _modules_after("--help")
    assert all(f"  {name} " in out for name in BUILTIN_COMMANDS)
    assert _heavy(modules) == []
    assert not any(m.endswith("_cmd") for m in modules)


@pytest.mark.slow
def test_import_cadenza_defers_the_public_api_to_its_first_use() -> None:
    """``import cadenza`` imports no kernel package; the first public name brings them all."""
    code = textwrap.dedent(
        """
        import sys
        import cadenza
        assert "cadenza._scheduler" not in sys.modules, "eager"
        assert cadenza.Step.__module__ == "cadenza"
        assert cadenza.events.RunStarted.__module__ == "cadenza.events"
        assert cadenza.RetryPolicy.__module__ == "cadenza", "published"
        assert "cadenza._scheduler" in sys.modules
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.parametrize("limit", [30, 45, 70, 200])
def test_help_describes_each_builtin_command_as_the_command_does(limit: int) -> None:
    """The short help kept for ``--help`` is the one each command's docstring gives."""
    for name, (_, _, short_help) in BUILTIN_COMMANDS.items():
        command = _builtin_command(name)
        assert command.name == name
        expected = command.get_short_help_str(limit)
        assert click.Command(name, help=short_help).get_short_help_str(limit) == expected, name


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    clear_plugin_env(monkeypatch)
    yield from open_site(tmp_path, monkeypatch)


def test_help_lists_the_commands_of_installed_plugins(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With a plugin distribution installed, ``--help`` loads plugins and lists their commands."""
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    site.add_plugin("cadenza-hello", "0.1", HELLO)
    result = CliRunner().invoke(cli, ["--help"], obj=CliState())
    assert result.exit_code == 0, result.output
    assert "  hello     Say hello from a plugin." in result.stdout
    assert "  validate  Check the workflow file FILE without running anything." in result.stdout


NO_CEL = """\
name: plain
agents:
  echo: {kind: template}
  coder: {kind: python, options: {function: "tasks:code"}}
steps:
  plan: {uses: echo, with: {topic: trio}}
  write: {uses: echo, needs: [plan], with: {topic: trio, price: "$$${{ 5 }}"}}
"""

WITH_CEL = """\
name: small
inputs:
  topic: {default: trio}
agents:
  echo: {kind: template}
steps:
  plan: {uses: echo, with: {topic: "${{ inputs.topic }}"}}
  write:
    uses: echo
    needs: [plan]
    when: "steps.plan.output.inputs.topic != ''"
    with: {title: "About ${{ inputs.topic }}"}
"""

NOT_FOR_VALIDATE = (
    "jsonschema", "referencing", "httpx", "rich", "structlog", "trio", "cadenza._scheduler",
)  # fmt: skip
"""What ``cadenza validate`` of a workflow that uses no such feature must not import."""

CEL = ("celpy", "lark", "pendulum")


def _imported(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in names or m.startswith(names))


@pytest.mark.slow
def test_validate_without_expressions_imports_no_cel(tmp_path: Path) -> None:
    """Validating a file without ``${{ }}`` or ``when:`` imports neither CEL nor trio, httpx,
    jsonschema, rich or structlog, even with a ``$${{`` escape.

    (An ``http`` agent's endpoint is checked with ``httpx.URL``, so httpx comes
    in with one: validation must accept the URLs the client will.)
    """
    (tmp_path / "plain.yaml").write_text(NO_CEL, encoding="utf-8")
    out, modules = _modules_after("validate", str(tmp_path / "plain.yaml"))
    assert "ok (workflow plain: 2 steps, 2 agents)" in out
    assert _imported(modules, CEL + NOT_FOR_VALIDATE) == []


@pytest.mark.slow
def test_validate_with_expressions_imports_cel_only(tmp_path: Path) -> None:
    """Expressions bring CEL in, and nothing else heavy."""
    (tmp_path / "small.yaml").write_text(WITH_CEL, encoding="utf-8")
    out, modules = _modules_after("validate", str(tmp_path / "small.yaml"))
    assert "ok (workflow small: 2 steps, 1 agent)" in out
    assert "celpy" in modules
    assert _imported(modules, NOT_FOR_VALIDATE) == []


def test_validate_still_reports_expression_and_schema_problems(tmp_path: Path) -> None:
    """Deferred imports change no message: a CEL syntax error and a bad JSON schema are found."""
    (tmp_path / "bad.yaml").write_text(
        textwrap.dedent(
            """\
            name: bad
            agents:
              echo: {kind: template}
            steps:
              a:
                uses: echo
                when: "inputs.x = 1"
                validate:
                  - {validator: json_schema, schema: {type: 12}}
            """
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "bad.yaml")], obj=CliState())
    assert result.exit_code == 2, result.output
    assert "syntax error" in result.stderr
    assert "compare with ==, not =" in result.stderr
    assert "is not a valid JSON schema" in result.stderr


@pytest.mark.slow
def test_a_run_without_expressions_imports_no_cel(tmp_path: Path) -> None:
    """``cadenza run`` of a workflow without expressions, template agents only, imports
    neither CEL nor httpx nor jsonschema."""
    (tmp_path / "plain.yaml").write_text(
        NO_CEL.replace('  coder: {kind: python, options: {function: "tasks:code"}}\n', ""),
        encoding="utf-8",
    )
    out, modules = _modules_after(
        "run", str(tmp_path / "plain.yaml"), "--no-journal", "--no-progress",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert "2 succeeded" in out
    assert _imported(modules, ("celpy", "lark", "pendulum", "jsonschema", "httpx")) == []


NOT_FOR_A_PLAIN_RUN = (
    "rich", "pygments", "structlog", "asyncio", "importlib.metadata", "email",
    "cadenza._strategies._aggregators", "cadenza._strategies._validators",
    "cadenza._strategies._fallbacks",
)  # fmt: skip
"""What ``cadenza run`` with progress to a pipe, nothing to log and no plugin must not import.

(The routers are imported: with a journal, the runner asks each step's router
whether it wants the agents' history.)"""


@pytest.mark.slow
def test_a_journaled_run_to_a_pipe_imports_no_rich_nor_structlog(tmp_path: Path) -> None:
    """``cadenza run`` with progress lines to a pipe (not a terminal), the journal on and
    nothing logged, imports neither rich (and pygments) nor structlog (and asyncio), and
    finds entry points without importlib.metadata (and email)."""
    (tmp_path / "plain.yaml").write_text(
        NO_CEL.replace('  coder: {kind: python, options: {function: "tasks:code"}}\n', ""),
        encoding="utf-8",
    )
    out, modules = _modules_after(
        "run", str(tmp_path / "plain.yaml"), "--store", str(tmp_path / "journal.db"),
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert "2 succeeded" in out
    assert _imported(modules, NOT_FOR_A_PLAIN_RUN) == []


@pytest.mark.slow
def test_plugin_calls_are_ki_protected_though_imported_before_trio() -> None:
    """call_plugin gets trio's KeyboardInterrupt protection when trio arrives after it."""
    code = textwrap.dedent(
        """
        import sys
        from cadenza._plugins._registry import call_plugin, call_plugin_async
        assert "trio" not in sys.modules
        import trio

        async def protected():
            return trio.lowlevel.currently_ki_protected()

        async def main():
            assert not trio.lowlevel.currently_ki_protected()
            assert call_plugin(trio.lowlevel.currently_ki_protected)
            assert await call_plugin_async(protected)

        trio.run(main)
        """
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


@pytest.mark.slow
def test_the_heap_is_frozen_at_exit_only() -> None:
    """main() leaves the collector alone while the process lives and freezes it at exit,
    after the command's output is written."""
    code = textwrap.dedent(
        """
        import atexit, gc, sys
        atexit.register(lambda: print("frozen at exit:", gc.get_freeze_count() > 0))
        from cadenza._cli import main
        try:
            main(["--version"])
        except SystemExit:
            print("frozen before exit:", gc.get_freeze_count() > 0)
            raise
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cadenza, version")
    assert lines[1:] == ["frozen before exit: False", "frozen at exit: True"]

"""CLI error handling: errors from inside a trio run become messages and documented codes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner

import cadenza
from cadenza._cli import _add_builtin_commands, cli
from cadenza._cli._common import CliState


class BrokenKind:
    @cadenza.hookimpl
    def cadenza_agent_kinds(self, register: Any) -> None:
        def factory(config: Any) -> Any:
            raise ValueError("cannot start")

        register("broken", factory)


def invoke(tmp_path: Path, *args: str) -> Any:
    _add_builtin_commands()
    wf = tmp_path / "wf.yaml"
    wf.write_text("agents:\n  b: {kind: broken}\nsteps:\n  s: {uses: b}\n")
    state = CliState(plugins=cadenza.plugins.load_plugins(extra=[BrokenKind()], entry_points=False))
    return CliRunner().invoke(cli, [*args, "run", str(wf), "--no-progress"], obj=state)


def test_error_inside_the_run_exits_2_with_a_message(tmp_path: Path) -> None:
    """A factory error raised inside trio is unwrapped from its exception group: exit 2."""
    result = invoke(tmp_path)
    assert result.exit_code == 2
    assert "wf.yaml:2:" in result.output
    assert "agent 'b' (kind broken) could not be created: cannot start" in result.output
    assert "Traceback" not in result.output


def test_debug_shows_the_traceback_and_keeps_the_exit_code(tmp_path: Path) -> None:
    """--debug adds the traceback but the documented exit code stays 2."""
    result = invoke(tmp_path, "--debug")
    assert result.exit_code == 2
    assert "Traceback" in result.output

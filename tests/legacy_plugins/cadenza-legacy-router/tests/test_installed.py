"""The installed distribution, through the `cadenza` command line (docs/cli.md, docs/routing.md)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: summaries
route:
  strategy: fair_share
  weights: {fast: 2}
agents:
  fast: {kind: template, capabilities: [summarise], options: {output: "fast: {doc}"}}
  careful: {kind: template, capabilities: [summarise], options: {output: "careful: {doc}"}}
steps:
  intro: {uses: summarise, with: {doc: intro}}
  body: {uses: summarise, with: {doc: body}}
  index: {uses: summarise, with: {doc: index}}
"""


def cadenza_cli(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "cadenza", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_cadenza_run_routes_with_the_installed_strategy(tmp_path):
    """`cadenza run --json` finds `fair_share` through the entry point and shares calls 2 to 1."""
    (tmp_path / "workflow.yaml").write_text(WORKFLOW)
    done = cadenza_cli(
        "run", "--json", "--no-journal", "--no-progress", "workflow.yaml", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    steps = json.loads(done.stdout)["steps"]
    assert sorted(step["agent"] for step in steps.values()) == ["careful", "fast", "fast"]


def test_cadenza_validate_reports_a_bad_option_with_its_line(tmp_path):
    """A bad `weights` value makes `cadenza validate` exit 2, naming file:line and the option."""
    (tmp_path / "workflow.yaml").write_text(WORKFLOW.replace("{fast: 2}", "{fast: many}"))
    done = cadenza_cli("validate", "workflow.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "workflow.yaml:3:" in done.stderr
    assert "weights.fast must be a number >= 0, got 'many'" in done.stderr
    assert "Traceback" not in done.stderr

"""The installed distribution, through the `cadenza` command line (docs/cli.md, docs/hooks.md)."""

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

WORKFLOW = """\
name: counting
agents:
  counter:
    kind: wordcount
    options: {top: 2}
steps:
  count:
    uses: counter
    with: {text: "to be or not to be"}
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


def test_cadenza_plugins_lists_the_entry_point(tmp_path):
    """`cadenza plugins --json` shows the plugin loaded, with its `wordcount` kind."""
    done = cadenza_cli("plugins", "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    (plugin,) = [p for p in json.loads(done.stdout) if p["name"] == "legacy-agent"]
    assert plugin["status"] == "loaded", plugin["error"]
    assert plugin["distribution"] == "cadenza-legacy-agent"
    assert {"hook": "cadenza_agent_kinds", "name": "wordcount"} in plugin["registrations"]


def test_cadenza_run_uses_the_installed_kind(tmp_path):
    """`cadenza run --json` runs a wordcount step through the installed entry point."""
    (tmp_path / "workflow.yaml").write_text(WORKFLOW)
    done = cadenza_cli(
        "run", "--json", "--no-journal", "--no-progress", "workflow.yaml", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["steps"]["count"]["output"]["top"] == [["be", 2], ["to", 2]]


def test_cadenza_validate_reports_a_bad_option_with_its_line(tmp_path):
    """A misspelt option makes `cadenza validate` exit 2 with file:line and the right name."""
    (tmp_path / "workflow.yaml").write_text(WORKFLOW.replace("top: 2", "tpo: 2"))
    done = cadenza_cli("validate", "workflow.yaml", cwd=tmp_path)
    assert done.returncode == 2
    assert "workflow.yaml:5:" in done.stderr
    assert "unknown field 'tpo'" in done.stderr
    assert "Did you mean 'top'?" in done.stderr
    assert "Traceback" not in done.stderr

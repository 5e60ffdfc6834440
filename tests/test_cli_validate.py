"""``cadenza validate``: in-process with CliRunner, and end to end over the bad-input corpus."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
from click.testing import CliRunner

from cadenza._cli._common import CliState
from cadenza._cli._validate_cmd import validate
from cadenza._load._loader import check_workflow_file
from cadenza._plugins._registry import load_plugins

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
BAD = sorted((DATA / "bad").glob("*.yaml"))
SEED = ROOT / "examples" / "seed" / "ai_workflow_config.yaml"
SEED_ENV = {"OPENAI_API_KEY": "sk-cli-test-1111", "ASSET_OPTIMIZER_KEY": "ao-cli-test-2222"}


def invoke(*args: str, env: Mapping[str, str | None] | None = None) -> tuple[int, str, str]:
    """Run the validate command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(validate, list(args), obj=state, env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def expectation(path: Path) -> tuple[int, str]:
    """The ``# expect: LINE`` of a corpus file, and its ``# command:`` (default validate)."""
    text = path.read_text(encoding="utf-8")
    line = re.search(r"^# expect: (\d+)$", text, re.MULTILINE)
    assert line is not None, f"{path.name} has no '# expect: LINE' comment"
    command = re.search(r"^# command: (\w+)$", text, re.MULTILINE)
    return int(line.group(1)), command.group(1) if command else "validate"


def test_corpus_is_big_enough() -> None:
    """The bad-input corpus has at least 18 files, each with an expected line."""
    assert len(BAD) >= 18
    for path in BAD:
        expectation(path)


def test_valid_file_prints_ok_and_warnings() -> None:
    """A valid file exits 0 with a one-line summary; warnings go to stderr."""
    code, out, err = invoke(str(SEED), env=SEED_ENV)
    assert code == 0
    assert out == f"{SEED}: ok (workflow unity_feature_development: 4 steps, 2 agents)\n"
    assert err.count("warning:") == 2
    assert "no configured agent serves 'documentation'" in err


def test_unset_secrets_are_warnings_for_the_linter() -> None:
    """Validating the seed file needs no secrets: unset variables are warnings and it exits 0."""
    code, out, err = invoke(str(SEED), env={name: None for name in SEED_ENV})
    assert code == 0
    assert out.startswith(f"{SEED}: ok")
    assert (
        f"{SEED}:6:14: warning: agents[0].api_key: environment variable OPENAI_API_KEY is not "
        "set (cadenza run will need it)\n  export OPENAI_API_KEY=..."
    ) in err
    assert f"{SEED}:12:14: warning: agents[1].api_key:" in err
    assert "very-secret-token" not in err


def test_invalid_file_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    """An invalid file exits 2 with file:line:col: path: message and an indented hint."""
    path = tmp_path / "wf.yaml"
    path.write_text(
        "agents:\n  t: {kind: template}\nsteps:\n  a: {uses: t, needs: [b]}\n  c: {uses: nobody}\n",
        encoding="utf-8",
    )
    code, out, err = invoke(str(path))
    assert code == 2
    assert out == ""
    assert f"{path}:4:24: steps.a.needs[0]: unknown step 'b'" in err
    assert f"{path}:5:13: steps.c.uses:" in err
    assert err.endswith(f"{path}: invalid (2 errors)\n")


def test_run_refuses_unset_secrets_before_anything_starts(tmp_path: Path) -> None:
    """`cadenza run` of the seed file with its variables unset exits 2 and journals nothing."""
    env = {k: v for k, v in os.environ.items() if k not in SEED_ENV}
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "run", str(SEED), "--no-progress"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{SEED}:6:14: agents[0].api_key: environment variable OPENAI_API_KEY is not set" in (
        proc.stderr
    )
    assert "warning:" not in proc.stderr.split("OPENAI_API_KEY")[0]
    assert not (tmp_path / ".cadenza").exists()


def test_json_output() -> None:
    """--json prints valid, the workflows and every problem as data."""
    code, out, _ = invoke("--json", str(SEED), env=SEED_ENV)
    assert code == 0
    data = json.loads(out)
    assert data["valid"] is True
    assert data["workflows"] == [
        {
            "name": "unity_feature_development",
            "steps": 4,
            "agents": 2,
            "executors": {"unity_code_generator": "local", "unity_asset_optimizer": "local"},
        }
    ]
    assert [p["severity"] for p in data["problems"]] == ["warning", "warning"]
    assert data["problems"][0] == {
        "severity": "warning",
        "file": str(SEED),
        "line": 36,
        "column": 21,
        "path": "workflows.unity_feature_development.steps[2].agent_type",
        "message": "no configured agent serves 'documentation', so step "
        "'generate_documentation' will fail when it runs",
        "hint": "Add an agent with type: documentation under agents:.",
    }


def test_json_output_for_invalid_file_exits_2() -> None:
    """--json on an invalid file still prints JSON, with valid false, and exits 2."""
    code, out, _ = invoke("--json", str(DATA / "bad" / "cycle.yaml"))
    assert code == 2
    data = json.loads(out)
    assert data["valid"] is False
    assert data["problems"][0]["message"] == "steps form a cycle: a -> c -> b -> a"


def test_several_workflows_are_all_checked() -> None:
    """Without --workflow, every workflow of a seed file is checked and summarised."""
    code, out, _ = invoke(str(DATA / "workflows" / "two_workflows.yaml"))
    assert code == 0
    assert "(workflow build: 2 steps, 1 agent; workflow release: 1 step, 1 agent)" in out
    code, out, _ = invoke("--workflow", "release", str(DATA / "workflows" / "two_workflows.yaml"))
    assert code == 0
    assert "(workflow release: 1 step, 1 agent)" in out


def test_missing_file() -> None:
    """A file that does not exist is a clear error with exit code 2."""
    code, _, err = invoke(str(DATA / "nope.yaml"))
    assert code == 2
    assert "cannot read workflow file" in err
    assert "no such file" in err


def test_secrets_do_not_leak_into_output(tmp_path: Path) -> None:
    """A secret that ends up in a problem message is printed as ***."""
    path = tmp_path / "wf.yaml"
    path.write_text(
        "agents:\n  h: {kind: http, options: {endpoint: 'https://x', timeout: '${TOKEN}'}}\n"
        "steps: {s: {uses: h}}\n"
    )
    code, _, err = invoke(str(path), env={"TOKEN": "very-secret-token"})
    assert code == 2
    assert "very-secret-token" not in err
    assert "'***'" in err


@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_corpus_in_process(path: Path) -> None:
    """Each corpus file is invalid (or needs --workflow) with an error on its expected line."""
    line, command = expectation(path)
    plugins = load_plugins(entry_points=False)
    report = check_workflow_file(path, plugins=plugins, environ={})
    lines = [p.location.line for p in report.problems if p.location and p.severity == "error"]
    if command == "validate":
        assert not report.valid
        assert line in lines, "\n".join(p.render() for p in report.problems)


@pytest.mark.slow
@pytest.mark.parametrize("path", BAD, ids=[p.name for p in BAD])
def test_bad_corpus_end_to_end(path: Path) -> None:
    """`python -m cadenza validate` (or graph) exits 2, names file:LINE, and shows no traceback."""
    line, command = expectation(path)
    env = {k: v for k, v in os.environ.items() if k != "CADENZA_TEST_SURELY_UNSET_VARIABLE"}
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", command, str(path)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    assert f"{path}:{line}:" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert "internal error" not in proc.stderr

"""``cadenza simulate``: the real scheduler on a virtual clock with modelled agents."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import trio
from click.testing import CliRunner

from cadenza._cli._simulate_cmd import simulate_cmd
from cadenza._errors import WorkflowError
from cadenza._insight._sim_model_file import parse_model_text
from cadenza._insight._sim_resolve import learn_models, resolve_models
from cadenza._insight._simulate import SimulationReport, simulate
from cadenza._journal._sqlite import SqliteStore
from cadenza._load._loader import load_workflow_text
from cadenza._plugins._registry import Plugins, load_plugins
from cadenza._resilience._ratelimit import estimate_tokens
from cadenza._scheduler._runner import run_workflow
from cadenza._spec._cost import Price
from cadenza._spec._workflow import Workflow


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return load_plugins(entry_points=False)


def load(text: str, plugins: Plugins) -> Workflow:
    return load_workflow_text(textwrap.dedent(text), plugins=plugins, filename="wf.yaml").workflow


def run_sim(wf: Workflow, plugins: Plugins, model: str, **kwargs: Any) -> SimulationReport:
    models, notes = resolve_models(wf, model_file=parse_model_text(textwrap.dedent(model)))
    return simulate(wf, plugins=plugins, models=models, notes=notes, **kwargs)


LIMITS = """
    concurrency: 2
    agents:
      fast: {kind: template, options: {output: x}}
      solo: {kind: template, max_concurrent: 1, options: {output: x}}
      chain: {kind: template, options: {output: x}}
    steps:
      a: {uses: fast}
      b: {uses: solo, needs: [a]}
      c: {uses: solo, needs: [a], priority: 1}
      d: {uses: fast, needs: [b, c]}
      e1: {uses: chain}
      e2: {uses: chain, needs: [e1]}
      e3: {uses: chain, needs: [e2]}
      f: {uses: fast, needs: [e3]}
"""
FIXED = """
    fast: {latency: 1s}
    solo: {latency: 2s}
    chain: {latency: 1.75s}
"""


def path_of(report: SimulationReport) -> list[str]:
    return [p.step_id for p in report.critical_path]


def test_fixed_latencies_give_the_exact_makespan_and_critical_path(plugins: Plugins) -> None:
    """Diamond through a max_concurrent 1 agent, plus a chain, under concurrency 2.

    By hand: a 0-1, e1 0-1.75; c (priority 1) 1-3 on solo, e2 1.75-3.5; b waits
    for solo, 3-5; e3 3.5-5.25; d 5-6; f 5.25-6.25. Makespan 6.25 through the chain.
    """
    report = run_sim(load(LIMITS, plugins), plugins, FIXED)
    assert report.runs == 1  # every model is fixed: one run says it all
    assert report.makespan["median"] == 6.25
    assert path_of(report) == ["e1", "e2", "e3", "f"]
    assert (report.steps["c"].start, report.steps["c"].end) == (1.0, 3.0)
    assert (report.steps["b"].start, report.steps["b"].end) == (3.0, 5.0)
    assert report.steps["d"].end == 6.0


def test_concurrency_and_priorities_shape_the_critical_path(plugins: Plugins) -> None:
    """A low-priority root starved by concurrency 2 starts last, at 6, and ends the run at 7."""
    wf = load(LIMITS + "      g: {uses: fast, priority: -1}\n", plugins)
    report = run_sim(wf, plugins, FIXED)
    assert report.makespan["median"] == 7.0
    assert [(p.step_id, p.start, p.waited) for p in report.critical_path] == [("g", 6.0, 6.0)]


def test_a_waiting_step_shows_on_the_critical_path(plugins: Plugins) -> None:
    """With a slow solo agent the diamond is critical; b waited 3s for the solo slot."""
    report = run_sim(
        load(LIMITS, plugins), plugins, FIXED.replace("solo: {latency: 2s}", "solo: {latency: 3s}")
    )
    # a 0-1, c 1-4, b 4-7, d 7-8
    assert report.makespan["median"] == 8.0
    assert path_of(report) == ["a", "b", "d"]
    assert report.critical_path[1].waited == 3.0


DIAMOND = """
    agents:
      u: {kind: template, options: {output: x}}
    steps:
      a: {uses: u}
      b: {uses: u, needs: [a]}
      c: {uses: u, needs: [a]}
      d: {uses: u, needs: [b, c]}
"""


def test_random_latencies_predict_the_expected_makespan(plugins: Plugins) -> None:
    """Uniform 1..3s calls: E[makespan] = E[a] + E[max(b, c)] + E[d] = 2 + 7/3 + 2.

    The prediction's mean over 200 runs is within 5% of it (its standard error is ~1%).
    """
    report = run_sim(
        load(DIAMOND, plugins),
        plugins,
        "u: {latency: {distribution: uniform, min: 1s, max: 3s}}",
        runs=200,
    )
    expected = 2 + 7 / 3 + 2
    assert report.runs == 200
    assert abs(report.makespan["mean"] - expected) / expected < 0.05
    assert 3.0 <= report.makespan["min"] <= report.makespan["median"] <= report.makespan["p95"]
    assert report.makespan["p95"] <= 9.0


def test_defaults_to_20_runs_and_is_reproducible_by_seed(plugins: Plugins) -> None:
    wf = load(DIAMOND, plugins)
    model = "u: {latency: {distribution: lognormal, median: 10s, p95: 30s}}"
    first = run_sim(wf, plugins, model, seed=3)
    again = run_sim(wf, plugins, model, seed=3)
    other = run_sim(wf, plugins, model, seed=4)
    assert first.runs == 20
    assert first.makespans == again.makespans
    assert first.makespans != other.makespans


def test_failures_and_retries_lengthen_the_makespan(plugins: Plugins) -> None:
    """A 50% failure rate with a 5s backoff: more attempts, a longer run, same outcome."""
    wf = load(
        """
        defaults:
          retry: {max_attempts: 20, backoff: 5s, multiplier: 1, jitter: none}
        agents:
          u: {kind: template, options: {output: x}}
        steps:
          a: {uses: u}
          b: {uses: u, needs: [a]}
        """,
        plugins,
    )
    calm = run_sim(wf, plugins, "u: {latency: 1s}")
    flaky = run_sim(wf, plugins, "u: {latency: 1s, failure_rate: 0.5}", runs=100)
    assert calm.makespan["median"] == 2.0
    assert flaky.statuses == {"succeeded": 100}
    # Each step: 2 attempts on average, so 1 failure (1s + 5s backoff) on average.
    assert flaky.steps["a"].attempts == pytest.approx(2.0, rel=0.25)
    assert flaky.makespan["mean"] == pytest.approx(2.0 + 2 * 6.0, rel=0.2)
    assert any("failure rate 0.5 (model file)" in a for a in flaky.assumptions)


def test_thousands_of_steps_over_hours_simulate_quickly(plugins: Plugins) -> None:
    """20 chains of 100 steps at 40s a call: over an hour of virtual time (wall time reported)."""
    lines = [
        "concurrency: 16",
        "agents:",
        "  slow: {kind: template, options: {output: x}}",
        "steps:",
    ]
    for chain in range(20):
        for i in range(100):
            needs = f", needs: [c{chain}s{i - 1}]" if i else ""
            lines.append(f"  c{chain}s{i}: {{uses: slow{needs}}}")
    wf = load_workflow_text("\n".join(lines) + "\n", plugins=plugins).workflow
    report = run_sim(wf, plugins, "slow: {latency: 40s}")
    assert len(wf.steps) == 2000
    assert report.makespan["median"] > 3600
    assert len(report.critical_path) >= 100
    assert report.wall_time > 0
    print(
        f"2,000 steps, {report.makespan['median'] / 3600:.2f}h simulated in {report.wall_time:.3f}s"
    )


def test_every_parameter_says_where_it_came_from(plugins: Plugins) -> None:
    wf = load(
        """
        agents:
          u: {kind: template, options: {output: x}}
          v: {kind: template, options: {output: x}}
        steps:
          a: {uses: u, with: {n: 1}}
          b: {uses: v, needs: [a], when: "steps.a.output == 'x'"}
        """,
        plugins,
    )
    report = run_sim(
        wf,
        plugins,
        """
        "*": {latency: 3s, output_tokens: 100}
        u: {latency: 2s, price: {per_call: 0.5}}
        ghost: {latency: 1s}
        """,
    )
    assert report.makespan["median"] == 5.0
    assert report.cost_usd["median"] == 0.5
    notes = "\n".join(report.assumptions)
    assert "agent u: latency 2s fixed (model file)" in notes
    assert "agent v: latency 3s fixed (model file (*))" in notes
    assert "failure rate 0 (default)" in notes
    assert "'ghost' matches no agent" in notes
    assert "step b: assumed when:" in notes


PRICED = """
    inputs:
      doc: {default: ""}
    agents:
      w:
        kind: template
        options: {output: x}
        price:
          {input_per_1k: 0.003, output_per_1k: 0.02, per_call: 0.001, expected_output_tokens: 500}
    steps:
      a: {uses: w, with: {text: "0123456789012345678901234567890123456789"}}
      b: {uses: w, needs: [a], with: {text: "${{ inputs.doc }}"}}
"""


def test_the_cost_without_a_model_is_the_declared_price_times_the_estimated_tokens(
    plugins: Plugins,
) -> None:
    """Each call costs per_call plus its estimated input and expected output tokens at the price.

    a's with: is 51 characters of JSON, 13 tokens; b's renders inputs.doc (400
    characters), 103 tokens. Both produce the agent's expected_output_tokens, 500.
    """
    wf = load(PRICED, plugins)
    models, _ = resolve_models(wf)
    report = simulate(wf, plugins=plugins, models=models, inputs={"doc": "y" * 400})
    assert estimate_tokens({"text": "0123456789" * 4}) == 13
    assert estimate_tokens({"text": "y" * 400}) == 103
    per_call, per_in, per_out = 0.001, 0.003 / 1000, 0.02 / 1000
    expected = (per_call + 13 * per_in + 500 * per_out) + (per_call + 103 * per_in + 500 * per_out)
    assert report.cost_usd["median"] == pytest.approx(expected)
    assert report.tokens == (13 + 500 + 103 + 500,)
    # What a real run reserves for the same calls, before they run:
    price = wf.agents["w"].price
    assert price is not None
    assert expected == pytest.approx(price.estimate(13) + price.estimate(103))
    notes = "\n".join(report.assumptions)
    assert "input tokens estimated from with:" in notes
    assert "output tokens 500 (expected_output_tokens of the workflow price)" in notes
    assert "price $0.003/1k in, $0.02/1k out, $0.001/call (workflow)" in notes


def test_a_budget_refuses_calls_in_the_simulation_as_in_a_real_run(plugins: Plugins) -> None:
    """A run budget of $0.015 fits one $0.011 call, not two: b is refused, as a real run would."""
    wf = load(PRICED + "    budget: {usd: 0.015}\n", plugins)
    models, _ = resolve_models(wf)
    report = simulate(wf, plugins=plugins, models=models, inputs={"doc": ""})
    assert report.statuses == {"failed": 1}
    assert report.steps["a"].status == "succeeded"
    assert report.steps["b"].status == "failed"


def test_a_model_price_keeps_the_declared_expected_output_tokens(plugins: Plugins) -> None:
    """A model file's price replaces the money fields; what calls reserve stays as declared."""
    wf = load(PRICED, plugins)
    models, _ = resolve_models(wf, model_file=parse_model_text("w: {price: {output_per_1k: 0.01}}"))
    model = models["w"]
    assert model.price == Price(output_per_1k=0.01, expected_output_tokens=500)
    assert model.output_tokens == 500
    assert model.origins["output_tokens"] == "expected_output_tokens of the model file price"
    models, _ = resolve_models(
        wf,
        model_file=parse_model_text(
            "w: {price: {output_per_1k: 0.01, expected_output_tokens: 50}, output_tokens: 70}"
        ),
    )
    assert models["w"].price == Price(output_per_1k=0.01, expected_output_tokens=50)
    assert models["w"].output_tokens == 70


def test_an_unpriced_agent_uses_what_a_real_run_reserves(plugins: Plugins) -> None:
    """Without a price, calls produce the 256 output tokens a run reserves for them, at no cost."""
    wf = load(DIAMOND, plugins)
    models, _ = resolve_models(wf)
    assert models["u"].price is None
    assert models["u"].output_tokens == 256
    assert models["u"].origins["output_tokens"] == "default"
    report = simulate(wf, plugins=plugins, models=models)
    assert report.cost_usd["median"] == 0.0
    assert report.tokens == (4 * (estimate_tokens({}) + 256),)


def test_a_bad_model_price_is_reported_with_its_line() -> None:
    with pytest.raises(WorkflowError) as caught:
        parse_model_text("w:\n  price: {expected_output_tokens: -1, per_call: 0.1}\n")
    assert "<model>:2:" in str(caught.value)
    assert "expected_output_tokens: expected a whole number >= 0, got -1" in str(caught.value)


async def test_learn_picks_up_the_observed_latency(tmp_path: Path, plugins: Plugins) -> None:
    """Two real runs of a 50ms agent journaled; --learn models it at about 50ms."""
    wf = load(
        """
        agents:
          t: {kind: template, options: {output: hi, delay: 50ms}}
        steps:
          a: {uses: t}
          b: {uses: t, needs: [a]}
        """,
        plugins,
    )
    store = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    try:
        for _ in range(2):
            result = await run_workflow(wf, plugins=plugins, store=store)
            assert result.status == "succeeded"
        learned = await trio.to_thread.run_sync(learn_models, store, wf)
    finally:
        store.close()
    assert learned["t"].calls == 4
    assert learned["t"].failures == 0
    assert all(0.04 <= s < 0.5 for s in learned["t"].latencies)
    models, _ = resolve_models(wf, learned=learned)
    assert models["t"].origins["latency"] == "learned from 4 calls"
    assert models["t"].latency.distribution == "empirical"
    report = await trio.to_thread.run_sync(
        lambda: simulate(wf, plugins=plugins, models=models, runs=10)
    )
    assert 0.08 <= report.makespan["median"] < 1.0
    assert statistics.median(learned["t"].latencies) == pytest.approx(0.05, abs=0.05)


# -- the command -------------------------------------------------------------------


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


NETWORK = """
    agents:
      remote: {kind: http, options: {endpoint: "http://192.0.2.1:9/never"}}
      fast: {kind: template, options: {output: x}}
    steps:
      a: {uses: remote}
      b: {uses: fast, needs: [a]}
"""


def test_cli_text_never_calls_the_real_agent(tmp_path: Path) -> None:
    """An http agent at an unroutable address: simulated, never called."""
    wf = write(tmp_path, "wf.yaml", NETWORK)
    model = write(tmp_path, "model.yaml", "remote: {latency: 2h}\n")
    result = CliRunner().invoke(simulate_cmd, [str(wf), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert "makespan  2h (7201.000s)" in result.output
    assert "agent remote: latency 2h fixed (model file)" in result.output
    assert "agent fast: latency 1s fixed (default)" in result.output
    assert "simulated in" in result.output


def test_cli_json(tmp_path: Path) -> None:
    wf = write(tmp_path, "wf.yaml", NETWORK)
    model = write(
        tmp_path,
        "model.yaml",
        "'*': {latency: {distribution: exponential, mean: 10s}, failure_rate: 0.1}\n",
    )
    result = CliRunner().invoke(
        simulate_cmd, [str(wf), "--model", str(model), "--json", "--runs", "5", "--seed", "7"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["runs"] == 5
    assert data["seed"] == 7
    assert set(data["makespan"]) == {"min", "median", "mean", "p95", "max"}
    assert [p["step_id"] for p in data["critical_path"]] == ["a", "b"]
    assert data["agents"]["remote"]["origins"]["latency"] == "model file (*)"
    assert data["wall_time"] >= 0


def test_cli_bad_model_file_exits_2_with_its_line(tmp_path: Path) -> None:
    wf = write(tmp_path, "wf.yaml", NETWORK)
    model = write(
        tmp_path,
        "model.yaml",
        """
        fast: {latency: 1s}
        remote:
          latency: {distribution: gamma, mean: 3s}
          failure_rate: 1.5
          colour: red
        """,
    )
    result = CliRunner().invoke(simulate_cmd, [str(wf), "--model", str(model)])
    assert result.exit_code == 2
    assert f"{model}:4:" in result.output
    assert "unknown distribution 'gamma'" in result.output
    assert f"{model}:5:" in result.output
    assert "unknown parameter 'colour'" in result.output


def test_cli_model_file_that_is_a_pipe_is_refused(tmp_path: Path) -> None:
    """A model file is read like a workflow: a FIFO is refused at once, not waited on."""
    wf = write(tmp_path, "wf.yaml", NETWORK)
    model = tmp_path / "model.yaml"
    os.mkfifo(model)
    result = CliRunner().invoke(simulate_cmd, [str(wf), "--model", str(model)])
    assert result.exit_code == 2
    assert f"cannot read model file {str(model)!r}: it is not a regular file" in result.output


def test_cli_needs_no_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No agent is called, so an unset ${NAME} is a warning and the simulation runs."""
    monkeypatch.delenv("CADENZA_TEST_SIM_KEY", raising=False)
    wf = write(
        tmp_path,
        "wf.yaml",
        """
        agents:
          remote:
            kind: http
            options: {endpoint: "http://192.0.2.1:9/never", api_key: "${CADENZA_TEST_SIM_KEY}"}
        steps:
          a: {uses: remote}
        """,
    )
    result = CliRunner().invoke(simulate_cmd, [str(wf)])
    assert result.exit_code == 0, result.output
    assert "environment variable CADENZA_TEST_SIM_KEY is not set" in result.output


def test_cli_set_values_must_fit_the_input_type(tmp_path: Path) -> None:
    """simulate checks --set against the input's default as run does: exit 2, nothing simulated."""
    wf = write(
        tmp_path,
        "wf.yaml",
        """
        inputs: {publish: false}
        agents:
          fast: {kind: template, options: {output: x}}
        steps:
          a: {uses: fast, when: "inputs.publish"}
        """,
    )
    result = CliRunner().invoke(simulate_cmd, [str(wf), "--set", "publish=1"])
    assert result.exit_code == 2
    assert "input 'publish' is a boolean (its default is false), but the value '1'" in (
        result.output
    )
    assert "makespan" not in result.output


def test_cli_learn_without_a_journal_says_so(tmp_path: Path) -> None:
    wf = write(tmp_path, "wf.yaml", NETWORK)
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(simulate_cmd, [str(wf), "--learn", "--store", url])
    assert result.exit_code == 0, result.output
    assert "--learn: no journal at" in result.output
    assert not (tmp_path / "none.db").exists()


RUNAWAY = """
    inputs:
      xs: {default: [HUNDRED]}
    agents:
      t: {kind: template, options: {output: x}}
    steps:
      spin: {uses: t, when: "NESTED"}
      other: {uses: t}
""".replace("HUNDRED", ", ".join(str(i) for i in range(100)))


@pytest.mark.slow
def test_cli_simulate_ends_on_a_runaway_when(tmp_path: Path) -> None:
    """Three nested maps over 100 inputs in a when: stop at the evaluation limit; simulate ends."""
    nested = "inputs.xs.map(a, inputs.xs.map(b, inputs.xs.map(c, a + b + c))).size() > 0"
    wf = write(tmp_path, "wf.yaml", RUNAWAY.replace("NESTED", nested))
    proc = subprocess.run(
        [sys.executable, "-m", "cadenza", "simulate", str(wf)],
        cwd=tmp_path,
        env={**os.environ},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "runs      1 succeeded" in proc.stdout
    assert "step spin: assumed when:" in proc.stdout
    assert "evaluation stopped at the limit of 50,000 steps" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_sub_workflows_and_for_each_are_simulated(tmp_path: Path) -> None:
    """A sub-workflow's agents get models too, and a mapped step's items respect max_parallel."""
    (tmp_path / "child.yaml").write_text(
        "name: child\nagents: {w: {kind: template}}\n"
        "steps:\n  a: {uses: w}\n  b: {uses: w, needs: [a]}\n"
    )
    (tmp_path / "main.yaml").write_text(
        "name: main\ninputs: {files: {default: [x, y, z]}}\nagents: {t: {kind: template}}\n"
        "steps:\n  one: {uses: t}\n"
        "  sub: {needs: [one], workflow: child.yaml}\n"
        '  many: {needs: [sub], for_each: "${{ inputs.files }}", max_parallel: 2, uses: t,'
        ' with: {f: "${{ item }}"}}\n'
    )
    plugins = load_plugins(entry_points=False)
    from cadenza._load._loader import load_workflow

    workflow = load_workflow(tmp_path / "main.yaml", plugins=plugins).workflow
    models, _notes = resolve_models(workflow)
    assert set(models) == {"t", "w"}
    report = simulate(workflow, plugins=plugins, models=models, inputs={"files": ["x", "y", "z"]})
    # one (1 s), the child's a then b (2 s), three items two at a time (2 s): 5 s.
    assert report.makespans == (pytest.approx(5.0),)
    assert report.statuses == {"succeeded": 1}

"""Step output caching: the ``cache:`` key in workflow files, and reuse across journaled runs."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import cadenza
import cadenza._scheduler._cache
import cadenza.store
from cadenza import CachePolicy, RunResult
from cadenza._plugins._registry import load_plugins
from cadenza._scheduler._cache import cache_key
from cadenza._spec._workflow import AgentConfig
from cadenza.events import Event
from cadenza.store import SqliteStore, WriteBatch
from cadenza.testing import ScriptedAgent, scripted_agent_kind

from .loader_helpers import errors, load

# -- the cache: key in the native format ------------------------------------------


def cache_of(step_yaml: str) -> CachePolicy | None:
    """The cache policy of step ``s`` written as ``{uses: a, <step_yaml>}``."""
    extra = f", {step_yaml}" if step_yaml else ""
    return (
        load(f"agents: {{a: {{kind: docgen}}}}\nsteps: {{s: {{uses: a{extra}}}}}\n")
        .workflow.steps["s"]
        .cache
    )


def test_cache_true_caches_without_a_ttl() -> None:
    """``cache: true`` reuses outputs of any age."""
    assert cache_of("cache: true") == CachePolicy(ttl=None)


@pytest.mark.parametrize("step_yaml", ["", "cache: false", "cache: null"])
def test_cache_false_null_or_absent_is_no_cache(step_yaml: str) -> None:
    """Without ``cache:``, or with false or null, the step is not cached."""
    assert cache_of(step_yaml) is None


@pytest.mark.parametrize(
    ("ttl", "seconds"), [("1h", 3600.0), ("1h30m", 5400.0), ("90", 90.0), ("2.5", 2.5)]
)
def test_cache_ttl_is_a_duration(ttl: str, seconds: float) -> None:
    """``cache: {ttl: ...}`` takes a duration, as a string with units or a number of seconds."""
    assert cache_of(f"cache: {{ttl: {ttl}}}") == CachePolicy(ttl=seconds)


@pytest.mark.parametrize("step_yaml", ["cache: {}", "cache: {ttl: null}"])
def test_cache_mapping_without_ttl_caches_without_a_ttl(step_yaml: str) -> None:
    """An empty mapping, or ``ttl: null``, caches with no age limit."""
    assert cache_of(step_yaml) == CachePolicy(ttl=None)


def test_defaults_cache_applies_to_steps_without_their_own() -> None:
    """``defaults.cache`` is every step's policy unless the step sets ``cache:``."""
    workflow = load(
        """\
        defaults: {cache: {ttl: 1d}}
        agents: {a: {kind: docgen}}
        steps:
          inherits: {uses: a}
          forever: {uses: a, cache: true}
          shorter: {uses: a, cache: {ttl: 5m}}
          never: {uses: a, cache: false}
        """
    ).workflow
    policies = {sid: step.cache for sid, step in workflow.steps.items()}
    assert policies == {
        "inherits": CachePolicy(ttl=86400.0),
        "forever": CachePolicy(ttl=None),
        "shorter": CachePolicy(ttl=300.0),
        "never": None,
    }


@pytest.mark.parametrize(
    ("value", "path", "message", "hint"),
    [
        (
            "'yes please'",
            "steps.s.cache",
            "cache must be true, false or a mapping, got a string 'yes please'",
            "cache: {ttl: 1h}",
        ),
        (
            "3",
            "steps.s.cache",
            "cache must be true, false or a mapping, got an integer 3",
            "cache: true",
        ),
        ("[ttl]", "steps.s.cache", "cache must be true, false or a mapping, got a list", ""),
        ("{tll: 1h}", "steps.s.cache.tll", "unknown key 'tll' in cache", "Did you mean 'ttl'?"),
        ("{ttl: 0}", "steps.s.cache.ttl", "ttl must be greater than 0, got 0", "30s"),
        ("{ttl: soon}", "steps.s.cache.ttl", "expected a duration like 30s", "1m30s"),
        ("{ttl: -5}", "steps.s.cache.ttl", "a duration cannot be negative, got -5", ""),
        ("{ttl: 1h, max: 3}", "steps.s.cache.max", "unknown key 'max' in cache", "ttl"),
    ],
)
def test_bad_cache_values_are_problems_with_path_and_hint(
    value: str, path: str, message: str, hint: str
) -> None:
    """A wrong ``cache:`` is one error at its path, saying what was wrong and how to write it."""
    found = errors(f"agents: {{a: {{kind: docgen}}}}\nsteps: {{s: {{uses: a, cache: {value}}}}}\n")
    assert [p.path for p in found] == [path]
    assert message in found[0].message
    assert hint in found[0].hint
    assert found[0].location is not None


def test_bad_defaults_cache_is_a_problem_at_its_path() -> None:
    """A wrong ``defaults.cache`` is reported under ``defaults``."""
    found = errors(
        "defaults: {cache: {ttl: never}}\nagents: {a: {kind: docgen}}\nsteps: {s: {uses: a}}\n"
    )
    assert [p.path for p in found] == ["defaults.cache.ttl"]


def test_every_cache_problem_is_reported_at_once() -> None:
    """Bad ``cache:`` values in several steps are all reported, with other problems."""
    found = errors(
        """\
        agents: {a: {kind: docgen}}
        steps:
          one: {uses: a, cache: maybe}
          two: {uses: a, cache: {ttl: 0s}}
          three: {uses: a, timeout: soon}
        """
    )
    assert [p.path for p in found] == [
        "steps.one.cache",
        "steps.two.cache.ttl",
        "steps.three.timeout",
    ]


# -- the cache key ----------------------------------------------------------------


def make_config(**options: Any) -> AgentConfig:
    return AgentConfig(name="writer", kind="scripted", options=options)


def make_step(uses: str = "writer") -> cadenza.Step:
    workflow = cadenza.load_workflow_data(
        {
            "agents": {uses: {"kind": "template", "options": {"output": "x"}}},
            "steps": {"s": {"uses": uses}},
        },
        plugins=load_plugins(entry_points=False),
    ).workflow
    return workflow.steps["s"]


def test_cache_key_ignores_credential_options() -> None:
    """Options named like credentials leave the key unchanged (rotating a key keeps the cache)."""
    step = make_step()
    base = cache_key(make_config(model="m"), step, {"x": 1})
    for secret in ("api_key", "headers", "token", "password", "secret"):
        assert (
            cache_key(make_config(model="m", **{secret: "sk-rotated-1234"}), step, {"x": 1}) == base
        )


def test_env_values_in_other_options_are_part_of_the_key() -> None:
    """A ${ENV} value in a non-credential option (a model, an endpoint) changes the key.

    Such values are redacted from every output, but they define the work: two
    models must never share a cached answer.
    """
    step = make_step()
    first = AgentConfig(
        name="writer",
        kind="scripted",
        options={"model": "model-a-from-env"},
        secrets=frozenset({"model-a-from-env"}),
    )
    second = AgentConfig(
        name="writer",
        kind="scripted",
        options={"model": "model-b-from-env"},
        secrets=frozenset({"model-b-from-env"}),
    )
    assert cache_key(first, step, {"x": 1}) != cache_key(second, step, {"x": 1})


def test_cache_key_depends_on_kind_options_uses_and_inputs() -> None:
    """Changing the agent kind, an option, ``uses`` or an input changes the key."""
    step = make_step()
    config = make_config(model="m")
    base = cache_key(config, step, {"x": 1})
    other_kind = AgentConfig(name="writer", kind="other", options={"model": "m"})
    assert cache_key(other_kind, step, {"x": 1}) != base
    assert cache_key(make_config(model="n"), step, {"x": 1}) != base
    assert cache_key(config, make_step("editor"), {"x": 1}) != base
    assert cache_key(config, step, {"x": 2}) != base
    assert len(base) == 64
    assert int(base, 16) >= 0


# -- reuse across runs ------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    journal = SqliteStore(f"sqlite:///{tmp_path / 'journal.db'}")
    yield journal
    journal.close()


def echo_agent(name: str = "writer") -> ScriptedAgent:
    """An agent answering every call with its inputs and a call counter."""
    agent = ScriptedAgent(name)
    agent.script = lambda request: {"inputs": dict(request.inputs), "call": len(agent.calls)}
    return agent


WORKFLOW = """\
inputs: {topic: trio}
agents:
  writer: {kind: scripted, options: {model: small}}
steps:
  draft:
    uses: writer
    cache: {ttl: 1h}
    with: {topic: "${{ inputs.topic }}"}
"""


async def run(
    source: str,
    store: SqliteStore | None,
    *agents: ScriptedAgent,
    use_cache: bool = True,
    sets: Mapping[str, str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[RunResult, list[Event]]:
    """Load ``source`` with the scripted ``agents``, run it journaled in ``store``."""
    plugins = load_plugins(entry_points=False, extra=[scripted_agent_kind(*agents)])
    workflow = cadenza.load_workflow_text(
        textwrap.dedent(source), plugins=plugins, environ=environ or {}
    ).workflow
    events: list[Event] = []
    result = await cadenza.run_workflow(
        workflow,
        plugins=plugins,
        inputs=cadenza.resolve_inputs(workflow, sets or {}),
        observers=[events.append],
        store=store,
        use_cache=use_cache,
    )
    return result, events


def of_kind(events: list[Event], kind: str) -> list[Any]:
    return [e for e in events if e.kind == kind]


def journal_files_containing(directory: Path, text: str) -> list[str]:
    """Names of the files in ``directory`` (the journal, its WAL) whose bytes contain ``text``."""
    return [p.name for p in directory.iterdir() if text.encode() in p.read_bytes()]


def cache_rows(store: SqliteStore) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(store.path)
    try:
        return db.execute("SELECT * FROM cache").fetchall()
    finally:
        db.close()


async def test_second_run_reuses_the_output(store: SqliteStore) -> None:
    """A second identical run takes the output from the cache and does not call the agent."""
    agent = echo_agent()
    first, _ = await run(WORKFLOW, store, agent)
    second, events = await run(WORKFLOW, store, agent)
    assert len(agent.calls) == 1
    outcome = second.steps["draft"]
    assert outcome.status == "succeeded"
    assert outcome.output == first.steps["draft"].output == {"inputs": {"topic": "trio"}, "call": 1}
    assert outcome.agent == "cache"
    assert outcome.attempts == 0
    (hit,) = of_kind(events, "step_cache_hit")
    assert (hit.step_id, hit.source_run, hit.source_step) == ("draft", first.run_id, "draft")
    assert of_kind(events, "attempt_started") == []


async def test_cache_hit_is_journaled(store: SqliteStore) -> None:
    """The hit and the success it causes are in the second run's journal."""
    agent = echo_agent()
    first, _ = await run(WORKFLOW, store, agent)
    second, _ = await run(WORKFLOW, store, agent)
    journaled = store.read_events(second.run_id)
    hits = [e for e in journaled if e["kind"] == "step_cache_hit"]
    assert [(e["source_run"], e["source_step"]) for e in hits] == [(first.run_id, "draft")]
    (success,) = [e for e in journaled if e["kind"] == "step_succeeded"]
    assert success["agent"] == "cache"
    assert success["output"] == first.steps["draft"].output


async def test_cached_output_feeds_dependents(store: SqliteStore) -> None:
    """A step reusing a cached output releases its dependents with that output."""
    review = '{uses: writer, needs: [draft], with: {text: "${{ steps.draft.output.call }}"}}'
    source = WORKFLOW + f"  review: {review}\n"
    agent = echo_agent()
    await run(source, store, agent)
    second, _ = await run(source, store, agent)
    assert second.steps["draft"].agent == "cache"
    assert second.steps["review"].output["inputs"] == {"text": 1}


async def test_identical_work_in_another_step_reuses_the_output(store: SqliteStore) -> None:
    """The step id is not part of the key: an identical later step in the same run hits."""
    source = (
        WORKFLOW + "  again: {uses: writer, needs: [draft], cache: true, with: {topic: trio}}\n"
    )
    agent = echo_agent()
    result, events = await run(source, store, agent)
    assert len(agent.calls) == 1
    assert result.steps["again"].agent == "cache"
    (hit,) = of_kind(events, "step_cache_hit")
    assert (hit.source_run, hit.source_step) == (result.run_id, "draft")


async def test_different_inputs_miss(store: SqliteStore) -> None:
    """A run whose step inputs differ calls the agent and caches its own output."""
    agent = echo_agent()
    await run(WORKFLOW, store, agent)
    other, events = await run(WORKFLOW, store, agent, sets={"topic": "asyncio"})
    assert len(agent.calls) == 2
    assert other.steps["draft"].output == {"inputs": {"topic": "asyncio"}, "call": 2}
    assert of_kind(events, "step_cache_hit") == []
    assert len(cache_rows(store)) == 2


async def test_different_agent_options_miss(store: SqliteStore) -> None:
    """Changing an agent option (not a secret) calls the agent again."""
    agent = echo_agent()
    await run(WORKFLOW, store, agent)
    result, _ = await run(WORKFLOW.replace("model: small", "model: large"), store, agent)
    assert len(agent.calls) == 2
    assert result.steps["draft"].agent == "writer"


SECRET_WORKFLOW = WORKFLOW.replace(
    "options: {model: small}", 'options: {model: small, api_key: "${WRITER_KEY}"}'
)


async def test_rotating_the_api_key_keeps_the_cache(store: SqliteStore) -> None:
    """A run differing only in the agent's api_key reuses the output."""
    agent = echo_agent()
    await run(SECRET_WORKFLOW, store, agent, environ={"WRITER_KEY": "sk-first-key-1111"})
    result, _ = await run(
        SECRET_WORKFLOW, store, agent, environ={"WRITER_KEY": "sk-second-key-2222"}
    )
    assert len(agent.calls) == 1
    assert result.steps["draft"].agent == "cache"


async def test_stored_entry_holds_only_the_key_hash_and_the_output(
    store: SqliteStore, tmp_path: Path
) -> None:
    """The cache table keeps a SHA-256 key and the output; the secret is nowhere in the journal."""
    secret = "sk-never-stored-3333"
    agent = echo_agent()
    result, _ = await run(SECRET_WORKFLOW, store, agent, environ={"WRITER_KEY": secret})
    ((key, output, created_at, expires_at, run_id, step_id),) = cache_rows(store)
    assert len(key) == 64
    assert int(key, 16) >= 0
    assert json.loads(output) == result.steps["draft"].output
    assert expires_at == pytest.approx(created_at + 3600)
    assert (run_id, step_id) == (result.run_id, "draft")
    assert journal_files_containing(tmp_path, secret) == []


class Clock:
    """A stand-in for the ``time`` module the cache reads wall-clock time from."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock(1_000_000.0)
    monkeypatch.setattr(cadenza._scheduler._cache, "time", types.SimpleNamespace(time=fake.time))
    return fake


async def test_ttl_expiry_misses(store: SqliteStore, clock: Clock) -> None:
    """An output older than the ttl is not reused; the new output replaces it."""
    agent = echo_agent()
    first, _ = await run(WORKFLOW, store, agent)
    clock.now += 3599
    _, events = await run(WORKFLOW, store, agent)
    assert len(agent.calls) == 1
    assert of_kind(events, "step_cache_hit")
    clock.now += 2
    third, events = await run(WORKFLOW, store, agent)
    assert len(agent.calls) == 2
    assert third.steps["draft"].agent == "writer"
    assert of_kind(events, "step_cache_hit") == []
    ((_, _, created_at, expires_at, run_id, _),) = cache_rows(store)
    assert (created_at, expires_at, run_id) == (clock.now, clock.now + 3600, third.run_id)
    assert first.run_id != third.run_id


async def test_entry_without_ttl_never_expires(store: SqliteStore, clock: Clock) -> None:
    """With ``cache: true`` an output is reused however old it is."""
    source = WORKFLOW.replace("cache: {ttl: 1h}", "cache: true")
    agent = echo_agent()
    await run(source, store, agent)
    clock.now += 10 * 365 * 86400
    result, _ = await run(source, store, agent)
    assert len(agent.calls) == 1
    assert result.steps["draft"].agent == "cache"


async def test_expired_entry_written_earlier_is_not_used(store: SqliteStore) -> None:
    """An entry whose expiry has passed, however it got there, is a miss."""
    agent = echo_agent()
    first, _ = await run(WORKFLOW, store, agent)
    ((key, *_),) = cache_rows(store)
    stale = cadenza.store.CacheEntry(key=key, output="stale", created_at=1.0, expires_at=2.0)
    store.write(WriteBatch(cache=[stale]))
    result, _ = await run(WORKFLOW, store, agent)
    assert len(agent.calls) == 2
    assert result.steps["draft"].output == {"inputs": {"topic": "trio"}, "call": 2}
    assert first.steps["draft"].output != "stale"


async def test_use_cache_false_neither_reads_nor_writes(store: SqliteStore) -> None:
    """With ``use_cache=False`` the agent is called and no entry is read, added or refreshed."""
    agent = echo_agent()
    first, _ = await run(WORKFLOW, store, agent)
    before = cache_rows(store)
    bypass, events = await run(WORKFLOW, store, agent, use_cache=False)
    assert len(agent.calls) == 2
    assert bypass.steps["draft"].agent == "writer"
    assert of_kind(events, "step_cache_hit") == []
    assert cache_rows(store) == before
    await run(WORKFLOW, store, agent, use_cache=False, sets={"topic": "new"})
    assert cache_rows(store) == before
    assert before[0][4] == first.run_id


async def test_failed_step_writes_no_cache_entry(store: SqliteStore) -> None:
    """A step that fails leaves no entry, so the next run calls the agent again."""
    agent = ScriptedAgent("writer", [cadenza.PermanentError("bad prompt")], default="fine")
    failed, _ = await run(WORKFLOW, store, agent)
    assert failed.steps["draft"].status == "failed"
    assert cache_rows(store) == []
    result, _ = await run(WORKFLOW, store, agent)
    assert len(agent.calls) == 2
    assert result.steps["draft"].output == "fine"


async def test_step_without_cache_is_never_cached(store: SqliteStore) -> None:
    """A step without ``cache:`` writes no entry and calls its agent every run."""
    source = WORKFLOW.replace("    cache: {ttl: 1h}\n", "")
    agent = echo_agent()
    await run(source, store, agent)
    await run(source, store, agent)
    assert len(agent.calls) == 2
    assert cache_rows(store) == []


async def test_run_without_a_store_calls_the_agent() -> None:
    """Without a journal store there is no cache: ``cache:`` steps run every time."""
    agent = echo_agent()
    await run(WORKFLOW, None, agent)
    result, _ = await run(WORKFLOW, None, agent)
    assert len(agent.calls) == 2
    assert result.steps["draft"].agent == "writer"


# -- the command line -------------------------------------------------------------

COUNTER = """\
from pathlib import Path


def count(topic):
    calls = Path(__file__).with_name("calls.txt")
    n = int(calls.read_text()) + 1 if calls.exists() else 1
    calls.write_text(str(n))
    return {"topic": topic, "call": n}
"""


@pytest.mark.slow
def test_cli_no_cache_flag_calls_the_agent_again(tmp_path: Path) -> None:
    """``cadenza run`` reuses a cached output across processes; ``--no-cache`` calls the agent."""
    (tmp_path / "tasks.py").write_text(COUNTER)
    (tmp_path / "wf.yaml").write_text(
        textwrap.dedent(
            """\
            agents: {counter: {kind: python, options: {function: "tasks:count"}}}
            steps:
              count: {uses: counter, cache: true, with: {topic: trio}}
            """
        )
    )

    def cadenza_run(*flags: str) -> dict[str, Any]:
        proc = subprocess.run(
            [sys.executable, "-m", "cadenza", "run", "wf.yaml", "--json", "--no-progress", *flags],
            cwd=tmp_path,
            env={**os.environ, "CADENZA_LOAD_PLUGINS": ""},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, proc.stderr
        step: dict[str, Any] = json.loads(proc.stdout)["steps"]["count"]
        return step

    first = cadenza_run()
    cached = cadenza_run()
    fresh = cadenza_run("--no-cache")
    assert (first["agent"], first["output"]["call"]) == ("counter", 1)
    assert (cached["agent"], cached["output"]["call"]) == ("cache", 1)
    assert (fresh["agent"], fresh["output"]["call"]) == ("counter", 2)
    assert (tmp_path / "calls.txt").read_text() == "2"

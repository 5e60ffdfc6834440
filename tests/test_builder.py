"""cadenza.workflow: a workflow built in Python equals the one its YAML file loads."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest
import yaml

import cadenza
from cadenza._load._loader import load_workflow_text
from cadenza._load._native import _STEP_KEYS
from cadenza._plugins._registry import load_plugins

from .test_docs_examples import ENVIRON, Block, marked

PLUGINS = load_plugins(entry_points=False)


def from_yaml(text: str, base_dir: Path) -> cadenza.Workflow:
    return load_workflow_text(
        textwrap.dedent(text), plugins=PLUGINS, base_dir=base_dir, environ=ENVIRON
    ).workflow


def built(wf: cadenza.WorkflowBuilder) -> cadenza.Workflow:
    return wf.build(plugins=PLUGINS, environ=ENVIRON)


def test_the_issue_digest_example_equals_its_yaml(tmp_path: Path) -> None:
    """The issue's digest example, references and handles included, equals its YAML."""
    wf = cadenza.workflow("digest", base_dir=tmp_path)
    wf.agent("search", kind="template", options={"output": "news about {topic}"})
    wf.agent("write", kind="template", options={"output": "summary of {text}"})
    news = wf.step("news", uses="search", with_={"topic": wf.input("topic")})
    wf.step("summary", uses="write", needs=[news], with_={"text": news.output})
    expected = from_yaml(
        """
        name: digest
        inputs: {topic: null}
        agents:
          search: {kind: template, options: {output: "news about {topic}"}}
          write: {kind: template, options: {output: "summary of {text}"}}
        steps:
          news: {uses: search, with: {topic: "${{ inputs.topic }}"}}
          summary: {uses: write, needs: [news], with: {text: "${{ steps.news.output }}"}}
        """,
        tmp_path,
    )
    assert built(wf) == expected


def test_the_reference_example_equals_its_yaml(tmp_path: Path) -> None:
    """The complete example of docs/workflow-reference.md, written with the builder."""
    wf = cadenza.workflow(
        "release-notes",
        base_dir=tmp_path,
        description="Draft release notes and have a remote agent review them.",
        concurrency=8,
        fail_fast=False,
        defaults={
            "retry": {"max_attempts": 3, "backoff": "1s", "max_backoff": "30s"},
            "timeout": "2m",
        },
    )
    version = wf.input("version", "0.1.0")
    audience = wf.input("audience", "developers", description="Who the notes are for.")
    publish = wf.input("publish", required=True)
    changes = wf.agent("changes", kind="python", options={"function": "tasks:collect_changes"})
    wf.agent(
        "writer",
        kind="template",
        capabilities=["draft"],
        options={"output": "Cadenza {version} for {audience}: {summary}"},
    )
    wf.agent(
        "reviewer",
        {
            "kind": "http",
            "capabilities": ["review"],
            "max_concurrent": 2,
            "options": {
                "endpoint": "https://agents.example.com/v1/tasks",
                "api_key": "${REVIEW_API_KEY}",
                "timeout": "60s",
            },
        },
    )
    collect = wf.step("collect", uses=changes, priority=10, with_={"since": f"v{version}"})
    draft = wf.step(
        "draft",
        uses="draft",
        needs=collect,
        with_={
            "version": version,
            "audience": audience,
            "summary": collect.output.summary,
        },
    )
    wf.step(
        "review",
        uses="review",
        needs=[draft],
        when=publish,
        retry={"max_attempts": 5},
        timeout="5m",
        with_={"text": draft.output},
    )
    [block] = [
        b
        for b in marked("valid")
        if b.page == "workflow-reference.md" and "release-notes" in b.text
    ]
    assert built(wf) == from_yaml(block.text, tmp_path)
    changed = block.text.replace("  timeout: 2m\n", "  timeout: 3m\n", 1)
    assert built(wf) != from_yaml(changed, tmp_path)  # a real difference still counts


def test_routing_aggregation_and_fallbacks_equal_their_yaml(tmp_path: Path) -> None:
    """route, agents, aggregate, on_conflict, judge, validate, fallback, budget, cache."""
    wf = cadenza.workflow("review", base_dir=tmp_path, route="cheapest", budget={"usd": 2})
    question = wf.input("question", "Is trio good?")
    agents = [
        wf.agent(
            name,
            kind="template",
            capabilities=["answer"],
            price={"input_per_1k": 0.001 * (i + 1), "output_per_1k": 0.002},
            options={"output": "yes"},
        )
        for i, name in enumerate(["a", "b", "c"])
    ]
    backup = wf.agent("backup", kind="template", options={"output": "maybe"})
    wf.step(
        "ask",
        uses="answer",
        agents=agents,
        aggregate={"strategy": "majority_vote"},
        on_conflict="judge",
        judge=agents[0],
        validate=[{"validator": "required_keys", "keys": ["answer"]}],
        min_quality=0.5,
        fallback=[backup, "template"],
        budget={"usd": 1},
        cache={"ttl": "1h"},
        total_timeout="10m",
        if_needs_skipped="run",
        with_={"q": question, "history": [question, {"again": f"{question}?"}]},
    )
    wf.step("route", uses="answer", route={"strategy": "consistent_hash", "key": question})
    expected = from_yaml(
        """
        name: review
        route: cheapest
        budget: {usd: 2}
        inputs: {question: Is trio good?}
        agents:
          a: {kind: template, capabilities: [answer], price: {input_per_1k: 0.001, output_per_1k: 0.002}, options: {output: "yes"}}
          b: {kind: template, capabilities: [answer], price: {input_per_1k: 0.002, output_per_1k: 0.002}, options: {output: "yes"}}
          c: {kind: template, capabilities: [answer], price: {input_per_1k: 0.003, output_per_1k: 0.002}, options: {output: "yes"}}
          backup: {kind: template, options: {output: maybe}}
        steps:
          ask:
            uses: answer
            agents: [a, b, c]
            aggregate: {strategy: majority_vote}
            on_conflict: judge
            judge: a
            validate: [{validator: required_keys, keys: [answer]}]
            min_quality: 0.5
            fallback: [backup, template]
            budget: {usd: 1}
            cache: {ttl: 1h}
            total_timeout: 10m
            if_needs_skipped: run
            with:
              q: "${{ inputs.question }}"
              history: ["${{ inputs.question }}", {again: "${{ inputs.question }}?"}]
          route:
            uses: answer
            route: {strategy: consistent_hash, key: "${{ inputs.question }}"}
        """,  # noqa: E501
        tmp_path,
    )
    assert built(wf) == expected


def _rebuild(data: dict[str, Any], base_dir: Path) -> cadenza.WorkflowBuilder:
    """The builder calls that write ``data`` (a native-format mapping), section by section."""
    top = {k: v for k, v in data.items() if k not in ("name", "inputs", "agents", "steps")}
    wf = cadenza.workflow(data.get("name", "workflow"), base_dir=base_dir, **top)
    for name, spec in (data.get("inputs") or {}).items():
        long = isinstance(spec, dict) and {"default", "description", "required"} & set(spec)
        wf.input(name, **spec) if long else wf.input(name, spec)
    for name, spec in (data.get("agents") or {}).items():
        wf.agent(name, spec)
    for step_id, spec in (data.get("steps") or {}).items():
        wf.step(step_id, **{("with_" if k == "with" else k): v for k, v in spec.items()})
    return wf


NATIVE = [b for b in marked("valid") if "workflows" not in (yaml.safe_load(b.text) or {})]


@pytest.mark.parametrize("block", NATIVE, ids=lambda b: b.id)
def test_every_documented_example_rebuilt_in_python_is_equal(block: Block, tmp_path: Path) -> None:
    """Each valid native example of docs/, written as builder calls, equals the loaded file."""
    data = yaml.safe_load(block.text)
    expected = load_workflow_text(
        block.text, plugins=PLUGINS, filename=block.id, base_dir=tmp_path, environ=ENVIRON
    ).workflow
    wf = _rebuild(data, tmp_path)
    if "name" not in data:
        expected = attrs.evolve(expected, name="workflow")
    assert built(wf) == expected


def test_equality_ignores_where_a_workflow_was_written(tmp_path: Path) -> None:
    """Locations and source identity differ between YAML and Python, and do not count."""
    wf = cadenza.workflow("w", base_dir=tmp_path)
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("s", uses="t")
    ours = built(wf)
    theirs = from_yaml(
        "name: w\nagents: {t: {kind: template, options: {output: x}}}\nsteps: {s: {uses: t}}\n",
        tmp_path,
    )
    assert ours.steps["s"].location != theirs.steps["s"].location
    assert ours.source_hash != theirs.source_hash
    assert ours == theirs
    assert ours.steps["s"].location is not None
    assert ours.steps["s"].location.file.endswith("test_builder.py")


def test_references_write_the_expressions_yaml_would() -> None:
    """Inputs, outputs, parts of outputs, items and odd keys become ${{ }} text."""
    wf = cadenza.workflow("refs")
    news = wf.step("news", uses="x")
    odd = wf.step("build-docs", uses="x")
    assert str(wf.input("topic")) == "${{ inputs.topic }}"
    assert str(news.output) == "${{ steps.news.output }}"
    assert str(news.output["files"]) == str(news.output.files) == "${{ steps.news.output.files }}"
    assert str(news.output.files[0]) == "${{ steps.news.output.files[0] }}"
    assert str(news.output["a b"]) == '${{ steps.news.output["a b"] }}'
    assert str(news.output["in"]) == '${{ steps.news.output["in"] }}'
    assert str(odd.output) == '${{ steps["build-docs"].output }}'
    assert f"n={news.output.n}!" == "n=${{ steps.news.output.n }}!"
    assert str(wf.item.path) == "${{ item.path }}"
    assert str(wf.index) == "${{ index }}"
    assert wf.input("topic").expression == "inputs.topic"


def test_hyphenated_step_references_load(tmp_path: Path) -> None:
    """A step id with a hyphen is referenced in the index form, which the loader accepts."""
    wf = cadenza.workflow("h", base_dir=tmp_path)
    wf.agent("t", kind="template", options={"output": "x"})
    first = wf.step("build-docs", uses="t")
    wf.step("after", uses="t", needs=[first], with_={"docs": first.output["in"]})
    workflow = built(wf)
    assert workflow.steps["after"].needs == ("build-docs",)


def test_functions_become_import_paths_in_agent_options() -> None:
    """A module-level function in agent options is written as module:name."""
    wf = cadenza.workflow("f")
    wf.agent("p", kind="python", options={"function": textwrap.dedent})
    assert wf.to_dict()["agents"]["p"]["options"]["function"] == "textwrap:dedent"


def test_to_yaml_loads_as_the_same_workflow(tmp_path: Path) -> None:
    """to_yaml() is a native-format file of the same workflow."""
    wf = cadenza.workflow("y", base_dir=tmp_path, concurrency=2)
    wf.agent("t", kind="template", options={"output": "{x}"})
    a = wf.step("a", uses="t", with_={"x": wf.input("x", 1)})
    wf.step("b", uses="t", needs=a, when=f"{a.output.expression} != ''", with_={"x": a.output})
    assert from_yaml(wf.to_yaml(), tmp_path) == built(wf)


def test_the_builder_keeps_the_yaml_text_as_its_source(tmp_path: Path) -> None:
    """The built workflow carries its YAML form, so a journal can show and diff it."""
    wf = cadenza.workflow("s", base_dir=tmp_path)
    wf.agent("t", kind="template", options={"output": "x"})
    wf.step("a", uses="t")
    workflow = built(wf)
    assert workflow.source_text == wf.to_yaml()
    assert workflow.source is None
    assert workflow.source_hash


def test_to_dict_is_a_copy() -> None:
    """Changing what to_dict() returned does not change the builder."""
    wf = cadenza.workflow("c")
    wf.step("a", uses="t", with_={"x": [1]})
    data = wf.to_dict()
    data["steps"]["a"]["with"]["x"].append(2)
    assert wf.to_dict()["steps"]["a"]["with"]["x"] == [1]


@pytest.mark.skipif("for_each" not in _STEP_KEYS, reason="for_each is not in this loader yet")
def test_the_issue_for_each_example_equals_its_yaml(tmp_path: Path) -> None:
    """The planner -> per-file coder -> reviewer map of issue 15, with wf.item and wf.index."""
    wf = cadenza.workflow("map", base_dir=tmp_path)
    for name in ("planner", "coder", "reviewer"):
        wf.agent(name, kind="template", options={"output": "x"})
    plan = wf.step("plan", uses="planner", with_={"feature": wf.input("feature")})
    build = wf.step(
        "build",
        needs=[plan],
        for_each=plan.output.files,
        max_parallel=8,
        uses="coder",
        with_={"path": wf.item, "n": wf.index},
    )
    wf.step("review", needs=[build], uses="reviewer", with_={"files": build.output})
    expected = from_yaml(
        """
        name: map
        inputs: {feature: null}
        agents:
          planner: {kind: template, options: {output: x}}
          coder: {kind: template, options: {output: x}}
          reviewer: {kind: template, options: {output: x}}
        steps:
          plan: {uses: planner, with: {feature: "${{ inputs.feature }}"}}
          build:
            needs: [plan]
            for_each: "${{ steps.plan.output.files }}"
            max_parallel: 8
            uses: coder
            with: {path: "${{ item }}", n: "${{ index }}"}
          review:
            needs: [build]
            uses: reviewer
            with: {files: "${{ steps.build.output }}"}
        """,
        tmp_path,
    )
    assert built(wf) == expected


def test_a_reference_refuses_python_comparisons() -> None:
    """ref == x and `if ref` raise, naming the CEL text to write, instead of a constant when:."""
    ref = cadenza.workflow("r").input("ready")
    with pytest.raises(TypeError, match=r"ref\.expression"):
        _ = ref == "yes"
    with pytest.raises(TypeError, match="truth testing"):
        bool(ref)
    assert repr(ref) == "<reference ${{ inputs.ready }}>"

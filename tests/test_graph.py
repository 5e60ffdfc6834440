"""The DAG helpers: cycles, topological order, dependents, descendants, and drawings."""

from __future__ import annotations

import graphlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cadenza._graph._dag import (
    CycleError,
    ancestors,
    dependents_map,
    descendants,
    find_cycle,
    to_dot,
    to_mermaid,
    topological_order,
)

from .loader_helpers import load


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 30) -> dict[str, list[str]]:
    """Random DAGs: each node needs only nodes created before it; keys are shuffled."""
    n = draw(st.integers(min_value=0, max_value=max_nodes))
    names = [f"n{i}" for i in range(n)]
    needs = {
        name: draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        for i, name in enumerate(names)
    }
    order = draw(st.permutations(names))
    return {name: needs[name] for name in order}


def test_find_cycle_returns_a_closed_path() -> None:
    """The cycle comes back closed, starting where the search entered it."""
    needs = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
    assert find_cycle(needs) == ["a", "b", "c", "a"]


def test_find_cycle_self_loop_and_none() -> None:
    """A step needing itself is the cycle [a, a]; a DAG has none."""
    assert find_cycle({"a": ["a"]}) == ["a", "a"]
    assert find_cycle({"a": [], "b": ["a"], "c": ["a", "b"]}) is None
    assert find_cycle({}) is None


def test_find_cycle_ignores_needs_that_are_not_steps() -> None:
    """An unknown need is treated as a step with no needs of its own."""
    assert find_cycle({"a": ["ghost"]}) is None


def test_find_cycle_handles_ten_thousand_deep_chains() -> None:
    """No recursion: a 10,000-step chain closing on itself is found."""
    n = 10_000
    needs = {f"s{i}": [f"s{i + 1}"] for i in range(n - 1)}
    needs[f"s{n - 1}"] = ["s0"]
    cycle = find_cycle(needs)
    assert cycle is not None
    assert len(cycle) == n + 1
    assert cycle[0] == cycle[-1] == "s0"
    needs[f"s{n - 1}"] = []
    assert find_cycle(needs) is None
    order = topological_order(needs)
    assert order[0] == f"s{n - 1}"
    assert len(descendants(needs, f"s{n - 1}")) == n - 1


def test_topological_order_keeps_file_order_among_ties() -> None:
    """Among steps ready together, the one earlier in the mapping comes first."""
    needs = {"z": [], "b": ["z"], "a": [], "c": ["a", "z"], "y": []}
    assert topological_order(needs) == ["z", "b", "a", "c", "y"]


def test_topological_order_raises_on_cycle() -> None:
    """A cycle raises CycleError carrying the cycle."""
    with pytest.raises(CycleError) as info:
        topological_order({"a": ["b"], "b": ["a"]})
    assert info.value.cycle == ["a", "b", "a"]
    assert str(info.value) == "steps form a cycle: a -> b -> a"


def test_dependents_and_descendants() -> None:
    """dependents_map has every key; descendants and ancestors are transitive."""
    needs = {"a": [], "b": ["a"], "c": ["b", "b"], "d": ["a"], "e": []}
    assert dependents_map(needs) == {"a": ["b", "d"], "b": ["c"], "c": [], "d": [], "e": []}
    assert descendants(needs, "a") == {"b", "c", "d"}
    assert descendants(needs, "e") == set()
    assert descendants(needs, "unknown") == set()
    assert ancestors(needs, "c") == {"a", "b"}


@given(dags())
def test_topological_order_respects_every_need(needs: dict[str, list[str]]) -> None:
    """Every step comes after all it needs, and every step appears once."""
    order = topological_order(needs)
    assert sorted(order) == sorted(needs)
    position = {step: i for i, step in enumerate(order)}
    for step, deps in needs.items():
        assert all(position[d] < position[step] for d in deps)
    assert find_cycle(needs) is None


@given(dags(), st.data())
def test_descendants_match_a_naive_closure(
    needs: dict[str, list[str]], data: st.DataObject
) -> None:
    """descendants equals the fixpoint of 'needs something already in the set'."""
    if not needs:
        return
    root = data.draw(st.sampled_from(sorted(needs)))
    expected: set[str] = set()
    changed = True
    while changed:
        changed = False
        for step, deps in needs.items():
            if step not in expected and (root in deps or expected & set(deps)):
                expected.add(step)
                changed = True
    assert descendants(needs, root) == expected


@given(dags(max_nodes=12), st.data())
def test_adding_a_back_edge_makes_a_cycle(needs: dict[str, list[str]], data: st.DataObject) -> None:
    """An edge from a step to one of its descendants closes a cycle that find_cycle reports."""
    candidates = [(s, d) for s in needs for d in descendants(needs, s)]
    if not candidates:
        return
    step, below = data.draw(st.sampled_from(candidates))
    needs = {k: list(v) for k, v in needs.items()}
    needs[step].append(below)
    cycle = find_cycle(needs)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    for a, b in itertools.pairwise(cycle):
        assert b in needs[a]  # a needs b: the path follows real edges
    with pytest.raises(graphlib.CycleError):
        tuple(graphlib.TopologicalSorter(needs).static_order())  # agrees with the stdlib


WORKFLOW = """\
name: 'my "graph"'
agents: {a: {kind: template}}
steps:
  fetch: {uses: a}
  'say "hi" <b>': {uses: a, needs: [fetch]}
  'back\\slash': {uses: a, needs: [fetch, 'say "hi" <b>'], when: "1 < 2"}
"""


def test_mermaid_labels_are_escaped() -> None:
    """Mermaid nodes get generated ids, entity-escaped labels with uses, and edges."""
    text = to_mermaid(load(WORKFLOW).workflow)
    assert text == (
        "flowchart TD\n"
        '    s0["fetch<br/>uses: a"]\n'
        '    s1["say #34;hi#34; #60;b#62;<br/>uses: a"]\n'
        '    s2["back\\slash<br/>uses: a<br/>when: 1 #60; 2"]\n'
        "    s0 --> s1\n"
        "    s0 --> s2\n"
        "    s1 --> s2\n"
    )


def test_dot_quotes_ids_and_labels() -> None:
    """DOT quotes every id and escapes quotes and backslashes."""
    text = to_dot(load(WORKFLOW).workflow)
    assert text == (
        'digraph "my \\"graph\\"" {\n'
        "    rankdir=TB;\n"
        "    node [shape=box];\n"
        '    "fetch" [label="fetch\\nuses: a"];\n'
        '    "say \\"hi\\" <b>" [label="say \\"hi\\" <b>\\nuses: a"];\n'
        '    "back\\\\slash" [label="back\\\\slash\\nuses: a\\nwhen: 1 < 2"];\n'
        '    "fetch" -> "say \\"hi\\" <b>";\n'
        '    "fetch" -> "back\\\\slash";\n'
        '    "say \\"hi\\" <b>" -> "back\\\\slash";\n'
        "}\n"
    )

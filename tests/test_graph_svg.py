"""SVG and HTML drawings of the DAG: layout, escaping, determinism, engines, the CLI."""

from __future__ import annotations

import itertools
import os
import stat
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza._cli._common import CliState
from cadenza._cli._graph_cmd import graph
from cadenza._errors import GraphvizError
from cadenza._graph._layout import layered_layout
from cadenza._graph._svg import (
    builtin_layout,
    builtin_svg,
    colours,
    render_html,
    render_svg,
)
from cadenza._plugins._registry import load_plugins

from .loader_helpers import load
from .test_graph import dags

SVG = "{http://www.w3.org/2000/svg}"
DATA = Path(__file__).resolve().parent / "data"
REPORT = DATA / "workflows" / "report.yaml"
FAKE_SVG = '<svg xmlns="http://www.w3.org/2000/svg"><text>from fake dot</text></svg>'


def workflow_text(needs: dict[str, list[str]], uses: str = "a", description: str = "") -> str:
    lines = ["name: drawn", "agents: {a: {kind: template}, b: {kind: template}}", "steps:"]
    if description:
        lines.insert(1, f"description: {description!r}")
    for step, deps in needs.items():
        lines.append(f"  {step}: {{uses: {uses}, needs: [{', '.join(deps)}]}}")
    return "\n".join(lines) + "\n"


def nodes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg.encode())
    return {g.attrib["data-step"]: g for g in root.iter(f"{SVG}g") if g.get("class") == "node"}


def edges(svg: str) -> list[tuple[str, str]]:
    root = ET.fromstring(svg.encode())
    return [
        (p.attrib["data-need"], p.attrib["data-step"])
        for p in root.iter(f"{SVG}path")
        if p.get("class") == "edge"
    ]


def box(node: ET.Element) -> tuple[float, float, float, float]:
    rect = node.find(f"{SVG}rect")
    assert rect is not None
    x, y = float(rect.attrib["x"]), float(rect.attrib["y"])
    return x, y, x + float(rect.attrib["width"]), y + float(rect.attrib["height"])


FAN = {"root": [], **{f"leaf{i}": ["root"] for i in range(5)}, "join": ["leaf0", "leaf4"]}


def test_every_step_is_one_node_with_its_id() -> None:
    """Each step is exactly one node whose first text is its id; one edge per need."""
    svg = builtin_svg(load(workflow_text(FAN)).workflow)
    found = nodes(svg)
    assert list(found) == list(FAN)
    for step, node in found.items():
        texts = [t.text for t in node.iter(f"{SVG}text")]
        assert texts[0] == step
        assert "uses: a" in texts
    assert sorted(edges(svg)) == sorted((d, s) for s, deps in FAN.items() for d in deps)


def test_single_step_and_priority_badge() -> None:
    """One step draws one node and no edge; a non-zero priority shows as a badge."""
    wf = load("name: one\nagents: {a: {kind: template}}\nsteps:\n  only: {uses: a, priority: 7}\n")
    svg = builtin_svg(wf.workflow)
    (node,) = nodes(svg).values()
    assert edges(svg) == []
    badges = [g for g in node.iter(f"{SVG}g") if g.get("class") == "badge"]
    assert [t.text for t in badges[0].iter(f"{SVG}text")] == ["p7"]


def test_text_is_escaped() -> None:
    """Ids, uses, conditions and the description with < & " stay text in well-formed XML."""
    text = """\
    name: 'a <b> & "c"'
    description: 'x < y & z'
    agents: {a: {kind: template, capabilities: ['t<&>']}}
    steps:
      fetch: {uses: 't<&>'}
      'say "hi" <b>': {uses: a, needs: [fetch], when: "1 < 2"}
    """
    svg = builtin_svg(load(text).workflow)
    root = ET.fromstring(svg.encode())
    assert root.findtext(f"{SVG}title") == 'a <b> & "c"'
    assert root.findtext(f"{SVG}desc") == "x < y & z"
    found = nodes(svg)
    assert set(found) == {"fetch", 'say "hi" <b>'}
    assert [t.text for t in found["fetch"].iter(f"{SVG}text")] == ["fetch", "uses: t<&>"]
    assert "when: 1 < 2" in [t.text for t in found['say "hi" <b>'].iter(f"{SVG}text")]
    assert edges(svg) == [("fetch", 'say "hi" <b>')]


def test_rendering_is_deterministic() -> None:
    """The same workflow draws the same bytes, SVG and HTML."""
    wf = load(workflow_text(FAN)).workflow
    assert builtin_svg(wf) == builtin_svg(load(workflow_text(FAN)).workflow)
    assert builtin_svg(wf, direction="LR") == builtin_svg(wf, direction="LR")
    html = render_html(wf, engine="builtin").text
    assert html == render_html(wf, engine="builtin").text


def test_direction_lr_puts_needs_to_the_left() -> None:
    """In LR a step's box starts right of where each of its needs ends."""
    found = nodes(builtin_svg(load(workflow_text(FAN)).workflow, direction="LR"))
    for step, deps in FAN.items():
        for dep in deps:
            assert box(found[step])[0] > box(found[dep])[2]


def test_colours_are_stable_and_distinct() -> None:
    """Each name keeps its colour whatever else is drawn; up to the palette size, all differ."""
    few = colours(["writer", "text"])
    many = colours(["writer", "text", "judge", "coder"])
    assert few["writer"] == colours(["writer"])["writer"]
    assert len(set(many.values())) == 4
    svg = builtin_svg(load(workflow_text({"x": [], "y": ["x"]}, uses="b")).workflow)
    legend = [g for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "legend"]
    assert [t.text for t in legend[0].iter(f"{SVG}text")] == ["uses", "b \u2014 agent (template)"]


def test_wide_fan_out_and_long_chain() -> None:
    """A 1,000-leaf fan-out and a 300-step chain with skip edges lay out without overlap."""
    wide = {"root": [], **{f"s{i}": ["root"] for i in range(1000)}}
    layout = layered_layout(wide, {s: (60.0, 40.0) for s in wide})
    assert [len(row) for row in layout.layers] == [1, 1000]
    xs = sorted(b.x for s, b in layout.boxes.items() if s != "root")
    assert all(b - a >= 60.0 for a, b in itertools.pairwise(xs))
    chain = {"c0": [], **{f"c{i}": [f"c{i - 1}", "c0"] for i in range(1, 300)}}
    layout = layered_layout(chain, {s: (40.0, 30.0) for s in chain})
    assert len(layout.layers) == 300
    assert len(layout.edges) == 299 + 298


@settings(max_examples=60, deadline=None)
@given(dags(max_nodes=14), st.sampled_from(["TB", "LR"]))
def test_random_dags_layer_and_do_not_overlap(needs: dict[str, list[str]], direction: str) -> None:
    """Steps sit below (TB) or right of (LR) their needs, boxes never overlap, edges match."""
    if not needs:
        return
    wf = load(workflow_text(needs)).workflow
    svg = builtin_svg(wf, direction="LR" if direction == "LR" else "TB")
    found = nodes(svg)
    assert set(found) == set(needs)
    boxes = {step: box(node) for step, node in found.items()}
    axis = 1 if direction == "TB" else 0
    for step, deps in needs.items():
        for dep in deps:
            assert boxes[step][axis] > boxes[dep][axis + 2]
    items = list(boxes.values())
    for i, (ax0, ay0, ax1, ay1) in enumerate(items):
        for bx0, by0, bx1, by1 in items[i + 1 :]:
            assert ax1 <= bx0 or bx1 <= ax0 or ay1 <= by0 or by1 <= ay0
    assert sorted(edges(svg)) == sorted((d, s) for s, deps in needs.items() for d in deps)


def test_disconnected_components_all_drawn() -> None:
    """Separate components each get their nodes and edges."""
    needs = {"a": [], "b": ["a"], "x": [], "y": ["x"], "lone": []}
    layout = builtin_layout(load(workflow_text(needs)).workflow)
    assert layout.layers == (("a", "x", "lone"), ("b", "y"))
    assert [(e.need, e.step) for e in layout.edges] == [("a", "b"), ("x", "y")]


def test_html_is_self_contained() -> None:
    """The HTML page has the title, description, the SVG inline, a legend and no external URL."""
    wf = load(workflow_text(FAN, description="fan & join <demo>")).workflow
    html = render_html(wf, engine="builtin").text
    assert html.startswith("<!DOCTYPE html>")
    assert "<title>drawn</title>" in html
    assert '<p class="description">fan &amp; join &lt;demo&gt;</p>' in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    svg = html[html.index("<svg") : html.index("</svg>") + len("</svg>")]
    assert set(nodes(svg)) == set(FAN)
    assert '<ul class="legend">' in html
    assert "<script>" in html


def fake_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, dot: str | None) -> None:
    """PATH holds only a directory with, optionally, a `dot` script running ``dot``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if dot is not None:
        script = bin_dir / "dot"
        script.write_text(f"#!/bin/sh\nwhile read -r line; do :; done\n{dot}\n")
        script.chmod(script.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", str(bin_dir))


def test_auto_without_dot_uses_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With no `dot` on PATH, auto draws with the built-in renderer; graphviz is an error."""
    fake_path(tmp_path, monkeypatch, dot=None)
    wf = load(workflow_text(FAN)).workflow
    drawn = render_svg(wf)
    assert drawn.engine == "builtin"
    assert drawn.text == builtin_svg(wf)
    with pytest.raises(GraphvizError, match="not on PATH"):
        render_svg(wf, engine="graphviz")


@pytest.mark.skipif(os.name != "posix", reason="the fake dot is a shell script")
def test_auto_with_dot_uses_graphviz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a `dot` on PATH, auto and graphviz use its output; builtin ignores it."""
    fake_path(tmp_path, monkeypatch, dot=f"echo '{FAKE_SVG}'")
    wf = load(workflow_text(FAN)).workflow
    for engine in ("auto", "graphviz"):
        drawn = render_svg(wf, engine=engine)
        assert drawn.engine == "graphviz"
        assert drawn.text == FAKE_SVG + "\n"
    assert render_svg(wf, engine="builtin").engine == "builtin"
    html = render_html(wf).text
    assert FAKE_SVG in html


@pytest.mark.skipif(os.name != "posix", reason="the fake dot is a shell script")
def test_failing_dot(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failing `dot`: auto falls back with a warning, graphviz raises with its stderr."""
    fake_path(tmp_path, monkeypatch, dot="echo 'syntax error' >&2; exit 1")
    wf = load(workflow_text(FAN)).workflow
    drawn = render_svg(wf)
    assert drawn.engine == "builtin"
    assert "exited with 1: syntax error" in drawn.warnings[0]
    with pytest.raises(GraphvizError, match="syntax error"):
        render_svg(wf, engine="graphviz")


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the graph command in-process with the built-in plugins only."""
    state = CliState(plugins=load_plugins(entry_points=False))
    result = CliRunner().invoke(graph, list(args), obj=state)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_cli_svg_to_stdout() -> None:
    """--format svg --engine builtin prints an SVG with every step of the file."""
    code, out, err = invoke(str(REPORT), "--format", "svg", "--engine", "builtin")
    assert code == 0, err
    assert list(nodes(out)) == ["outline", "draft", "publish"]
    assert edges(out) == [("outline", "draft"), ("draft", "publish")]


def test_cli_html_to_output_file(tmp_path: Path) -> None:
    """--output writes the page to a file and prints nothing."""
    target = tmp_path / "graph.html"
    code, out, err = invoke(
        str(REPORT), "--format", "html", "--engine", "builtin", "--direction", "LR",
        "--output", str(target),
    )  # fmt: skip
    assert (code, out) == (0, ""), err
    html = target.read_text(encoding="utf-8")
    assert "<title>report</title>" in html
    assert "Outline, draft and publish a short report." in html


def test_cli_graphviz_missing_exits_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--engine graphviz without `dot` on PATH says so and exits 2."""
    fake_path(tmp_path, monkeypatch, dot=None)
    code, out, err = invoke(str(REPORT), "--format", "svg", "--engine", "graphviz")
    assert (code, out) == (2, "")
    assert "`dot` is not on PATH" in err


def test_cli_direction_applies_to_text_formats() -> None:
    """--direction LR turns the Mermaid and DOT output sideways too."""
    assert invoke(str(REPORT), "--direction", "LR")[1].startswith("flowchart LR\n")
    assert "    rankdir=LR;\n" in invoke(str(REPORT), "--format", "dot", "--direction", "LR")[1]

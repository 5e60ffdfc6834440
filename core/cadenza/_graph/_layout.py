"""A layered (Sugiyama-style) layout of a DAG, in pure Python.

Steps go into layers by longest path from a step without needs (a step sits
one layer past its deepest need). Edges spanning several layers get invisible
*dummy* vertices in the layers between, so they route around boxes. The order
within each layer comes from a few barycenter sweeps (each vertex moves to the
average position of its neighbours in the layer above, then below), which
removes most crossings. Coordinates: each vertex is placed at the average of
its neighbours' centres in the previous layer, pushed right just enough not to
overlap its left neighbour.

Everything is iterative and roughly linear in steps plus edges, and
deterministic: the same mapping and sizes give the same numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Literal

import attrs

from ._dag import Needs, topological_order

Direction = Literal["TB", "LR"]

DUMMY_SIZE = 8.0
"""Breadth reserved in a layer for an edge passing through it."""


@attrs.frozen(kw_only=True)
class Box:
    """A node's box: centre ``(x, y)``, width ``w`` and height ``h``."""

    x: float
    y: float
    w: float
    h: float

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2

    @property
    def top(self) -> float:
        return self.y - self.h / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h / 2


@attrs.frozen(kw_only=True)
class Edge:
    """An edge from ``need`` to ``step``.

    ``points`` runs from the need's box border to the step's: start, then for
    each layer crossed an entry and exit point, then the end. Segments from an
    even index are curves between layers; from an odd index, straight runs
    through a layer.
    """

    need: str
    step: str
    points: tuple[tuple[float, float], ...]


@attrs.frozen(kw_only=True)
class Layout:
    """Boxes by step id (mapping order), edges in need order, and the drawing's size."""

    boxes: Mapping[str, Box]
    edges: tuple[Edge, ...]
    layers: tuple[tuple[str, ...], ...]
    width: float
    height: float


def layer_of(needs: Needs) -> dict[str, int]:
    """Step id -> its layer: 0 without needs, else one past its deepest need (keys only)."""
    layer: dict[str, int] = {}
    for step in topological_order(needs):
        layer[step] = max((layer[d] + 1 for d in needs[step] if d in needs), default=0)
    return layer


def layered_layout(
    needs: Needs,
    sizes: Mapping[str, tuple[float, float]],
    *,
    direction: Direction = "TB",
    node_gap: float = 24.0,
    layer_gap: float = 56.0,
    margin: float = 16.0,
    sweeps: int = 4,
) -> Layout:
    """Lay out the keys of ``needs``; ``sizes`` gives each one's ``(width, height)``.

    ``direction`` TB puts needs above the steps needing them; LR puts them to
    the left. Raises :class:`~cadenza._graph._dag.CycleError` on a cycle.
    """
    steps = list(needs)
    layer_by_step = layer_of(needs)
    graph = _build_graph(steps, needs, layer_by_step, sizes, direction)
    layers = _order_layers(graph, sweeps)
    centre = _place_centres(graph, layers, node_gap)
    frame = _frame(graph, layers, centre, direction, layer_gap=layer_gap, margin=margin)
    width, height = frame.point(frame.total_breadth, frame.total_depth)
    return Layout(
        boxes=_boxes(graph, frame, sizes),
        edges=_edges(graph, frame),
        layers=tuple(tuple(steps[v] for v in row if v < len(steps)) for row in layers),
        width=width,
        height=height,
    )


@attrs.define(kw_only=True)
class _Graph:
    """The layout's working graph: vertices are ints, steps first, then dummies.

    "breadth" runs along a layer, "depth" across layers.
    """

    steps: list[str]
    index: dict[str, int]
    pairs: list[tuple[str, str]]
    """Every (need, step) edge, in need order."""
    breadth: list[float]
    depth: list[float]
    layer_of_vertex: list[int]
    up: list[list[int]]
    down: list[list[int]]
    chains: list[list[int]]
    """Per edge: the vertices it passes, need first."""
    n_layers: int


def _build_graph(
    steps: list[str],
    needs: Needs,
    layer_by_step: Mapping[str, int],
    sizes: Mapping[str, tuple[float, float]],
    direction: Direction,
) -> _Graph:
    """Steps and edges as int vertices; long edges get dummies so they route around boxes."""
    index = {step: i for i, step in enumerate(steps)}
    pairs = [(dep, step) for step in steps for dep in dict.fromkeys(needs[step]) if dep in index]

    def breadth_depth(step: str) -> tuple[float, float]:
        w, h = sizes[step]
        return (w, h) if direction == "TB" else (h, w)

    layer_of_vertex = [layer_by_step[s] for s in steps]
    graph = _Graph(
        steps=steps,
        index=index,
        pairs=pairs,
        breadth=[breadth_depth(s)[0] for s in steps],
        depth=[breadth_depth(s)[1] for s in steps],
        layer_of_vertex=layer_of_vertex,
        up=[[] for _ in steps],
        down=[[] for _ in steps],
        chains=[],
        n_layers=max(layer_of_vertex, default=-1) + 1,
    )
    spans = sum(layer_by_step[b] - layer_by_step[a] - 1 for a, b in pairs)
    use_dummies = spans <= max(4000, 20 * len(steps))  # else edges cut straight across
    for dep, step in pairs:
        chain = [index[dep]]
        if use_dummies:
            for lay in range(layer_by_step[dep] + 1, layer_by_step[step]):
                chain.append(_add_dummy(graph, lay))
        chain.append(index[step])
        for a, b in itertools.pairwise(chain):
            graph.down[a].append(b)
            graph.up[b].append(a)
        graph.chains.append(chain)
    return graph


def _add_dummy(graph: _Graph, lay: int) -> int:
    """Add an invisible vertex in layer ``lay`` for an edge passing through it; return it."""
    v = len(graph.breadth)
    graph.breadth.append(DUMMY_SIZE)
    graph.depth.append(0.0)
    graph.layer_of_vertex.append(lay)
    graph.up.append([])
    graph.down.append([])
    return v


def _order_layers(graph: _Graph, sweeps: int) -> list[list[int]]:
    """Order the vertices within each layer by barycenter sweeps, which removes most crossings."""
    layers: list[list[int]] = [[] for _ in range(graph.n_layers)]
    for v, lay in enumerate(graph.layer_of_vertex):
        layers[lay].append(v)
    pos = [0.0] * len(graph.breadth)
    for row in layers:
        for i, v in enumerate(row):
            pos[v] = float(i)
    for _ in range(sweeps):
        for row in layers[1:]:
            _reorder(row, graph.up, pos)
        for row in reversed(layers[:-1]):
            _reorder(row, graph.down, pos)
    for row in layers[1:]:
        _reorder(row, graph.up, pos)
    return layers


def _reorder(row: list[int], neighbours: list[list[int]], pos: list[float]) -> None:
    """Sort one layer by its vertices' mean neighbour position, and renumber ``pos`` to match."""

    def key(v: int) -> float:
        nb = neighbours[v]
        return sum(pos[u] for u in nb) / len(nb) if nb else pos[v]

    row.sort(key=key)
    for i, v in enumerate(row):
        pos[v] = float(i)


def _place_centres(graph: _Graph, layers: list[list[int]], node_gap: float) -> list[float]:
    """Each vertex's centre along its layer: down, up, then down again, so edges run short."""
    centre = [0.0] * len(graph.breadth)
    for row in layers:
        first = row is layers[0]  # the top layer has nothing above to centre on
        _place(row, [[] for _ in graph.breadth] if first else graph.up, graph, centre, node_gap)
    for row in reversed(layers[:-1]):
        _place(row, graph.down, graph, centre, node_gap)
    for row in layers[1:]:
        _place(row, graph.up, graph, centre, node_gap)
    return centre


def _place(
    row: list[int],
    neighbours: list[list[int]],
    graph: _Graph,
    centre: list[float],
    node_gap: float,
) -> None:
    """Centre a layer's vertices on their neighbours, each pushed right just clear of the last."""
    edge = float("-inf")
    for v in row:
        nb = neighbours[v]
        half = graph.breadth[v] / 2
        lowest = edge + node_gap + half if edge != float("-inf") else half
        wanted = sum(centre[u] for u in nb) / len(nb) if nb else lowest
        centre[v] = max(wanted, lowest)
        edge = centre[v] + half


@attrs.frozen(kw_only=True)
class _Frame:
    """Where things land on the page: breadth shift, each layer's band and the drawing's extent."""

    direction: Direction
    centre: list[float]
    shift: float
    band_start: list[float]
    band_depth: list[float]
    total_breadth: float
    total_depth: float

    def point(self, b: float, d: float) -> tuple[float, float]:
        """A (breadth, depth) pair as (x, y)."""
        return (b, d) if self.direction == "TB" else (d, b)

    def mid(self, lay: int) -> float:
        """The depth of the middle of layer ``lay``'s band."""
        return self.band_start[lay] + self.band_depth[lay] / 2


def _frame(
    graph: _Graph,
    layers: list[list[int]],
    centre: list[float],
    direction: Direction,
    *,
    layer_gap: float,
    margin: float,
) -> _Frame:
    """Stack the layers into bands, each as deep as its deepest box, and size the drawing."""
    breadth, depth = graph.breadth, graph.depth
    lowest_edge = min((centre[v] - breadth[v] / 2 for v in range(len(breadth))), default=0.0)
    shift = margin - lowest_edge
    band_depth = [max((depth[v] for v in row), default=0.0) for row in layers]
    band_start: list[float] = []
    cursor = margin
    for thickness in band_depth:
        band_start.append(cursor)
        cursor += thickness + layer_gap
    total_depth = cursor - layer_gap + margin if layers else 2 * margin
    total_breadth = (
        max((centre[v] + breadth[v] / 2 for v in range(len(breadth))), default=0.0) + shift + margin
        if breadth
        else 2 * margin
    )
    return _Frame(
        direction=direction,
        centre=centre,
        shift=shift,
        band_start=band_start,
        band_depth=band_depth,
        total_breadth=total_breadth,
        total_depth=total_depth,
    )


def _boxes(
    graph: _Graph, frame: _Frame, sizes: Mapping[str, tuple[float, float]]
) -> dict[str, Box]:
    """One box per step, centred in its layer's band."""
    boxes: dict[str, Box] = {}
    for v, step in enumerate(graph.steps):
        lay = graph.layer_of_vertex[v]
        x, y = frame.point(frame.centre[v] + frame.shift, frame.mid(lay))
        w, h = sizes[step]
        boxes[step] = Box(x=x, y=y, w=w, h=h)
    return boxes


def _edges(graph: _Graph, frame: _Frame) -> tuple[Edge, ...]:
    """Each edge's points: from the need's border, through its dummies' bands, to the step's."""
    centre, shift, point = frame.centre, frame.shift, frame.point
    edges: list[Edge] = []
    for (dep, step), chain in zip(graph.pairs, graph.chains, strict=True):
        a, b = graph.index[dep], graph.index[step]
        mid_a = frame.mid(graph.layer_of_vertex[a])
        mid_b = frame.mid(graph.layer_of_vertex[b])
        pts = [point(centre[a] + shift, mid_a + graph.depth[a] / 2)]
        for v in chain[1:-1]:
            lay = graph.layer_of_vertex[v]
            pts.append(point(centre[v] + shift, frame.band_start[lay]))
            pts.append(point(centre[v] + shift, frame.band_start[lay] + frame.band_depth[lay]))
        pts.append(point(centre[b] + shift, mid_b - graph.depth[b] / 2))
        edges.append(Edge(need=dep, step=step, points=tuple(pts)))
    return tuple(edges)

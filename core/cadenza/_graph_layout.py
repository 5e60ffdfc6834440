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

from ._graph import Needs, topological_order

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
    the left. Raises :class:`~cadenza._graph.CycleError` on a cycle.
    """
    steps = list(needs)
    index = {step: i for i, step in enumerate(steps)}
    layer_by_step = layer_of(needs)
    pairs = [(dep, step) for step in steps for dep in dict.fromkeys(needs[step]) if dep in index]

    # Vertices are ints: steps first, then dummies. "breadth" runs along a
    # layer, "depth" across layers.
    def breadth_depth(step: str) -> tuple[float, float]:
        w, h = sizes[step]
        return (w, h) if direction == "TB" else (h, w)

    breadth = [breadth_depth(s)[0] for s in steps]
    depth = [breadth_depth(s)[1] for s in steps]
    layer_of_vertex = [layer_by_step[s] for s in steps]
    n_layers = max(layer_of_vertex, default=-1) + 1
    spans = sum(layer_by_step[b] - layer_by_step[a] - 1 for a, b in pairs)
    use_dummies = spans <= max(4000, 20 * len(steps))  # else edges cut straight across

    up: list[list[int]] = [[] for _ in steps]
    down: list[list[int]] = [[] for _ in steps]
    chains: list[list[int]] = []  # per edge: the vertices it passes, need first
    for dep, step in pairs:
        chain = [index[dep]]
        if use_dummies:
            for lay in range(layer_by_step[dep] + 1, layer_by_step[step]):
                v = len(breadth)
                breadth.append(DUMMY_SIZE)
                depth.append(0.0)
                layer_of_vertex.append(lay)
                up.append([])
                down.append([])
                chain.append(v)
        chain.append(index[step])
        for a, b in itertools.pairwise(chain):
            down[a].append(b)
            up[b].append(a)
        chains.append(chain)

    layers: list[list[int]] = [[] for _ in range(n_layers)]
    for v, lay in enumerate(layer_of_vertex):
        layers[lay].append(v)
    pos = [0.0] * len(breadth)
    for row in layers:
        for i, v in enumerate(row):
            pos[v] = float(i)

    def reorder(row: list[int], neighbours: list[list[int]]) -> None:
        def key(v: int) -> float:
            nb = neighbours[v]
            return sum(pos[u] for u in nb) / len(nb) if nb else pos[v]

        row.sort(key=key)
        for i, v in enumerate(row):
            pos[v] = float(i)

    for _ in range(sweeps):
        for row in layers[1:]:
            reorder(row, up)
        for row in reversed(layers[:-1]):
            reorder(row, down)
    for row in layers[1:]:
        reorder(row, up)

    centre = [0.0] * len(breadth)

    def place(row: list[int], neighbours: list[list[int]]) -> None:
        edge = float("-inf")
        for v in row:
            nb = neighbours[v]
            half = breadth[v] / 2
            lowest = edge + node_gap + half if edge != float("-inf") else half
            wanted = sum(centre[u] for u in nb) / len(nb) if nb else lowest
            centre[v] = max(wanted, lowest)
            edge = centre[v] + half

    for row in layers:
        place(row, [[] for _ in breadth] if row is layers[0] else up)
    for row in reversed(layers[:-1]):
        place(row, down)
    for row in layers[1:]:
        place(row, up)

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

    def point(b: float, d: float) -> tuple[float, float]:
        return (b, d) if direction == "TB" else (d, b)

    boxes: dict[str, Box] = {}
    for v, step in enumerate(steps):
        lay = layer_of_vertex[v]
        x, y = point(centre[v] + shift, band_start[lay] + band_depth[lay] / 2)
        w, h = sizes[step]
        boxes[step] = Box(x=x, y=y, w=w, h=h)

    edges: list[Edge] = []
    for (dep, step), chain in zip(pairs, chains, strict=True):
        a, b = index[dep], index[step]
        mid_a = band_start[layer_of_vertex[a]] + band_depth[layer_of_vertex[a]] / 2
        mid_b = band_start[layer_of_vertex[b]] + band_depth[layer_of_vertex[b]] / 2
        pts = [point(centre[a] + shift, mid_a + depth[a] / 2)]
        for v in chain[1:-1]:
            lay = layer_of_vertex[v]
            pts.append(point(centre[v] + shift, band_start[lay]))
            pts.append(point(centre[v] + shift, band_start[lay] + band_depth[lay]))
        pts.append(point(centre[b] + shift, mid_b - depth[b] / 2))
        edges.append(Edge(need=dep, step=step, points=tuple(pts)))

    width, height = point(total_breadth, total_depth)
    return Layout(
        boxes=boxes,
        edges=tuple(edges),
        layers=tuple(tuple(steps[v] for v in row if v < len(steps)) for row in layers),
        width=width,
        height=height,
    )

"""DAG algorithms (order, cycles, descendants, critical path) and drawing (layout, SVG)."""

"""docs/architecture.md draws the kernel as it is: every package and foundation module."""

from __future__ import annotations

import re
from pathlib import Path

import cadenza

from .test_import_direction import LAYERS

KERNEL = Path(cadenza.__file__).parent
PAGE = Path(__file__).parent.parent / "docs" / "architecture.md"


def _table_rows() -> list[str]:
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## Packages by concern", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("| ") and "---" not in line]


def _named(rows: list[str]) -> set[str]:
    """The ``_package/`` and ``_module.py`` names the table's first two columns show."""
    found: set[str] = set()
    for row in rows:
        cells = row.split("|")[1:3]
        for name in re.findall(r"`([\w]+)(?:/|\.py)`", " ".join(cells)):
            found.add(name)
    return found


def test_the_page_names_every_kernel_package() -> None:
    """Each private package under core/cadenza/ has a row; no row names a package that is gone."""
    packages = {p.parent.name for p in KERNEL.glob("_*/__init__.py")}
    named = {n for n in _named(_table_rows()) if not (KERNEL / f"{n}.py").exists()}
    assert named == packages


def test_the_page_names_every_foundation_module() -> None:
    """The foundation rows list exactly the foundation layer the import test enforces."""
    rows = [r for r in _table_rows() if r.startswith("| foundation") or r.startswith("| |")]
    assert _named(rows) == set(LAYERS[0])


def test_the_page_orders_packages_as_the_import_test_does() -> None:
    """A package's layer number on the page matches its place in ``LAYERS``."""
    numbered = {}
    for row in _table_rows():
        layer, package = (cell.strip() for cell in row.split("|")[1:3])
        name = re.fullmatch(r"`(\w+)(?:/|\.py)`", package)
        if layer.isdigit() and name:
            numbered[name.group(1)] = int(layer)
    expected = {name: level for level, names in enumerate(LAYERS) for name in names}
    assert {n: expected[n] for n in numbered} == numbered


def test_every_kernel_module_says_what_it_is_for() -> None:
    """Each module under core/cadenza/ opens with a docstring whose first line is its purpose."""
    import ast

    silent = [
        str(path.relative_to(KERNEL))
        for path in sorted(KERNEL.rglob("*.py"))
        if not (ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or "").strip()
    ]
    assert silent == []

"""Dependencies point down: each kernel package imports only the layers below it.

The layers are those of ARCHITECTURE.md and docs/internals.md ("Kernel layout"),
read from source with :mod:`ast`, so a wrong import fails here before anyone
imports it. Imports under ``if TYPE_CHECKING:`` are annotations only (they run
no code at import time) and are not counted; an import inside a function is.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cadenza

KERNEL = Path(cadenza.__file__).parent

FOUNDATION = (
    "_deprecations _errors _events _ids _logging _on_import _paths _problems _public _redact"
    " _source_file _version _yaml"
)
LAYERS: tuple[tuple[str, ...], ...] = (
    tuple(FOUNDATION.split()),
    ("_journal",),
    ("_spec",),
    ("_expr", "_graph"),
    ("_executors",),
    ("_agents",),
    ("_resilience", "_strategies"),
    ("hookspecs",),
    ("_plugins",),
    ("_load", "_scheduler"),
    ("_build",),
    ("_insight", "_workers"),
    ("_serve",),
    ("_cli",),
    ("__init__", "events", "store", "http", "plugins", "strategies", "testing"),
    ("__main__",),
)
"""Bottom first. A module may import its own package and any package of a lower layer,
never one of a higher layer, nor another package of its own layer, except in the two
layers of single modules: the foundation's and the public namespaces'."""

FLAT_LAYERS = (0, len(LAYERS) - 2)
"""Layers whose members are single modules that may import one another."""

LAYER_OF = {name: level for level, names in enumerate(LAYERS) for name in names}


def module_name(path: Path, root: Path) -> str:
    """``cadenza._serve._app`` for ``<root>/_serve/_app.py`` (a package is its ``__init__``)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def top_level(module: str) -> str:
    """The kernel package (or foundation module) a module belongs to: ``_serve`` for
    ``cadenza._serve._app``; ``__init__`` for ``cadenza`` itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _type_checking_blocks(tree: ast.Module) -> set[int]:
    """ids of the import nodes inside ``if TYPE_CHECKING:`` blocks."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                skipped.update(id(n) for n in ast.walk(inner))
    return skipped


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module ``tree`` imports at run time, absolute, with the line; ``from x import y``
    yields ``x.y`` (``y`` may be a submodule) so ``from . import _cli`` is seen as ``_cli``."""
    package = module if is_package else module.rpartition(".")[0]
    skipped = _type_checking_blocks(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def violations(root: Path) -> list[str]:
    """One line per import that points sideways or up: ``file:line: a imports b (why)``.

    ``root`` is a ``cadenza`` package directory (the kernel, or a small one a test builds).
    """
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        source = top_level(module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[tuple[int, str]] = set()
        for line, target in imported_modules(tree, module, path.name == "__init__.py"):
            if not target.startswith("cadenza.") and target != "cadenza":
                continue
            dest = top_level(target)
            if dest == source or (line, dest) in seen:
                continue
            seen.add((line, dest))
            if source not in LAYER_OF or dest not in LAYER_OF:
                unknown = source if source not in LAYER_OF else dest
                found.append(f"{path}:{line}: {unknown} is in no layer (add it to LAYERS)")
            elif LAYER_OF[dest] == LAYER_OF[source] in FLAT_LAYERS:
                continue
            elif LAYER_OF[dest] >= LAYER_OF[source]:
                how = "its own layer" if LAYER_OF[dest] == LAYER_OF[source] else "a higher layer"
                found.append(f"{path}:{line}: {source} imports {dest} ({how})")
    return found


BUILT_INS = (
    "cadenza._strategies._routers",
    "cadenza._strategies._aggregators",
    "cadenza._strategies._validators",
    "cadenza._strategies._fallbacks",
    "cadenza._agents._http",
    "cadenza._agents._python",
    "cadenza._agents._template",
)
"""Built-in strategies and agent kinds: they reach the scheduler as factories from the
plugin registry, like a plugin's, so the scheduler depends only on their contracts."""


def built_ins_in_scheduler(root: Path) -> list[str]:
    """One line per import of a built-in strategy or agent kind from ``_scheduler``."""
    found: list[str] = []
    for path in sorted((root / "_scheduler").rglob("*.py")):
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for line, target in imported_modules(tree, module, path.name == "__init__.py"):
            for built_in in BUILT_INS:
                if target == built_in or target.startswith(built_in + "."):
                    found.append(
                        f"{path}:{line}: _scheduler imports the built-in {built_in} "
                        "(take its factory from the plugin registry; import only the contract)"
                    )
    return found


def test_kernel_imports_point_down() -> None:
    """Every package imports only lower layers, so the package graph has no cycle."""
    assert violations(KERNEL) == []


def test_every_kernel_package_is_in_a_layer() -> None:
    """A new package must be placed in LAYERS (and in the docs' drawing) before it lands."""
    tops = {top_level(module_name(p, KERNEL)) for p in KERNEL.rglob("*.py")}
    assert tops - set(LAYER_OF) == set()


def _kernel(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "cadenza"
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_dashboard_importing_the_cli_is_reported(tmp_path: Path) -> None:
    """A dashboard module importing ``_cli`` is named with its file, line and imported package."""
    root = _kernel(
        tmp_path,
        {
            "__init__.py": "",
            "_cli/__init__.py": "from .._journal import x\n",
            "_serve/__init__.py": "",
            "_serve/_app.py": '"""App."""\n\nfrom .._cli._history import FINISHED\n',
        },
    )
    assert violations(root) == [
        f"{root / '_serve' / '_app.py'}:3: _serve imports _cli (a higher layer)"
    ]


def test_scheduler_importing_the_dashboard_in_a_function_is_reported(tmp_path: Path) -> None:
    """An import inside a function counts; one under ``if TYPE_CHECKING:`` does not."""
    root = _kernel(
        tmp_path,
        {
            "_scheduler/_runner.py": "def f():\n    import cadenza._serve._app\n",
            "_scheduler/_run.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .._cli import x\n"
            ),
            "_insight/_report.py": "from .. import _cli\n",
            "_expr/_syntax.py": "from .._graph import _dag\n",
        },
    )
    assert violations(root) == [
        f"{root / '_expr' / '_syntax.py'}:1: _expr imports _graph (its own layer)",
        f"{root / '_insight' / '_report.py'}:1: _insight imports _cli (a higher layer)",
        f"{root / '_scheduler' / '_runner.py'}:2: _scheduler imports _serve (a higher layer)",
    ]


def test_a_package_outside_the_layers_is_reported(tmp_path: Path) -> None:
    """An import from or into a package LAYERS does not name is a failure, not a pass."""
    root = _kernel(tmp_path, {"_new/_thing.py": "from .._spec import _workflow\n"})
    assert violations(root) == [
        f"{root / '_new' / '_thing.py'}:1: _new is in no layer (add it to LAYERS)"
    ]


def test_the_scheduler_imports_no_built_in_strategy_or_agent_kind() -> None:
    """The scheduler knows strategies and agent kinds only through their contracts."""
    assert built_ins_in_scheduler(KERNEL) == []


def test_a_scheduler_importing_a_built_in_is_reported(tmp_path: Path) -> None:
    """Importing the built-in routers or an agent kind is named with file and line; a contract
    import is not."""
    root = _kernel(
        tmp_path,
        {
            "_scheduler/_run.py": (
                "from .._strategies._routing import Router\n"
                "from .._strategies._routers import BUILTIN_ROUTERS\n"
            ),
            "_scheduler/_calls.py": "from .._agents import _http\n",
            "_insight/_simulate.py": "from .._strategies._routers import BUILTIN_ROUTERS\n",
        },
    )
    why = "(take its factory from the plugin registry; import only the contract)"
    assert built_ins_in_scheduler(root) == [
        f"{root / '_scheduler' / '_calls.py'}:1: _scheduler imports the built-in "
        f"cadenza._agents._http {why}",
        f"{root / '_scheduler' / '_run.py'}:2: _scheduler imports the built-in "
        f"cadenza._strategies._routers {why}",
    ]

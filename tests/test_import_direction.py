"""Dependencies point down: the dashboard and the engine never import the CLI, read from source."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import cadenza

KERNEL = Path(cadenza.__file__).parent
ENTRY_POINTS = frozenset({"cadenza.__main__"})
"""Modules outside ``_cli`` allowed to import it: ``python -m cadenza``. The console
script ``cadenza`` points at ``cadenza._cli:main`` itself, so it needs no exception."""
ENGINE = ("cadenza._scheduler", "cadenza._journal", "cadenza._runner")
"""Engine modules, which import neither the CLI nor the dashboard."""


def module_name(path: Path, root: Path) -> str:
    """``cadenza._serve._app`` for ``<root>/_serve/_app.py`` (a package is its ``__init__``)."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imported_modules(tree: ast.Module, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    """Every module ``tree`` imports, absolute, with the line; ``from x import y`` yields
    ``x`` and ``x.y`` (``y`` may be a submodule)."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
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
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def within(name: str, packages: str | tuple[str, ...]) -> bool:
    """True when ``name`` is one of ``packages`` or one of their submodules."""
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == p or name.startswith(p + ".") for p in packages)


def violations(root: Path) -> list[str]:
    """One line per import that points up: ``file:line imports module (rule)``.

    ``root`` is a ``cadenza`` package directory (the kernel, or a small one a test builds).
    """
    found: list[str] = []
    cli, serve = "cadenza._cli", "cadenza._serve"
    for path in sorted(root.rglob("*.py")):
        module = module_name(path, root)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[tuple[int, str]] = set()
        for line, target in imported_modules(tree, module, path.name == "__init__.py"):
            where = f"{path}:{line}"
            if within(target, cli) and not within(module, cli) and module not in ENTRY_POINTS:
                rule = "only the CLI and the entry point import the CLI"
                if within(module, serve):
                    rule = "the dashboard never imports the CLI"
                key = (line, cli)
            elif within(module, ENGINE) and within(target, (cli, serve)):
                rule = "the engine never imports the CLI or the dashboard"
                key = (line, target.split(".")[1])
            else:
                continue
            if key not in seen:  # `from .._cli import x` counts once, not per name
                seen.add(key)
                found.append(f"{where} imports {target} ({rule})")
    return found


def test_kernel_imports_point_down() -> None:
    """Only the CLI and ``__main__`` import the CLI; the engine imports no CLI or dashboard."""
    assert violations(KERNEL) == []


def test_dashboard_importing_the_cli_is_reported(tmp_path: Path) -> None:
    """A dashboard module importing ``_cli`` is named with its file, line and imported module."""
    root = tmp_path / "cadenza"
    (root / "_serve").mkdir(parents=True)
    (root / "_cli").mkdir()
    (root / "__init__.py").write_text("")
    (root / "__main__.py").write_text("from cadenza._cli import main\n")
    (root / "_cli" / "__init__.py").write_text("from .._journal import x\n")
    (root / "_serve" / "__init__.py").write_text("")
    (root / "_serve" / "_app.py").write_text('"""App."""\n\nfrom .._cli._history import FINISHED\n')
    assert violations(root) == [
        f"{root / '_serve' / '_app.py'}:3 imports cadenza._cli._history"
        " (the dashboard never imports the CLI)"
    ]


def test_engine_importing_the_dashboard_is_reported(tmp_path: Path) -> None:
    """An engine module importing ``_serve`` (even inside a function) is reported."""
    root = tmp_path / "cadenza"
    root.mkdir()
    (root / "_runner.py").write_text("def f():\n    import cadenza._serve._app\n")
    (root / "_report.py").write_text("from . import _cli\n")
    assert violations(root) == [
        f"{root / '_report.py'}:1 imports cadenza._cli"
        " (only the CLI and the entry point import the CLI)",
        f"{root / '_runner.py'}:2 imports cadenza._serve._app"
        " (the engine never imports the CLI or the dashboard)",
    ]

"""The benchmarks measure what users get: they import only Cadenza's public modules."""

from __future__ import annotations

import ast
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_imports(source: str) -> list[str]:
    """``line: module`` of every import of a ``cadenza`` module whose name starts with ``_``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "cadenza" and any(_private(part) for part in parts[1:]):
                found.append(f"{node.lineno}: {module}")
    return found


def test_private_imports_are_found() -> None:
    """Every spelling of a private import is found; public names and dunders are not."""
    source = (
        "from cadenza._a import b\n"
        "import cadenza._c\n"
        "from cadenza import _d\n"
        "import cadenza\n"
        "from cadenza import __version__\n"
    )
    assert private_imports(source) == [
        "1: cadenza._a",
        "1: cadenza._a.b",
        "2: cadenza._c",
        "3: cadenza._d",
    ]


def test_benchmarks_import_no_private_cadenza_module() -> None:
    """No script under benchmarks/, subfolders too, imports a ``cadenza._*`` module, even lazily."""
    scripts = sorted(
        path
        for path in BENCHMARKS.rglob("*.py")
        if not {".venv", "__pycache__"} & set(path.relative_to(BENCHMARKS).parts)
    )
    assert BENCHMARKS / "peers" / "run_peers.py" in scripts
    offenders = {
        str(script.relative_to(BENCHMARKS)): found
        for script in scripts
        if (found := private_imports(script.read_text(encoding="utf-8")))
    }
    assert offenders == {}, (
        f"benchmarks import private modules: {offenders}. Build the workload through the "
        "public API (cadenza.load_workflow_data, cadenza.run_workflow) or name the missing "
        "public API in benchmarks/README.md."
    )

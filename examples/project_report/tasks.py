"""Local tasks for the project-report example: real work, no network, no API key.

Each function is served by the built-in ``python`` agent: it receives the
step's ``with:`` values as keyword arguments and returns JSON data.
"""

from __future__ import annotations

import collections
import os
import re
from pathlib import Path
from typing import Any

SKIP_DIRS = {
    ".git",
    ".venv",
    "venv",
    "node_modules",
    "__pycache__",
    ".nox",
    ".cadenza",
    ".mypy_cache",
}
TEXT_SUFFIXES = {
    ".py",
    ".md",
    ".txt",
    ".yaml",
    ".yml",
    ".toml",
    ".cfg",
    ".ini",
    ".json",
    ".cs",
    ".sh",
    ".rst",
}


def _walk(root: str) -> list[Path]:
    base = Path(root)
    if not base.is_dir():
        raise ValueError(f"root {root!r} is not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(base):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith("."))
        found.extend(Path(dirpath) / name for name in sorted(filenames))
    return found


def scan_files(root: str) -> dict[str, Any]:
    """Count files, lines and bytes per file type under ``root``."""
    by_type: dict[str, dict[str, int]] = collections.defaultdict(
        lambda: {"files": 0, "lines": 0, "bytes": 0}
    )
    largest: list[tuple[int, str]] = []
    for path in _walk(root):
        suffix = path.suffix.lower() or "(none)"
        size = path.stat().st_size
        entry = by_type[suffix]
        entry["files"] += 1
        entry["bytes"] += size
        if suffix in TEXT_SUFFIXES:
            with path.open("rb") as fh:
                entry["lines"] += sum(1 for _ in fh)
        largest.append((size, str(path.relative_to(root))))
    largest.sort(reverse=True)
    return {
        "files": sum(e["files"] for e in by_type.values()),
        "lines": sum(e["lines"] for e in by_type.values()),
        "by_type": dict(sorted(by_type.items(), key=lambda kv: -kv[1]["files"])),
        "largest": [{"path": p, "bytes": s} for s, p in largest[:5]],
    }


def python_symbols(root: str) -> dict[str, Any]:
    """Count modules, classes and functions in the Python sources under ``root``."""
    import ast

    modules = classes = functions = 0
    documented = 0
    for path in _walk(root):
        if path.suffix != ".py":
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
        except SyntaxError:
            continue
        modules += 1
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                if isinstance(node, ast.ClassDef):
                    classes += 1
                else:
                    functions += 1
                if ast.get_docstring(node):
                    documented += 1
    total = classes + functions
    return {
        "modules": modules,
        "classes": classes,
        "functions": functions,
        "docstring_coverage": round(documented / total, 3) if total else None,
    }


WORD = re.compile(r"[A-Za-z][A-Za-z'-]{3,}")


def doc_words(root: str, top: int = 10) -> dict[str, Any]:
    """The most frequent words in the Markdown files under ``root``."""
    counter: collections.Counter[str] = collections.Counter()
    files = 0
    for path in _walk(root):
        if path.suffix.lower() == ".md":
            files += 1
            counter.update(
                w.lower() for w in WORD.findall(path.read_text(encoding="utf-8", errors="replace"))
            )
    return {"markdown_files": files, "top_words": counter.most_common(top)}


def write_report(
    title: str, out: str, scan: dict[str, Any], symbols: dict[str, Any], words: Any = None
) -> dict[str, Any]:
    """Write the Markdown report to ``out`` and return where it went."""
    lines = [
        f"# {title}",
        "",
        f"{scan['files']} files, {scan['lines']} lines of text.",
        "",
        "| type | files | lines | bytes |",
        "|---|---:|---:|---:|",
    ]
    for suffix, entry in list(scan["by_type"].items())[:12]:
        lines.append(f"| {suffix} | {entry['files']} | {entry['lines']} | {entry['bytes']} |")
    lines += ["", "## Largest files", ""]
    lines += [f"- `{item['path']}` ({item['bytes']} bytes)" for item in scan["largest"]]
    lines += [
        "",
        "## Python",
        "",
        f"{symbols['modules']} modules, {symbols['classes']} classes, "
        f"{symbols['functions']} functions; "
        f"docstring coverage {symbols['docstring_coverage']}.",
    ]
    if words:
        lines += ["", "## Most frequent words in the docs", ""]
        lines += [f"- {word}: {count}" for word, count in words["top_words"]]
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = "\n".join(lines) + "\n"
    target.write_text(text, encoding="utf-8")
    return {"path": str(target), "bytes": len(text.encode())}

"""The step's output: one entry per file plus totals, all measured on disk.

Entries come from the workers (see ``_textures``, ``_audio``) and from the
planning stage (paths that matched nothing, output clashes); the step's
warnings (asset types skipped) sit beside them. Totals count
only files that were written, so ``bytes_before - bytes_after`` is exactly
what the build saves.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ._presets import Settings


def percent(saved: int, before: int) -> float:
    """Saved bytes as a percentage of ``before``, one decimal."""
    return round(100 * saved / before, 1) if before else 0.0


def totals(entries: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Counts per status and the bytes before and after, over every written file."""
    written = [e for e in entries if e.get("status") != "failed"]
    before = sum(e["bytes_before"] for e in written)
    after = sum(e["bytes_after"] for e in written)
    return {
        "files": len(entries),
        "optimized": sum(1 for e in entries if e.get("status") == "optimized"),
        "kept": sum(1 for e in entries if e.get("status") == "kept"),
        "failed": sum(1 for e in entries if e.get("status") == "failed"),
        "bytes_before": before,
        "bytes_after": after,
        "saved_bytes": before - after,
        "saved_percent": percent(before - after, before),
    }


def report(
    entries: Sequence[dict[str, Any]],
    *,
    settings: Settings,
    output_dir: Path,
    warnings: Sequence[str] = (),
) -> dict[str, Any]:
    """The JSON-ready output of an assets step; ``warnings``: what it asked for but skipped."""
    return {
        "preset": settings.preset,
        "settings": settings.to_json(),
        "output_dir": str(output_dir),
        "files": list(entries),
        "totals": totals(entries),
        "warnings": list(warnings),
    }


def failure_summary(entries: Sequence[dict[str, Any]], limit: int = 5) -> str:
    """The first few errors, one per line, for a step where nothing could be optimized."""
    lines = [f"  {e.get('path') or e.get('source')}: {e.get('error')}" for e in entries[:limit]]
    if len(entries) > limit:
        lines.append(f"  ... and {len(entries) - limit} more")
    return "\n".join(lines)

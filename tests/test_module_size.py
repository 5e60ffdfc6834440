"""Modules stay small enough to hold one job: none in the kernel or a plugin is over 800 lines."""

from __future__ import annotations

from pathlib import Path

import cadenza

MAX_LINES = 800
"""Issue 12's limit; a module growing past it has more than one job: split it along its seams."""

KERNEL = Path(cadenza.__file__).parent
PLUGINS = KERNEL.parents[1] / "plugins"


def sources() -> list[Path]:
    """The kernel's modules and every plugin package's (not their tests)."""
    found = list(KERNEL.rglob("*.py"))
    for package in PLUGINS.glob("cadenza-*/cadenza_*"):
        found.extend(package.rglob("*.py"))
    return found


def test_no_module_is_over_the_line_limit() -> None:
    """Every kernel and plugin module has at most MAX_LINES lines."""
    assert sources(), f"no modules found under {KERNEL}"
    too_long = {
        str(path): count
        for path in sources()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert too_long == {}

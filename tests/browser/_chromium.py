"""Finding the system's chromium, and what to do without one.

Shared by ``noxfile.py`` (which loads this file by path, so it uses only the
standard library) and the browser test's fixtures in ``conftest.py``. Without
a browser the browser test is skipped with :data:`the notice <missing_notice>`
saying how to get one; ``CADENZA_REQUIRE_BROWSER=1`` (``.ci/run`` sets it)
makes a missing browser an error instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

REQUIRE_VAR = "CADENZA_REQUIRE_BROWSER"
"""Set to ``1`` to make a missing browser (or Playwright) an error, not a skip."""

CANDIDATES = ("chromium", "chromium-browser")
"""Executable names looked up on PATH when ``$CHROMIUM`` is not set."""


def find_chromium(environ: Mapping[str, str]) -> str | None:
    """The chromium to drive: ``$CHROMIUM`` if set and a file, else the first on ``$PATH``."""
    explicit = environ.get("CHROMIUM")
    if explicit:
        return explicit if Path(explicit).is_file() else None
    for name in CANDIDATES:
        path = shutil.which(name, path=environ.get("PATH", ""))
        if path:
            return path
    return None


def browser_required(environ: Mapping[str, str]) -> bool:
    """Whether a missing browser is an error: ``CADENZA_REQUIRE_BROWSER`` set, not ``0``."""
    return environ.get(REQUIRE_VAR, "").strip() not in ("", "0")


def missing_notice(environ: Mapping[str, str]) -> str:
    """Why no browser was found, and how to get one or make its absence an error."""
    explicit = environ.get("CHROMIUM")
    if explicit:
        looked = f"$CHROMIUM is {explicit!r}, which is not a file"
    else:
        looked = f"no {' or '.join(CANDIDATES)} on PATH and $CHROMIUM unset"
    action = (
        f"Failing, because {REQUIRE_VAR} is set"
        if browser_required(environ)
        else f"Skipping it ({REQUIRE_VAR}=1, as .ci/run sets, makes this an error)"
    )
    return (
        f"chromium not found ({looked}): the dashboard's browser test needs it; "
        f"install it (apt-get install chromium) or set CHROMIUM=/path/to/chromium. {action}"
    )

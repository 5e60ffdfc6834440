"""Where each part of a Python-built workflow was written: the builder calls' file:line:col.

A YAML file's problems point at the line of the value at fault; a workflow
built in Python has no such lines, so each builder call records the place it
was called from (the first frame outside this package) and the loader's
problems point there: a bad ``needs`` of a step is reported at that step's
``wf.step(...)`` call.
"""

from __future__ import annotations

import os
import sys
from itertools import islice
from pathlib import Path
from types import FrameType

import attrs

from .._paths import ValuePath
from .._problems import SourceLocation

__all__ = ["CallSites", "call_site", "caller_dir"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _outside(frame: FrameType | None) -> FrameType | None:
    """The first frame, from ``frame`` outwards, whose code is not this package's."""
    while frame is not None and os.path.dirname(frame.f_code.co_filename) == _PACKAGE_DIR:
        frame = frame.f_back
    return frame


def _shown(filename: str) -> str:
    """``filename`` relative to the working directory when it is inside it, as a user typed it."""
    try:
        relative = os.path.relpath(filename)
    except ValueError:  # another drive (Windows)
        return filename
    return filename if relative.startswith(os.pardir) else relative


def call_site() -> SourceLocation | None:
    """Where the builder was called from (1-based line and column); None without frames."""
    frame = _outside(sys._getframe(1))
    if frame is None:
        return None
    code = frame.f_code
    line, column = frame.f_lineno, 0
    positions = next(islice(code.co_positions(), frame.f_lasti // 2, None), None)
    if positions is not None and positions[0] == line and positions[2] is not None:
        column = positions[2]
    return SourceLocation(file=_shown(code.co_filename), line=line or 1, column=column + 1)


def caller_dir() -> Path:
    """The directory of the file calling the builder (the working directory for ``<stdin>``)."""
    frame = _outside(sys._getframe(1))
    filename = frame.f_code.co_filename if frame is not None else ""
    if not filename or filename.startswith("<") or not os.path.exists(filename):
        return Path.cwd()
    return Path(filename).resolve().parent


@attrs.define
class CallSites:
    """The place each part was written (``("steps", "news")`` -> the ``wf.step`` call).

    Satisfies the loader's ``Locator``: a problem deeper in a part
    (``steps.news.with.topic``) is reported at the part's call, the nearest
    recorded ancestor, as a YAML document reports a value's nearest position.
    """

    sites: dict[ValuePath, SourceLocation] = attrs.field(factory=dict)

    def record(self, path: ValuePath, site: SourceLocation | None) -> None:
        if site is not None:
            self.sites[path] = site

    def get(self, path: ValuePath) -> SourceLocation | None:
        return self.sites.get(path)

    def locate(self, path: ValuePath, *, key: bool = False) -> SourceLocation | None:
        """Where ``path`` was written: its own call, or its nearest recorded ancestor's."""
        probe = tuple(path)
        while True:
            site = self.sites.get(probe)
            if site is not None or not probe:
                return site
            probe = probe[:-1]

"""The terminal's stderr for progress: rich's console on a terminal, plain writes otherwise.

rich (with the pygments it loads) takes a tenth of a second to import, and
``cadenza run`` writing its progress to a pipe or a file needs none of it: a
plain line is written as is. :func:`stderr_console` decides as rich's own
``Console.is_terminal`` would (the ``TTY_COMPATIBLE`` and ``FORCE_COLOR``
variables, else ``isatty()``), so a terminal still gets rich's live table.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class PlainConsole:
    """What the progress display needs of a console when stderr is not a terminal.

    ``file`` takes plain lines; :meth:`print` (for lines that rich would render
    differently, see ``Progress._line``) imports rich then, so the output stays
    what rich prints.
    """

    is_terminal = False

    def __init__(self, file: TextIO | None = None) -> None:
        self._file = file
        self._rich: Any = None

    @property
    def file(self) -> TextIO:
        return self._file if self._file is not None else sys.stderr

    def print(self, *objects: Any, **options: Any) -> None:
        if self._rich is None:
            from rich.console import Console

            self._rich = Console(file=self._file, stderr=self._file is None, highlight=False)
        self._rich.print(*objects, **options)


def _may_be_terminal(file: TextIO) -> bool:
    """False when rich's ``Console.is_terminal`` would certainly say False for ``file``."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    if os.environ.get("FORCE_COLOR") is not None:
        return True
    try:
        return file.isatty()
    except (AttributeError, ValueError):
        return False


def stderr_console() -> Any:
    """rich's ``Console(stderr=True, highlight=False)`` on a terminal, else a PlainConsole."""
    if _may_be_terminal(sys.stderr):
        from rich.console import Console

        return Console(stderr=True, highlight=False)
    return PlainConsole()

"""Problems found in workflow files: what, where (file:line:col and path), and how to fix it."""

from __future__ import annotations

from typing import Literal

import attrs


@attrs.frozen(kw_only=True)
class SourceLocation:
    """A position in a source file; ``line`` and ``column`` are 1-based."""

    file: str
    line: int
    column: int

    def render(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@attrs.frozen(kw_only=True)
class Problem:
    """One thing wrong with a workflow file.

    ``path`` is the dotted path of the offending value (``steps.build.needs[0]``);
    ``hint`` says how to fix it. ``severity`` is ``"error"`` (the file does not load)
    or ``"warning"`` (it loads, but something will likely fail at run time).
    """

    message: str
    path: str = ""
    location: SourceLocation | None = None
    hint: str = ""
    severity: Literal["error", "warning"] = "error"

    def render(self) -> str:
        path = f" {self.path}:" if self.path else ""
        if self.location is not None:
            tag = " warning:" if self.severity == "warning" else ""
            text = f"{self.location.render()}:{tag}{path} {self.message}"
        else:  # not tied to a file position (e.g. --set values): say what kind of problem
            text = f"{self.severity}:{path} {self.message}"
        if self.hint:
            text += "\n  " + self.hint.replace("\n", "\n  ")
        return text

    def sort_key(self) -> tuple[str, int, int, str]:
        loc = self.location
        if loc is None:
            return ("", 0, 0, self.path)
        return (loc.file, loc.line, loc.column, self.path)

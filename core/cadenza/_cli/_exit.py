"""Documented exit codes of the ``cadenza`` command (docs/cli.md lists them too)."""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    """The command did what was asked; for ``run``: no step failed."""
    RUN_FAILED = 1
    """The run finished but at least one step failed (or was skipped because of a failure)."""
    BAD_INPUT = 2
    """Invalid workflow file, bad command-line usage, unknown names: nothing ran."""
    PLUGIN_ERROR = 3
    """A plugin problem stopped the command (duplicate registration, incompatible plugin)."""
    INTERNAL_ERROR = 70
    """A bug in Cadenza or a plugin; rerun with --debug and report the traceback."""
    INTERRUPTED = 130
    """Ctrl-C (SIGINT) or SIGTERM cancelled the command."""

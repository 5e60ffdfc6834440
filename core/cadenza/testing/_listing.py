"""What ``cadenza plugins --json`` shows, for a plugin's "is it found and shown?" test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def listed_plugins(*names: str) -> dict[str, dict[str, Any]]:
    """Run ``cadenza plugins --json`` loading only ``names``; its entries by plugin name.

    The command runs as a user would run it: in a fresh interpreter (the one
    running the tests, ``python -m cadenza``), with ``CADENZA_LOAD_PLUGINS`` set
    to ``names`` (none: no installed plugin) and ``CADENZA_TRACE_HOOKS`` unset,
    so the plugin is found through its installed entry point. Each entry has
    ``distribution``, ``version``, ``entry_point``, ``status``, ``hooks``,
    ``registrations`` (``[{"hook": ..., "name": ...}]``) and ``error``; the
    built-ins are ``"cadenza (built-in)"``. A failing command raises
    ``AssertionError`` quoting its stderr.
    """
    env = {**os.environ, "CADENZA_LOAD_PLUGINS": ",".join(names)}
    env.pop("CADENZA_TRACE_HOOKS", None)
    done = subprocess.run(
        [sys.executable, "-m", "cadenza", "plugins", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"`cadenza plugins --json` exited {done.returncode}:\n{done.stderr.strip()}"
        )
    return {entry["name"]: entry for entry in json.loads(done.stdout)}

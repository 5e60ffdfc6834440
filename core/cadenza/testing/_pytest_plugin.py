"""What the fixtures of Cadenza's pytest plugin do; the plugin module registers them.

The plugin itself is the top-level module ``_cadenza_pytest`` (the ``pytest11``
entry point ``cadenza``): it sits outside this package so that loading it in any
pytest session imports nothing of Cadenza, and it imports this module only when a
test uses one of its fixtures (docs/testing-plugins.md, "The pytest plugin").
"""

from __future__ import annotations

import math
import os
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any, final

import attrs
import trio
import trio.testing

from .._journal._store import Store
from .._plugins._registry import Plugins
from ._run import CapturedRun, run_captured
from ._seed_server import SeedAgentServer, serve_seed_agent


@final
@attrs.define(eq=False)
class CaptureRunner:
    """The ``captured_run`` fixture: ``await captured_run(source, ...)`` runs a workflow.

    ``source`` is YAML text, a ``dict`` or a :class:`~pathlib.Path` to a workflow
    file; the run uses ``plugins`` (the test's ``cadenza_plugins``) and returns the
    :class:`CapturedRun`. Agents write their files under ``output_dir`` (in the
    test's ``tmp_path``; ``{run_id}`` is filled in) unless a call gives its own.
    Every run of the test is kept in ``runs``, in order.
    """

    plugins: Plugins
    output_dir: Path
    runs: list[CapturedRun] = attrs.field(factory=list)

    async def __call__(
        self,
        source: Mapping[str, Any] | str | os.PathLike[str],
        *,
        inputs: Mapping[str, Any] | None = None,
        workflow: str | None = None,
        environ: Mapping[str, str] | None = None,
        base_dir: Path | None = None,
        rng: random.Random | None = None,
        store: Store | None = None,
        output_dir: Path | str | None = None,
    ) -> CapturedRun:
        """Run ``source`` like :func:`cadenza.testing.run_captured`, with the test's plugins."""
        if isinstance(source, str) and _looks_like_a_file_name(source):
            raise TypeError(
                f"captured_run({source!r}): a str is read as YAML text, not as a file "
                f"name; to run the file, pass a path: captured_run(pathlib.Path({source!r}))."
            )
        captured = await run_captured(
            source,
            plugins=self.plugins,
            inputs=inputs,
            workflow=workflow,
            environ=environ,
            base_dir=base_dir,
            rng=rng,
            store=store,
            output_dir=self.output_dir if output_dir is None else output_dir,
        )
        self.runs.append(captured)
        return captured


def _looks_like_a_file_name(text: str) -> bool:
    """One line ending in ``.yaml``/``.yml``: meant as a path, though a str is YAML text."""
    text = text.strip()
    return "\n" not in text and text.endswith((".yaml", ".yml"))


async def start_seed_server(nursery: trio.Nursery) -> SeedAgentServer:
    """The ``seed_server`` fixture: a :class:`SeedAgentServer` serving in ``nursery``.

    Refuses to start under an autojumping clock: the server talks over real
    sockets, and such a clock jumps past every wait for them, so timeouts and
    Retry-After delays would fire before the answers arrive.
    """
    clock = trio.lowlevel.current_clock()
    if isinstance(clock, trio.testing.MockClock) and clock.autojump_threshold != math.inf:
        raise RuntimeError(
            "seed_server talks over real loopback sockets, but this test runs on an "
            "autojumping MockClock (cadenza_clock or autojump_clock), which jumps past "
            "every wait for them. Drop the clock fixture from this test: run "
            "seed_server tests on the real clock and keep their delays short."
        )
    server: SeedAgentServer = await nursery.start(serve_seed_agent)
    return server

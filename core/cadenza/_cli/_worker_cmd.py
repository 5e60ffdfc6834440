"""``cadenza worker``: claim queued runs from a shared journal and run them until stopped."""

from __future__ import annotations

import logging
import signal
import sys

import click
import trio

from .._journal._queue import SupportsRunQueue, queue_unsupported
from .._journal._store import open_store
from .._logging import configure_logging_on_import
from .._workers._loop import DEFAULT_LEASE, Worker, default_worker_name
from ._common import fail, get_plugins, get_state, handle_errors, journal_url, require_writable
from ._execute import default_output_dir, out_option, store_option
from ._exit import ExitCode


async def _serve(worker: Worker) -> bool:
    """Run ``worker`` until it is done; True when a signal stopped it."""
    stopped = False
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as receiver:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                nonlocal stopped
                async for signum in receiver:
                    name = signal.Signals(signum).name
                    if stopped:  # a second signal: stop at once, releasing nothing
                        nursery.cancel_scope.cancel()
                        return
                    stopped = True
                    click.echo(
                        f"{name}: stopping; local runs are cancelled and go back to the queue "
                        "(again to stop at once)",
                        err=True,
                    )
                    worker.stop()

            async def serve() -> None:
                await worker.serve()
                nursery.cancel_scope.cancel()

            nursery.start_soon(watch)
            nursery.start_soon(serve)
    return stopped


@click.command("worker")
@store_option
@click.option(
    "--lease",
    type=click.FloatRange(min=0.5),
    default=DEFAULT_LEASE,
    show_default=True,
    metavar="SECONDS",
    help="How long a claim lasts unrenewed: a dead worker's runs are taken over after it.",
)
@click.option(
    "--max-runs", type=click.IntRange(min=1), default=None, metavar="N", help="Stop after N runs."
)
@click.option(
    "--exit-when-idle",
    is_flag=True,
    help="Stop once no run is queued or held by any worker (for batch jobs and tests).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Runs this worker runs at once.",
)
@click.option("--name", metavar="NAME", default=None, help="Worker name (default: host-pid).")
@out_option
@handle_errors
def worker(
    store_url: str | None,
    lease: float,
    max_runs: int | None,
    exit_when_idle: bool,
    concurrency: int,
    name: str | None,
    out_dir: str | None,
) -> None:
    """Claim queued runs from the journal and run them, until stopped (Ctrl-C, SIGTERM).

    Each run runs as `cadenza run` would; a run whose worker died is taken
    over once its lease expires and resumed from the journal (successes are
    kept, in-flight calls repeat with the same idempotency key). Ctrl-C or
    SIGTERM stops claiming, cancels local runs and gives them back to the
    queue. Exit codes: 0 stopped after --max-runs or --exit-when-idle, 2 a
    store that cannot hold a queue, 130 stopped by a signal.
    """
    state = get_state()
    configure_logging_on_import(level=logging.DEBUG if state.debug else logging.WARNING)
    plugins = get_plugins()
    store = open_store(journal_url(store_url), plugins.registered("cadenza_stores"))
    try:
        require_writable(store)
        if not isinstance(store, SupportsRunQueue):
            fail(f"error: {queue_unsupported(store)}", ExitCode.BAD_INPUT)
        loop = Worker(
            store=store,
            plugins=plugins,
            name=name or default_worker_name(),
            lease=lease,
            concurrency=concurrency,
            max_runs=max_runs,
            exit_when_idle=exit_when_idle,
            output_dir=out_dir or default_output_dir(),
            report=lambda line: click.echo(line, err=True),
        )
        stopped = trio.run(_serve, loop)
    finally:
        store.close()
    click.echo(f"worker {loop.name} stopped after {loop.claimed} run(s)", err=True)
    if stopped:
        sys.exit(int(ExitCode.INTERRUPTED))

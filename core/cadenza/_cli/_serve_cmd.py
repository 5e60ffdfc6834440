"""``cadenza serve``: the web dashboard over the journal (docs/dashboard.md)."""

from __future__ import annotations

import os
import signal

import click
import trio

from .._journal._store import open_store
from ._common import fail, get_plugins, handle_errors, journal_url
from ._execute import store_option
from ._exit import ExitCode

MAX_STREAMS = 64  # the dashboard's defaults (_serve._streams), kept here: its imports are optional
MAX_STREAMS_PER_CLIENT = 8
TOKEN_ENV = "CADENZA_DASHBOARD_TOKEN"


async def _serve(
    store: object,
    host: str,
    port: int,
    token: str | None,
    max_streams: int,
    per_client: int,
    approver: str,
    read_only: bool,
) -> None:
    from .._serve import serve_dashboard

    stop = trio.Event()

    async def on_signals() -> None:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                if stop.is_set():
                    raise KeyboardInterrupt  # second signal: stop at once
                stop.set()

    async with trio.open_nursery() as nursery:

        async def server(task_status: trio.TaskStatus[list[str]]) -> None:
            await serve_dashboard(
                store,  # type: ignore[arg-type]
                host=host, port=port, token=token, plugins=get_plugins(), stop=stop,
                max_streams=max_streams, max_streams_per_client=per_client,
                approver=approver, read_only=read_only, task_status=task_status,
            )  # fmt: skip
            nursery.cancel_scope.cancel()  # stopped: stop watching signals too

        nursery.start_soon(on_signals)
        urls = await nursery.start(server)
        for url in urls:
            click.echo(f"dashboard on {url}/  (Ctrl-C to stop)", err=True)


def _os_error(exc: BaseException) -> OSError | None:
    """The OSError (cannot bind) inside trio's exception groups, if that is what this is."""
    if isinstance(exc, OSError):
        return exc
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            found = _os_error(inner)
            if found is not None:
                return found
    return None


@click.command("serve")
@store_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8787, show_default=True, help="TCP port."
)
@click.option(
    "--token",
    metavar="TOKEN",
    default=None,
    help=f"Access token (or ${TOKEN_ENV}); required beyond loopback, generated if not given. "
    "At least 16 of: letters, digits, - . _ ~",
)
@click.option(
    "--max-streams",
    type=click.IntRange(1),
    default=MAX_STREAMS,
    show_default=True,
    help="Live event streams served at once; beyond it, 429.",
)
@click.option(
    "--max-streams-per-client",
    type=click.IntRange(1),
    default=MAX_STREAMS_PER_CLIENT,
    show_default=True,
    help="Live event streams per client address; beyond it, 429.",
)
@click.option(
    "--approver",
    metavar="NAME",
    default="dashboard",
    show_default=True,
    help="The name approval decisions made with the dashboard's buttons are recorded under "
    "(buttons need a token; a step listing approvers needs NAME among them).",
)
@click.option(
    "--read-only", is_flag=True, help="Show approval gates without buttons to decide them."
)
@handle_errors
def serve(
    store_url: str | None,
    host: str,
    port: int,
    token: str | None,
    max_streams: int,
    max_streams_per_client: int,
    approver: str,
    read_only: bool,
) -> None:
    """Serve a web dashboard of the journal's runs: live DAGs, steps, cancel, /metrics.

    Listens on 127.0.0.1 unless --host says otherwise; any other address needs
    a token, generated and printed once to stderr if --token and
    $CADENZA_DASHBOARD_TOKEN are unset. Exit codes: 0 stopped by Ctrl-C or
    SIGTERM, 2 bad options or unreadable journal.
    """
    try:
        from .._serve import needs_token, new_token, token_problem
    except ImportError as exc:  # the dashboard's web stack is an optional extra
        fail(
            f"error: the dashboard needs {exc.name or 'its web server'}: "
            "pip install 'cadenza[dashboard]'",
            ExitCode.BAD_INPUT,
        )

    given = "--token" if token else f"${TOKEN_ENV}"
    token = token or os.environ.get(TOKEN_ENV) or None
    problem = None if token is None else token_problem(token)
    if problem is not None:
        fail(
            f"error: {given} cannot be used as the dashboard token: {problem}.", ExitCode.BAD_INPUT
        )
    if token is None and needs_token(host):
        token = new_token()
        click.echo(
            f"{host} is not a loopback address: every request needs this token "
            f"(open http://{host}:{port}/?token=... once in a browser, or send "
            "'Authorization: Bearer ...'):",
            err=True,
        )
        click.echo(f"  token: {token}", err=True)
    url = journal_url(store_url)
    store = open_store(url, get_plugins().registered("cadenza_stores"))
    try:
        trio.run(
            _serve, store, host, port, token, max_streams, max_streams_per_client, approver,
            read_only,
        )  # fmt: skip
    except (OSError, BaseExceptionGroup) as exc:
        error = _os_error(exc)
        if error is None:
            raise
        fail(
            f"error: cannot listen on {host}:{port}: {error.strerror or error}", ExitCode.BAD_INPUT
        )
    finally:
        store.close()

"""``cadenza approve RUN STEP``: decide a step's approval gate, from any process.

The decision is recorded in the journal (``Store.record_decision``); a run
whose process is alive picks it up within a second
(``_scheduler._approvals.APPROVAL_CHECK_INTERVAL``), a stopped one when it is
resumed (``cadenza resume RUN``). So this works whether or not the run's
process is alive, and on any machine that can write the journal.
"""

from __future__ import annotations

import getpass

import click

from .._journal._decisions import record_approval
from .._journal._readback import effective_status
from ._common import handle_errors
from ._execute import store_option
from ._history import existing_store, require_run


def _default_user() -> str:
    """The name a decision is recorded under without ``--as``: the login user."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no USER/LOGNAME and no passwd entry
        return "unknown"


@click.command("approve")
@click.argument("run_id", metavar="RUN")
@click.argument("step_id", metavar="STEP")
@click.option("--reject", is_flag=True, help="Reject instead: the step fails, its dependents skip.")
@click.option("--reason", default="", metavar="TEXT", help="Why; kept with the decision.")
@click.option(
    "--as",
    "as_name",
    default=None,
    metavar="NAME",
    help="Decide as NAME (default: the login user); must be one of the step's approvers "
    "when it lists any.",
)
@store_option
@handle_errors
def approve(
    run_id: str,
    step_id: str,
    reject: bool,
    reason: str,
    as_name: str | None,
    store_url: str | None,
) -> None:
    """Approve (or --reject) the approval gate of step STEP in run RUN.

    The run, live or stopped, applies the decision: within a second if its
    process is running, else at `cadenza resume RUN`. Exit codes: 0 recorded;
    2 unknown run, no open gate for STEP (never asked, already decided,
    expired), a NAME not among the step's approvers, or an unwritable journal.
    """
    by = as_name if as_name is not None else _default_user()
    if not by.strip():
        raise click.BadParameter("must not be empty", param_hint="--as")
    with existing_store(store_url) as store:
        record = require_run(store, run_id, store_url)
        assert store is not None
        gate = record_approval(store, run_id, step_id, approved=not reject, by=by, reason=reason)
        verdict = "rejected" if reject else "approved"
        if effective_status(record) == "running":
            then = "the run applies it within a second."
        else:
            then = f"the run is not running: continue it with `cadenza resume {run_id}`."
        click.echo(f"step {gate.step_id} of run {run_id} {verdict} by {by}; {then}")

"""Every error Cadenza raises, rooted at :class:`CadenzaError`.

The hierarchy::

    CadenzaError
    ├── WorkflowError            the workflow file is invalid (carries every Problem)
    ├── ExpressionError          a ``${{ }}`` or ``when:`` expression failed to evaluate
    │   └── ExpressionLimitError     it needed more steps than one evaluation may take
    ├── PluginError              a plugin could not be loaded or registered
    │   ├── DuplicateRegistrationError   two distributions registered one name
    │   └── PluginExitError          plugin code tried to exit or interrupt the process
    ├── StoreError               the journal store cannot be used (``cadenza.store``)
    │   ├── StoreReadOnlyError       the journal can be read, not written
    │   ├── StoreFullError           the disk holding the journal is full
    │   ├── LeaseLostError           a worker's claim on a queued run was taken over
    │   └── UnknownRunError          no run with this id is in the journal
    ├── ResumeError              a run cannot be resumed as asked
    ├── ApprovalError            an approval decision cannot be recorded as asked
    ├── GraphvizError            Graphviz was asked for and is missing, failed, or timed out
    └── AgentError               an agent call failed; ``retryable`` says what to do next
        ├── RetryableError       transient: try again (optionally after ``retry_after``)
        │   ├── AgentTimeoutError    the attempt ran past its timeout
        │   ├── UnavailableError     no agent can take the call right now
        │   ├── QualityError         the output scored below the step's min_quality
        │   └── WorkerLostError      an executor's worker died during the call
        ├── PermanentError       retrying cannot help (bad request, auth, missing agent)
        └── BudgetExceededError  the call would exceed a budget

Exceptions carry the objects involved (``.step_id``, ``.agent``, ``.plugin``,
``.problems``, ``.path``, ``.run_id``) so callers can act on them without
parsing messages. Users import them from the public namespaces: ``cadenza``
(most) and ``cadenza.store`` (the store errors); :class:`GraphvizError` is not
public (``cadenza graph`` reports it, exit code 2).

Outside this tree, on purpose: ``cadenza.testing.ScriptExhaustedError`` (an
``AssertionError``: a test's script ran out, a bug in the test), and helper
exceptions that never leave their package, each turned into one of the errors
above, a Problem or a reply where it is caught: ``_expr._budget.LimitExceeded``
and ``_expr._values.NotJSONError`` (become :class:`ExpressionError`),
``_agents._template._TemplateSyntaxError`` (becomes :class:`PermanentError`),
``_yaml._TooLarge`` (becomes a Problem), ``_serve._app.BadRequest`` (an HTTP
400 reply) and ``_graph._dag.CycleError`` (the loader reports cycles as a
:class:`WorkflowError` first, so it only guards the graph code's own invariant).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._problems import Problem


class CadenzaError(Exception):
    """Root of every error Cadenza raises on purpose."""


class WorkflowError(CadenzaError):
    """A workflow file is invalid; ``problems`` lists every problem found, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        super().__init__(self.render())

    def render(self) -> str:
        """Return all problems, one block each, in file order."""
        return "\n".join(p.render() for p in self.problems)


class ExpressionError(CadenzaError):
    """An expression could not be compiled or evaluated.

    ``expression`` is the source text and ``where`` says which field it came from.
    """

    def __init__(self, message: str, *, expression: str, where: str = "") -> None:
        self.expression = expression
        self.where = where
        prefix = f"{where}: " if where else ""
        super().__init__(f"{prefix}{message} in expression {expression!r}")


class ExpressionLimitError(ExpressionError):
    """An expression needed more evaluation steps than one evaluation may take.

    ``limit`` is that limit, in steps; the message says how to make the
    expression do less.
    """

    def __init__(self, message: str, *, expression: str, where: str = "", limit: int) -> None:
        self.limit = limit
        super().__init__(message, expression=expression, where=where)


class PluginError(CadenzaError):
    """A plugin could not be loaded, is incompatible, or misbehaved while registering."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class DuplicateRegistrationError(PluginError):
    """Two plugins registered the same name for the same hook."""

    def __init__(self, *, hook: str, name: str, first: str, second: str) -> None:
        self.hook = hook
        self.name = name
        self.first = first
        self.second = second
        super().__init__(
            f"{hook}: {name!r} is registered by both {first} and {second}. "
            f"Uninstall one of them, or limit loading with CADENZA_LOAD_PLUGINS.",
            plugin=second,
        )


class PluginExitError(PluginError):
    """Plugin code tried to end the process instead of raising an exception.

    :func:`~cadenza._plugins._registry.call_plugin` raises it in place of a ``SystemExit``, a
    ``KeyboardInterrupt`` the plugin raised itself, or any other
    ``BaseException`` that is not trio's cancellation. It is an ordinary
    exception, so every caller's ``except Exception`` treats it as the plugin
    bug it is. ``function`` names the plugin function; ``raised`` is the
    original exception (also the ``__cause__``).
    """

    def __init__(self, function: str, raised: BaseException) -> None:
        self.function = function
        self.raised = raised
        super().__init__(
            f"{function} raised {raised!r}: plugin code must raise an exception, "
            "never exit or interrupt the process."
        )


class StoreError(CadenzaError):
    """The journal store cannot be used; the message says why and what to do."""

    def __init__(self, message: str, *, url: str = "") -> None:
        self.url = url
        super().__init__(message)


class StoreReadOnlyError(StoreError):
    """The journal cannot be written: its file, folder or file system is read-only.

    ``path`` is the journal's absolute path, ``reason`` what makes it
    read-only (``"the file is on a read-only file system"``) and ``action``
    what needed to write (``"cancel"``, ``"run"``). ``creating`` is True
    when there is no journal yet and it cannot be created.
    """

    def __init__(
        self,
        path: str,
        *,
        reason: str,
        action: str = "writing",
        creating: bool = False,
        url: str = "",
    ) -> None:
        self.path = path
        self.reason = reason
        self.action = action
        self.creating = creating
        if creating:
            message = (
                f"cannot create the journal at {path}: {reason}. Make that folder writable, "
                "or pass --store with a path in a writable folder."
            )
        else:
            message = (
                f"the journal at {path} is read-only ({reason}): {action} needs write access. "
                "Make it writable, or copy the journal (with any -wal file beside it) to a "
                "writable folder and pass --store with the copy's path."
            )
        super().__init__(message, url=url)


class StoreFullError(StoreError):
    """The disk (or quota) holding the journal is full; what was committed before is kept."""

    def __init__(self, path: str, *, detail: str = "", url: str = "") -> None:
        self.path = path
        more = f" ({detail})" if detail else ""
        super().__init__(
            f"the disk holding the journal at {path} is full{more}. Everything committed "
            "before is kept: free some space, then finish the run with `cadenza resume RUN` "
            "(`cadenza runs` lists it as interrupted).",
            url=url,
        )


class LeaseLostError(StoreError):
    """A worker's claim on a queued run is no longer its own: the store refused its write.

    Another worker claimed the run after this one's lease expired (a newer
    fencing token), or the run was released, finished or cancelled. The
    refused batch wrote nothing; the stale worker stops the run locally and
    writes nothing more, since the run's new holder now owns its journal.

    .. versionadded:: 0.2
    """

    def __init__(self, run_id: str, *, worker: str, token: int, url: str = "") -> None:
        self.run_id = run_id
        self.worker = worker
        self.token = token
        super().__init__(
            f"lease lost: worker {worker} no longer holds run {run_id} (claim {token} is "
            "stale: its lease expired and another worker took the run over, or the run was "
            "released or cancelled). Nothing was written; the run's current holder carries "
            "it on (cadenza runs shows which worker).",
            url=url,
        )


class UnknownRunError(StoreError):
    """No run with this id is in the journal."""

    def __init__(self, run_id: str, *, url: str = "", recent: Sequence[str] = ()) -> None:
        self.run_id = run_id
        hint = f" Recent runs: {', '.join(recent)}." if recent else " The journal has no runs."
        super().__init__(
            f"no run {run_id!r} in the journal {url}.{hint} List them with: cadenza runs",
            url=url,
        )


class ResumeError(CadenzaError):
    """A run cannot be resumed as asked; the message says why and what to do."""

    def __init__(self, message: str, *, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(message)


class ApprovalError(CadenzaError):
    """An approval decision cannot be recorded: no such gate, not open, or not yours to make.

    The message says why and what to do (``cadenza status RUN`` lists open gates).
    """

    def __init__(self, message: str, *, run_id: str, step_id: str) -> None:
        self.run_id = run_id
        self.step_id = step_id
        super().__init__(message)


class GraphvizError(CadenzaError):
    """Graphviz was asked for and is missing, failed, or timed out."""


class AgentError(CadenzaError):
    """An agent call failed. ``retryable`` tells the scheduler whether to try again."""

    retryable: bool = False

    def __init__(
        self, message: str, *, agent: str | None = None, step_id: str | None = None
    ) -> None:
        self.agent = agent
        self.step_id = step_id
        super().__init__(message)


class RetryableError(AgentError):
    """A transient failure; ``retry_after`` (seconds) is the server's requested delay, if any.

    ``rate_limited`` marks a provider's "too many requests" (HTTP 429): the
    provider is healthy but busy, so it neither trips a circuit breaker nor,
    by default, uses up the step's attempts.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        rate_limited: bool = False,
        agent: str | None = None,
        step_id: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        super().__init__(message, agent=agent, step_id=step_id)


class AgentTimeoutError(RetryableError):
    """An attempt ran past its per-attempt timeout and was cancelled."""


class UnavailableError(RetryableError):
    """No agent could take the call (all busy elsewhere, unhealthy, or circuit open)."""


class QualityError(RetryableError):
    """The output scored below the step's ``min_quality``; ``findings`` say why.

    Retryable: the next attempt goes to another agent when the router has one.
    """

    def __init__(
        self,
        message: str,
        *,
        score: float,
        findings: Sequence[str] = (),
        agent: str | None = None,
        step_id: str | None = None,
    ) -> None:
        self.score = score
        self.findings = tuple(findings)
        super().__init__(message, agent=agent, step_id=step_id)


class WorkerLostError(RetryableError):
    """The worker running a call died before it answered (killed, crashed, out of memory).

    Retryable: the executor replaces the worker, and the next attempt may well
    succeed. Raised by executors (``cadenza.plugins.Executor``), so an agent that
    runs work through one passes it on as it is.
    """


class PermanentError(AgentError):
    """Retrying cannot help: the request is wrong, unauthorised, or cannot be served."""


class BudgetExceededError(AgentError):
    """The call would exceed a run, step or agent budget."""

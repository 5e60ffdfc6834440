"""The ``python`` agent kind: a Python callable named by its import path.

``function: "tasks:build"`` imports module ``tasks`` (from ``search_path``,
by default the workflow file's directory, then ``sys.path``) and calls
``build(**inputs)``; with ``pass_request: true`` it calls ``build(request)``
with the whole :class:`~cadenza.AgentRequest` instead. ``async def`` callables
are awaited on trio; plain functions run on the agent's executor
(``executor:``): on ``local`` (the default) in a worker thread, at most
``max_concurrent`` (default 4) at once per agent; on ``process`` or a cluster
executor in a worker process, called there by import path
(``_python_call``), at most ``max_concurrent`` at once (default: as many as
the executor has workers). A cancelled call on ``process`` kills its worker;
on ``local`` the thread is abandoned and finishes in the background.

A returned :class:`~cadenza.AgentResult` is used as is; anything else is the
output and must be JSON-serialisable. Exceptions: a Cadenza ``AgentError``
passes through; inputs that do not fit the signature, a missing module or
attribute, an output that is not JSON, and any other exception are
``PermanentError``, except exception classes listed in ``retry_on`` (matched by
name or dotted path, subclasses included), which are ``RetryableError``.
"""

from __future__ import annotations

import contextlib
import difflib
import functools
import importlib
import inspect
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import attrs

from cadenza._agents._contract import AgentRequest, AgentResult
from cadenza._agents._json_output import not_json
from cadenza._agents._python_call import call_function
from cadenza._errors import AgentError, PermanentError, RetryableError
from cadenza._executors._contract import Executor
from cadenza._executors._local import LocalExecutor
from cadenza._executors._scope import executor_for
from cadenza._spec._workflow import AgentConfig

if TYPE_CHECKING:  # imported where used: registering this kind (every CLI command) needs no trio
    import trio

DEFAULT_THREADS = 4
"""Worker threads per agent for synchronous callables when ``max_concurrent`` is unset."""

_DOTTED = r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*"
_FUNCTION = re.compile(rf"^({_DOTTED}):({_DOTTED})$")
_MESSAGE_LIMIT = 500


def _check_function(instance: object, attribute: attrs.Attribute[Any], value: str) -> None:
    if not _FUNCTION.match(value):
        raise ValueError(
            f"function: expected 'module:attribute' such as 'tasks:build' or "
            f"'my_package.tasks:Builder.run', got {value!r}"
        )


@attrs.frozen(kw_only=True)
class PythonOptions:
    """``options:`` of a ``python`` agent.

    ``search_path`` is a directory relative to the workflow file, put first on
    ``sys.path`` (and left there, so the callable's own later imports work) before
    the module is imported; ``null`` leaves ``sys.path`` alone. ``retry_on``
    lists exception class names (``TimeoutError``, ``requests.ConnectionError``)
    that make a call retryable instead of failing the step.
    """

    function: str = attrs.field(validator=_check_function)
    search_path: str | None = "."
    pass_request: bool = False
    retry_on: tuple[str, ...] = ()


def _short(text: str) -> str:
    return text if len(text) <= _MESSAGE_LIMIT else text[: _MESSAGE_LIMIT - 1] + "…"


def _is_async(fn: Callable[..., Any]) -> bool:
    if inspect.iscoroutinefunction(fn):
        return True
    # An instance of a class with ``async def __call__``.
    call = getattr(fn, "__call__", None)  # noqa: B004 - reading the method, not testing callability
    return not inspect.isroutine(fn) and inspect.iscoroutinefunction(call)


def _boxed(fn: Callable[[], Any]) -> list[Any]:
    return [fn()]


@attrs.define(eq=False)
class PythonAgent:
    """An agent that calls a Python function in this process."""

    name: str
    options: PythonOptions
    capabilities: frozenset[str] = frozenset()
    search_dir: str | None = None
    threads: int = DEFAULT_THREADS
    config: AgentConfig | None = attrs.field(default=None, repr=False)
    """The agent's configuration: which executor it runs on (``executor_for``)."""
    _fn: Callable[..., Any] | None = attrs.field(default=None, init=False, repr=False)
    _resolving: trio.Lock | None = attrs.field(default=None, init=False, repr=False)
    _limiter: trio.CapacityLimiter | None = attrs.field(default=None, init=False, repr=False)

    @classmethod
    def from_config(cls, config: AgentConfig) -> PythonAgent:
        """Build the agent; the module is imported at the first call, not here."""
        options = config.options_as(PythonOptions)
        search_dir = None
        if options.search_path is not None:
            search_dir = str((config.base_dir / options.search_path).resolve())
        return cls(
            name=config.name,
            options=options,
            capabilities=config.capabilities,
            search_dir=search_dir,
            threads=config.max_concurrent or DEFAULT_THREADS,
            config=config,
        )

    # -- resolving the callable ------------------------------------------------

    def _error(self, message: str, request: AgentRequest | None = None) -> PermanentError:
        return PermanentError(
            f"python agent {self.name!r}: {message}",
            agent=self.name,
            step_id=request.step_id if request else None,
        )

    def _import(self) -> Callable[..., Any]:
        module_name, _, attr_path = self.options.function.partition(":")
        if self.search_dir is not None and self.search_dir not in sys.path:
            sys.path.insert(0, self.search_dir)
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name is not None and (module_name + ".").startswith(exc.name + "."):
                where = f"{self.search_dir} or sys.path" if self.search_dir else "sys.path"
                raise self._error(
                    f"cannot import module {module_name!r} for function "
                    f"{self.options.function!r}: no module {exc.name!r} in {where}. "
                    f"Check the module name, or set search_path to its directory."
                ) from exc
            raise self._error(
                f"importing module {module_name!r} failed: {exc}. "
                f"Install the missing package in the environment running cadenza."
            ) from exc
        except Exception as exc:
            raise self._error(
                f"importing module {module_name!r} failed: {type(exc).__name__}: {_short(str(exc))}"
            ) from exc
        obj: Any = module
        done: list[str] = []
        for part in attr_path.split("."):
            if not hasattr(obj, part):
                owner = f"{module_name}:{'.'.join(done)}" if done else f"module {module_name!r}"
                public = [n for n in dir(obj) if not n.startswith("_")]
                close = difflib.get_close_matches(part, public, n=3)
                hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise self._error(
                    f"{owner} has no attribute {part!r} (function {self.options.function!r}).{hint}"
                )
            obj = getattr(obj, part)
            done.append(part)
        if not callable(obj):
            raise self._error(
                f"{self.options.function!r} is a {type(obj).__name__}, not a callable; "
                f"point function at a function or class"
            )
        return obj  # type: ignore[no-any-return]

    async def _resolve(self) -> Callable[..., Any]:
        import trio

        if self._fn is not None:
            return self._fn
        if self._resolving is None:
            self._resolving = trio.Lock()
        async with self._resolving:
            if self._fn is None:
                # Importing runs module code, which may be slow: keep trio responsive.
                self._fn = await trio.to_thread.run_sync(self._import)
        return self._fn

    # -- calling ---------------------------------------------------------------

    def _arguments(
        self, fn: Callable[..., Any], request: AgentRequest
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args: tuple[Any, ...] = (request,) if self.options.pass_request else ()
        kwargs: dict[str, Any] = {} if self.options.pass_request else dict(request.inputs)
        try:
            signature = inspect.signature(fn)
        except (TypeError, ValueError):  # builtins without a signature: let the call decide
            return args, kwargs
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise self._error(self._mismatch(signature, kwargs, exc), request) from exc
        return args, kwargs

    def _mismatch(
        self, signature: inspect.Signature, kwargs: dict[str, Any], exc: TypeError
    ) -> str:
        bare = signature.replace(
            parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
            return_annotation=signature.empty,
        )
        target = f"{self.options.function}{bare}"
        if self.options.pass_request:
            return f"{target} cannot be called with the request as its one argument: {exc}"
        params = signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in params.values())
        keywordable = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
        missing = [
            n
            for n, p in params.items()
            if p.kind in keywordable and p.default is p.empty and n not in kwargs
        ]
        unexpected = (
            []
            if takes_any
            else [k for k in kwargs if k not in params or params[k].kind not in keywordable]
        )
        problems = []
        if missing:
            problems.append("missing input " + ", ".join(repr(n) for n in missing))
        if unexpected:
            problems.append("unexpected input " + ", ".join(repr(n) for n in unexpected))
        detail = "; ".join(problems) or str(exc)
        given = ", ".join(sorted(kwargs)) or "none"
        return (
            f"the step's inputs do not fit {target}: {detail} (inputs given: {given}). "
            f"Rename the step's inputs to match the parameters, or accept **kwargs."
        )

    def _retryable(self, exc: BaseException) -> bool:
        names = set(self.options.retry_on)
        return any(
            cls.__name__ in names or f"{cls.__module__}.{cls.__qualname__}" in names
            for cls in type(exc).__mro__
        )

    async def run(self, request: AgentRequest) -> AgentResult:
        """Call the function with the request's inputs; see the module doc for errors."""
        fn = await self._resolve()
        args, kwargs = self._arguments(fn, request)
        executor = self._executor()
        local = isinstance(executor, LocalExecutor)
        if _is_async(fn) and not local:
            raise self._error(
                f"{self.options.function} is an async function: it runs on trio in this "
                f"process, so it cannot run on executor {self._executor_name!r}. Make it a "
                f"plain def (CPU work), or set executor: local.",
                request,
            )
        try:
            if _is_async(fn):
                value = await fn(*args, **kwargs)
            elif local:
                async with self._limit(local=True):
                    # Boxed, so a returned awaitable (from a decorator's sync wrapper)
                    # reaches us to be awaited on trio instead of tripping trio's check.
                    [value] = await executor.run(_boxed, functools.partial(fn, *args, **kwargs))
                if inspect.isawaitable(value):
                    value = await value
            else:
                if self.options.pass_request:  # its callbacks stay in this process
                    args = (attrs.evolve(request, progress=None, delegate=None),)
                async with self._limit(local=False):
                    value = await executor.run(
                        call_function, self.options.function, self.search_dir, args, kwargs
                    )
        except AgentError:
            raise
        except Exception as exc:
            message = f"{self.options.function} raised {type(exc).__name__}: {_short(str(exc))}"
            if self._retryable(exc):
                raise RetryableError(
                    f"python agent {self.name!r}: {message}",
                    agent=self.name,
                    step_id=request.step_id,
                ) from exc
            hint = " (list its class in retry_on to retry it)"
            raise self._error(message + hint, request) from exc
        result = value if isinstance(value, AgentResult) else AgentResult(output=value)
        if where := not_json(result.output):
            raise self._error(
                f"{self.options.function} returned a {type(result.output).__name__}, which is "
                f"not JSON-serialisable ({where}). Return dicts, lists, strings, numbers, "
                f"booleans or None.",
                request,
            )
        return result

    @property
    def _executor_name(self) -> str:
        return self.config.executor if self.config is not None else "local"

    def _executor(self) -> Executor:
        if self.config is None:  # built by hand, without a config: today's threads
            return executor_for(AgentConfig(name=self.name, kind="python"))
        try:
            return executor_for(self.config)
        except LookupError as exc:
            raise self._error(str(exc)) from exc

    def _limit(self, *, local: bool) -> Any:
        """This agent's own bound on calls at once (``max_concurrent``; 4 threads on local)."""
        import trio

        if self._limiter is None:
            if self.config is not None and self.config.max_concurrent:
                self._limiter = trio.CapacityLimiter(self.config.max_concurrent)
            elif local:
                self._limiter = trio.CapacityLimiter(self.threads)
            else:  # the executor's workers are the bound
                return contextlib.nullcontext()
        return self._limiter

    async def aclose(self) -> None:
        """Nothing to release: the run's executors belong to the run."""

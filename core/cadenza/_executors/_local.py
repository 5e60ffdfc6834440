"""The ``local`` executor: a worker thread of the coordinator process (the default).

Today's behaviour of plain ``python`` functions: the call runs in a trio
worker thread. A thread cannot be stopped, so on cancellation the call is
abandoned (``abandon_on_cancel``): trio stops waiting at once, and the thread
finishes in the background with its result dropped. Work that must really stop
on a timeout belongs on the ``process`` executor.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

from ._contract import options_from

T = TypeVar("T")


def _at_least_one(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attribute.name} must be 1 or more, got {value!r}")


@attrs.frozen(kw_only=True)
class LocalOptions:
    """``options:`` of a ``local`` executor.

    ``threads`` bounds the calls of all agents on this executor at once;
    ``null`` (the default) leaves only trio's process-wide thread limit (40)
    and each agent's own limit.
    """

    threads: int | None = attrs.field(default=None, validator=_at_least_one)


class LocalExecutor:
    """Runs calls in trio worker threads of this process; cancellation abandons them."""

    def __init__(self, options: LocalOptions | None = None) -> None:
        self.options = options or LocalOptions()
        self._limiter: Any = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None = None) -> LocalExecutor:
        """The ``cadenza_executors`` factory: check ``options`` and start nothing."""
        return cls(options_from(options, LocalOptions, "local"))

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call ``fn(*args)`` in a worker thread; a cancelled call is abandoned, not stopped."""
        import trio

        if self._limiter is None and self.options.threads is not None:
            self._limiter = trio.CapacityLimiter(self.options.threads)
        return await trio.to_thread.run_sync(
            fn, *args, abandon_on_cancel=True, limiter=self._limiter
        )

    async def aclose(self) -> None:
        """Nothing to release: threads end with their calls."""

    def __repr__(self) -> str:
        return f"LocalExecutor(threads={self.options.threads!r})"

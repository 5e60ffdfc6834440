"""``options:`` of a ``dask`` executor: a scheduler's address, or the LocalCluster to start.

Checked by the factory (which starts nothing) so a workflow with a bad option
fails ``cadenza validate`` at the entry's file:line. Options that shape a
LocalCluster (``workers``, ``threads_per_worker``, ``processes``,
``allowed_failures``, ``dashboard_address``) are an error beside ``address``:
a running scheduler's workers are whatever was started there, and silently
ignoring them would let a user believe they took effect.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from typing import Any

import attrs

ADDRESS_SCHEMES = ("tcp", "tls")
"""Schemes a scheduler address may use (the ones ``dask scheduler`` listens on by default)."""

_ADDRESS = re.compile(r"^(?P<scheme>[a-z]+)://(?P<host>\[[0-9a-fA-F:]+\]|[^:/\s]+):(?P<port>\d+)$")

LOCAL_CLUSTER_OPTIONS = (
    "workers",
    "threads_per_worker",
    "processes",
    "allowed_failures",
    "dashboard_address",
)


def _at_least(low: int) -> Any:
    def check(instance: object, attribute: attrs.Attribute[Any], value: int | None) -> None:
        if value is not None and value < low:
            raise ValueError(f"{attribute.name} must be {low} or more, got {value!r}")

    return check


def _address(instance: object, attribute: attrs.Attribute[Any], value: str | None) -> None:
    if value is None:
        return
    match = _ADDRESS.match(value)
    if match is None or match["scheme"] not in ADDRESS_SCHEMES:
        raise ValueError(
            f"address must look like tcp://HOST:PORT (or tls://HOST:PORT), got {value!r}; "
            f"`dask scheduler` prints it as 'Scheduler at: tcp://...'"
        )
    if not 0 < int(match["port"]) < 65536:
        raise ValueError(f"address {value!r}: the port must be between 1 and 65535")


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise ValueError(f"{attribute.name} must be more than 0 seconds, got {value!r}")


@attrs.frozen(kw_only=True)
class DaskOptions:
    """``options:`` of a ``dask`` executor.

    ``address`` connects to a running scheduler (``tcp://host:port``); without
    it, a LocalCluster is started for the run (at its first call) and shut
    down when the run ends: ``workers`` worker processes (default: the CPU
    count) of ``threads_per_worker`` threads each (default 1: CPU-bound Python
    holds the GIL, so one thread per process), as processes unless
    ``processes: false`` (threads of the coordinator: no isolation, for tests
    and I/O-bound work). ``allowed_failures`` is how many worker deaths a task
    survives inside dask before its call fails with WorkerLostError (dask's
    default, 3, unless set; 0 hands every loss straight to the step's
    ``retry:``). ``dashboard_address`` (e.g. ``127.0.0.1:8787``) serves dask's
    dashboard (needs bokeh); off by default. ``connect_timeout`` bounds
    reaching the scheduler, in seconds. ``restart_on_cancel: true`` restarts
    the worker process still running a cancelled call (dask cannot interrupt
    a task; its nanny can replace the process), at the price of a worker
    start and of any other task that worker was running (dask reruns those).
    """

    address: str | None = attrs.field(default=None, validator=_address)
    workers: int | None = attrs.field(default=None, validator=_at_least(1))
    threads_per_worker: int | None = attrs.field(default=None, validator=_at_least(1))
    processes: bool | None = None
    allowed_failures: int | None = attrs.field(default=None, validator=_at_least(0))
    dashboard_address: str | None = None
    connect_timeout: float = attrs.field(default=30.0, validator=_positive)
    restart_on_cancel: bool = False

    def __attrs_post_init__(self) -> None:
        if self.address is None:
            return
        given = [name for name in LOCAL_CLUSTER_OPTIONS if getattr(self, name) is not None]
        if given:
            raise ValueError(
                f"{', '.join(given)} shape the LocalCluster started when no address is given; "
                f"with address {self.address!r} the scheduler's own workers run the calls. "
                f"Remove {', '.join(given)}, or remove address"
            )


_TYPES: dict[str, tuple[type, ...]] = {
    "address": (str,),
    "workers": (int,),
    "threads_per_worker": (int,),
    "processes": (bool,),
    "allowed_failures": (int,),
    "dashboard_address": (str,),
    "connect_timeout": (int, float),
    "restart_on_cancel": (bool,),
}
_TYPE_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}


def options_from(options: Mapping[str, Any] | None) -> DaskOptions:
    """``options:`` as :class:`DaskOptions`; a ValueError lists every problem at once.

    The kernel's ``options_from`` is private, so this is the same check for
    this class: unknown keys (with the known ones), wrong types, then the
    field validators and the address/LocalCluster conflict.
    """
    data = dict(options or {})
    problems: list[str] = []
    clean: dict[str, Any] = {}
    for key, value in data.items():
        types = _TYPES.get(str(key))
        if types is None:
            hint = difflib.get_close_matches(str(key), _TYPES, n=1)
            problems.append(
                f"unknown option {key!r}" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            )
        elif value is not None and (
            not isinstance(value, types) or (isinstance(value, bool) and bool not in types)
        ):
            problems.append(
                f"{key}: expected {_TYPE_NAMES[types[0]]}, got {type(value).__name__} {value!r}"
            )
        elif value is not None:
            clean[str(key)] = value
    try:
        parsed = DaskOptions(**clean)
    except (TypeError, ValueError) as exc:
        problems.append(str(exc))
    else:
        if not problems:
            return parsed
    raise ValueError(
        f"bad options for a dask executor: {'; '.join(problems)}. Its options: {', '.join(_TYPES)}."
    )

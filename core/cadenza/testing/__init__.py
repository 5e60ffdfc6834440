"""Helpers for testing Cadenza plugins and workflows: fakes, faulty servers, suites.

:func:`run_captured` runs a workflow and keeps its events;
:class:`ScriptedAgent` answers from a script in-process (pair it with
:func:`scripted_agent_kind` to use it from workflow files);
:class:`SeedAgentServer` is a real loopback HTTP server speaking the seed agent
protocol, with faults (:class:`Status`, :class:`Stall`, :class:`Drop`,
:class:`MalformedJson`, :class:`Ok`) scripted per call or drawn at random,
built on :class:`LoopbackServer`, the base for any fake HTTP provider.
:class:`AgentConformance`, :class:`StoreConformance`, :class:`RunQueueConformance`,
:class:`WorkerTakeoverConformance`, :class:`RouterConformance` and
:class:`AggregatorConformance` are the contract tests a plugin subclasses;
:class:`WorkerHarness` runs ``cadenza`` commands and ``cadenza worker``
processes on one store, with :class:`CallLog` recording what the agent saw;
:func:`listed_plugins` is what ``cadenza plugins --json`` shows of it.
:class:`CaptureRunner` is the ``captured_run`` fixture of Cadenza's pytest plugin.

It needs the ``testing`` extra (``pip install 'cadenza[testing]'``); without it,
importing this module raises an ImportError that says so.
"""

from __future__ import annotations

from . import _extra  # noqa: F401  (first: a missing dependency names the extra)
from ._agent_suite import AgentConformance as AgentConformance
from ._aggregator_suite import AggregatorConformance as AggregatorConformance
from ._fake_agent import NO_DEFAULT as NO_DEFAULT
from ._fake_agent import Delay as Delay
from ._fake_agent import Responder as Responder
from ._fake_agent import ScriptedAgent as ScriptedAgent
from ._fake_agent import ScriptedAgentKind as ScriptedAgentKind
from ._fake_agent import ScriptExhaustedError as ScriptExhaustedError
from ._fake_agent import scripted_agent_kind as scripted_agent_kind
from ._listing import listed_plugins as listed_plugins
from ._loopback import Exchange as Exchange
from ._loopback import LoopbackRequest as LoopbackRequest
from ._loopback import LoopbackServer as LoopbackServer
from ._pytest_plugin import CaptureRunner as CaptureRunner
from ._queue_suite import RunQueueConformance as RunQueueConformance
from ._router_suite import RouterConformance as RouterConformance
from ._run import CapturedRun as CapturedRun
from ._run import run_captured as run_captured
from ._seed_server import ECHO as ECHO
from ._seed_server import Drop as Drop
from ._seed_server import Handler as Handler
from ._seed_server import MalformedJson as MalformedJson
from ._seed_server import Ok as Ok
from ._seed_server import Response as Response
from ._seed_server import SeedAgentServer as SeedAgentServer
from ._seed_server import SeedCall as SeedCall
from ._seed_server import Stall as Stall
from ._seed_server import Status as Status
from ._seed_server import open_seed_agent_server as open_seed_agent_server
from ._seed_server import serve_seed_agent as serve_seed_agent
from ._store_suite import StoreConformance as StoreConformance
from ._takeover_suite import WorkerTakeoverConformance as WorkerTakeoverConformance
from ._workers import CallLog as CallLog
from ._workers import LoggedCall as LoggedCall
from ._workers import WorkerHarness as WorkerHarness

for _obj in (
    CapturedRun,
    CaptureRunner,
    run_captured,
    Delay,
    ScriptedAgent,
    ScriptedAgentKind,
    ScriptExhaustedError,
    scripted_agent_kind,
    Exchange,
    LoopbackRequest,
    LoopbackServer,
    listed_plugins,
    Drop,
    MalformedJson,
    Ok,
    SeedAgentServer,
    SeedCall,
    Stall,
    Status,
    open_seed_agent_server,
    serve_seed_agent,
    StoreConformance,
    RunQueueConformance,
    WorkerTakeoverConformance,
    WorkerHarness,
    CallLog,
    LoggedCall,
    AggregatorConformance,
    AgentConformance,
    RouterConformance,
):
    _obj.__module__ = __name__
del _obj

__all__ = [
    "ECHO",
    "NO_DEFAULT",
    "AgentConformance",
    "AggregatorConformance",
    "CallLog",
    "CaptureRunner",
    "CapturedRun",
    "Delay",
    "Drop",
    "Exchange",
    "Handler",
    "LoggedCall",
    "LoopbackRequest",
    "LoopbackServer",
    "MalformedJson",
    "Ok",
    "Responder",
    "RouterConformance",
    "RunQueueConformance",
    "ScriptExhaustedError",
    "ScriptedAgent",
    "ScriptedAgentKind",
    "SeedAgentServer",
    "SeedCall",
    "Stall",
    "Status",
    "StoreConformance",
    "WorkerHarness",
    "WorkerTakeoverConformance",
    "listed_plugins",
    "open_seed_agent_server",
    "run_captured",
    "scripted_agent_kind",
    "serve_seed_agent",
]

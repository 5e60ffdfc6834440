"""Run events: what a run reports while it runs (see docs/events.md).

Every event is a frozen dataclass with a ``kind``, the run's id and a sequence
number; :func:`event_from_dict` rebuilds one from :meth:`Event.to_dict` data and
:data:`EVENT_KINDS` maps each kind to its class.
"""

from __future__ import annotations

from ._events import EVENT_KINDS as EVENT_KINDS
from ._events import AgentHealthChanged as AgentHealthChanged
from ._events import AnswersCombined as AnswersCombined
from ._events import ApprovalDecided as ApprovalDecided
from ._events import ApprovalRequested as ApprovalRequested
from ._events import AttemptFailed as AttemptFailed
from ._events import AttemptProgress as AttemptProgress
from ._events import AttemptStarted as AttemptStarted
from ._events import CircuitChanged as CircuitChanged
from ._events import CostIncurred as CostIncurred
from ._events import Event as Event
from ._events import FallbackStarted as FallbackStarted
from ._events import ObserverFailed as ObserverFailed
from ._events import OutputValidated as OutputValidated
from ._events import RouteChosen as RouteChosen
from ._events import RunFinished as RunFinished
from ._events import RunResumed as RunResumed
from ._events import RunStarted as RunStarted
from ._events import StepCacheHit as StepCacheHit
from ._events import StepCancelled as StepCancelled
from ._events import StepConflict as StepConflict
from ._events import StepFailed as StepFailed
from ._events import StepMapped as StepMapped
from ._events import StepReady as StepReady
from ._events import StepSkipped as StepSkipped
from ._events import StepSucceeded as StepSucceeded
from ._events import event_from_dict as event_from_dict
from ._public import publish as _publish

__all__ = [
    "EVENT_KINDS",
    "AgentHealthChanged",
    "AnswersCombined",
    "ApprovalDecided",
    "ApprovalRequested",
    "AttemptFailed",
    "AttemptProgress",
    "AttemptStarted",
    "CircuitChanged",
    "CostIncurred",
    "Event",
    "FallbackStarted",
    "ObserverFailed",
    "OutputValidated",
    "RouteChosen",
    "RunFinished",
    "RunResumed",
    "RunStarted",
    "StepCacheHit",
    "StepCancelled",
    "StepConflict",
    "StepFailed",
    "StepReady",
    "StepSkipped",
    "StepSucceeded",
    "event_from_dict",
]


_publish(globals(), __all__, __name__)

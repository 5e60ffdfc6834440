"""What a validator sees and returns: the ``cadenza_validators`` contract.

A step lists validators under ``validate:``; each looks at an output and
returns a :class:`Quality`: a score in [0, 1] and findings that say what is
wrong. The step's quality is the lowest score of its validators; below the
step's ``min_quality`` (1.0 unless set) the attempt fails with a
:class:`~cadenza.strategies.QualityError`, which is retried, on another agent when the
router can find one. Scores also weigh votes in aggregation and feed
adaptive routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

import attrs


@attrs.frozen(kw_only=True)
class Quality:
    """A validator's verdict on one output: ``score`` in [0, 1] and what it found."""

    score: float = attrs.field(validator=[attrs.validators.ge(0.0), attrs.validators.le(1.0)])
    findings: tuple[str, ...] = ()

    @classmethod
    def passed(cls) -> Quality:
        return cls(score=1.0)

    @classmethod
    def failed(cls, *findings: str) -> Quality:
        return cls(score=0.0, findings=findings)


@attrs.frozen(kw_only=True)
class ValidationContext:
    """Where the output came from: the step, its agent, its inputs, the workflow's folder."""

    step_id: str
    agent: str
    inputs: Mapping[str, Any] = attrs.field(factory=dict)
    base_dir: Path = Path()


class Validator(Protocol):
    """A validator, built by the factory registered with ``cadenza_validators``.

    ``factory(options)`` receives the mapping a workflow gives (``validate:
    [{validator: NAME, ...options}]``) and raises ``ValueError`` for bad
    options. ``validate`` is awaited inside the attempt (so the attempt's
    timeout bounds it); CPU-heavy checks belong in ``trio.to_thread.run_sync``.
    Raising is a bug in the validator: the attempt fails without retry.
    """

    async def validate(self, output: Any, *, context: ValidationContext) -> Quality: ...

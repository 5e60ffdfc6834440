"""``approval:`` of a step: a human decides before the step may run.

Part of what a workflow IS (the spec); the gate that waits for the decision
lives in :mod:`cadenza._scheduler._approvals`, the decisions in the journal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, final

import attrs

if TYPE_CHECKING:
    from .._expr._expressions import ValueTemplate


def _positive(instance: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None and value <= 0:
        raise ValueError(f"{attribute.name} must be > 0 seconds, got {value!r}")


@final
@attrs.frozen(kw_only=True)
class ApprovalPolicy:
    """``approval:`` of a step: wait for a person's decision before the step queues.

    ``prompt`` is the compiled text shown to the approvers (it may read
    ``inputs`` and needed steps' outputs through ``${{ }}``, rendered when the
    gate opens). ``timeout`` is how long the gate stays open, in seconds,
    counted in wall-clock time from when it opened (None: until decided).
    ``approvers`` names who may decide; empty means anyone who can reach
    the journal (or the dashboard, with its token).
    """

    prompt: ValueTemplate
    timeout: float | None = attrs.field(default=None, validator=_positive)
    approvers: tuple[str, ...] = ()

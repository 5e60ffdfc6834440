"""The approval pieces alone: Gates.restore over journaled events, open_gates read back."""

from __future__ import annotations

from typing import Any

from cadenza._journal._bus import EventBus
from cadenza._journal._decisions import open_gates
from cadenza._scheduler._approvals import Gates


def _events() -> list[dict[str, Any]]:
    return [
        {"kind": "approval_requested", "seq": 3, "step_id": "a", "prompt": "A?",
         "approvers": ["x"], "expires_at": 100.0, "at": 1.0},
        {"kind": "approval_requested", "seq": 4, "step_id": "b", "prompt": "B?",
         "approvers": [], "expires_at": None, "at": 1.0},
        {"kind": "approval_decided", "seq": 5, "step_id": "b", "approved": True, "by": "x"},
        {"kind": "approval_requested", "seq": 6, "step_id": "c", "prompt": "C?", "at": 1.0},
        {"kind": "approval_decided", "seq": 7, "step_id": "c", "approved": False, "by": "x"},
    ]  # fmt: skip


def _gates() -> Gates:
    def nothing(*args: Any) -> None:
        return None

    return Gates(
        bus=EventBus(run_id="r"), run_id="r", store=None, ready=nothing, fail=nothing,
        dispatch=nothing, start=nothing,
    )  # fmt: skip


def test_restore_reopens_undecided_requests_and_remembers_approvals() -> None:
    """Undecided: reopened as journaled; approved: passes; rejected: asks again."""
    gates = _gates()
    gates.restore(_events(), ask_again=())
    assert list(gates.journaled) == ["a"]
    gate = gates.journaled["a"]
    assert (gate.request, gate.expires_at, gate.approvers) == (3, 100.0, ("x",))
    assert gates.approved == {"b"}


def test_restore_asks_again_for_steps_rerun_on_purpose() -> None:
    """--from: an approved step and an open request are both forgotten."""
    gates = _gates()
    gates.restore(_events(), ask_again=["a", "b"])
    assert gates.journaled == {}
    assert gates.approved == set()


def test_open_gates_are_the_undecided_requests() -> None:
    """open_gates reads the same events: only a's gate is open, with its request seq."""
    found = open_gates(_events())
    assert list(found) == ["a"]
    assert found["a"].request == 3
    assert found["a"].expired(100.0)
    assert not found["a"].expired(99.0)

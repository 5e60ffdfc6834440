"""Budgets that hold under concurrency: reserve before a call, settle after it.

Every call reserves its estimated cost (USD and tokens) against each budget
that covers it (the run's, its step's, its agent's) *before* it starts, in
the same synchronous dispatch step that starts it, so concurrent calls can
never jointly overdraw a budget the way check-then-spend does. When the call
ends its reservation is settled to the actual cost. A call that does not fit
next to the open reservations waits for them to settle; a call that could
not fit even if they all settled to nothing is refused.

Budgets hold exactly when each call's actual cost is at most its
reservation: set an agent's ``price.expected_output_tokens`` to its output
token cap (``max_tokens``) to make the reservation an upper bound. A call
that costs more than it reserved is settled at its real cost (spend is never
under-reported) and noted in its ``cost_incurred`` event.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Literal

import attrs

from .._ids import split_item_id
from .._spec._cost import Budget

Fit = Literal["fits", "wait", "never"]


@attrs.define(eq=False, slots=True)
class Account:
    """One budget: what it allows, what is spent and what is reserved."""

    label: str
    budget: Budget
    spent_usd: float = 0.0
    spent_tokens: int = 0
    reserved_usd: float = 0.0
    reserved_tokens: int = 0
    open: int = 0  # reservations not yet settled

    def fit(self, usd: float, tokens: int) -> Fit:
        limit_usd = math.inf if self.budget.usd is None else self.budget.usd
        limit_tokens = math.inf if self.budget.tokens is None else self.budget.tokens
        if self.spent_usd + usd > limit_usd or self.spent_tokens + tokens > limit_tokens:
            return "never"
        if self.open and (
            self.spent_usd + self.reserved_usd + usd > limit_usd
            or self.spent_tokens + self.reserved_tokens + tokens > limit_tokens
        ):
            return "wait"
        return "fits"

    def describe(self, usd: float, tokens: int) -> str:
        parts = []
        if self.budget.usd is not None:
            parts.append(
                f"${self.budget.usd:g} (spent ${self.spent_usd:.4f}, reserved "
                f"${self.reserved_usd:.4f}, this call ~${usd:.4f})"
            )
        if self.budget.tokens is not None:
            parts.append(
                f"{self.budget.tokens} tokens (spent {self.spent_tokens}, reserved "
                f"{self.reserved_tokens}, this call ~{tokens})"
            )
        return f"{self.label} budget of " + " and ".join(parts)


@attrs.frozen(slots=True)
class Reservation:
    """What one call holds until it settles."""

    accounts: tuple[Account, ...]
    usd: float
    tokens: int


@attrs.define(eq=False)
class Ledger:
    """Every budget of one run, plus the run's total spend (kept even without budgets)."""

    run: Account | None = None
    steps: dict[str, Account] = attrs.field(factory=dict)
    agents: dict[str, Account] = attrs.field(factory=dict)
    total_usd: float = 0.0
    total_tokens: int = 0

    @classmethod
    def for_budgets(
        cls,
        run: Budget | None,
        steps: Mapping[str, Budget | None],
        agents: Mapping[str, Budget | None],
    ) -> Ledger:
        return cls(
            run=Account("run", run) if run is not None else None,
            steps={k: Account(f"step {k!r}", b) for k, b in steps.items() if b is not None},
            agents={k: Account(f"agent {k!r}", b) for k, b in agents.items() if b is not None},
        )

    @property
    def bounded(self) -> bool:
        return self.run is not None or bool(self.steps) or bool(self.agents)

    def _accounts(self, step_id: str, agent: str) -> Iterable[Account]:
        step = self.steps.get(step_id)
        if step is None and self.steps and step_id.endswith("]"):
            item = split_item_id(step_id)  # an item of a for_each step: its step's budget
            step = self.steps.get(item[0]) if item is not None else None
        for account in (self.run, step, self.agents.get(agent)):
            if account is not None:
                yield account

    def fit(self, step_id: str, agent: str, usd: float, tokens: int) -> tuple[Fit, str]:
        """Whether a call fits every budget that covers it, and if not, which budget says so."""
        verdict: Fit = "fits"
        why = ""
        for account in self._accounts(step_id, agent):
            fit = account.fit(usd, tokens)
            if fit == "never":
                return "never", account.describe(usd, tokens)
            if fit == "wait" and verdict == "fits":
                verdict, why = "wait", account.describe(usd, tokens)
        return verdict, why

    def reserve(self, step_id: str, agent: str, usd: float, tokens: int) -> Reservation:
        """Hold ``usd`` and ``tokens`` in every budget covering the call (check ``fit`` first)."""
        accounts = tuple(self._accounts(step_id, agent))
        for account in accounts:
            account.reserved_usd += usd
            account.reserved_tokens += tokens
            account.open += 1
        return Reservation(accounts, usd, tokens)

    def settle(self, reservation: Reservation, usd: float, tokens: int) -> None:
        """Replace the reservation with the call's actual cost."""
        for account in reservation.accounts:
            account.open -= 1
            if account.open == 0:  # no float residue can outlive the last reservation
                account.reserved_usd, account.reserved_tokens = 0.0, 0
            else:
                account.reserved_usd = max(0.0, account.reserved_usd - reservation.usd)
                account.reserved_tokens = max(0, account.reserved_tokens - reservation.tokens)
            account.spent_usd += usd
            account.spent_tokens += tokens
        self.total_usd += usd
        self.total_tokens += tokens

    def restore(self, step_id: str, agent: str, usd: float, tokens: int) -> None:
        """Count a cost settled before a resume, against every budget that covered it."""
        self.settle(self.reserve(step_id, agent, 0.0, 0), usd, tokens)

    def remaining_usd(self) -> float | None:
        """USD left in the run budget (reservations count as spent), or None without one."""
        if self.run is None or self.run.budget.usd is None:
            return None
        return max(0.0, self.run.budget.usd - self.run.spent_usd - self.run.reserved_usd)

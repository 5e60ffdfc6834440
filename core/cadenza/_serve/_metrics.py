"""``/metrics``: Prometheus text exposition computed from the journal's events.

Counters and histograms accumulate the events of the runs the server has seen
(the most recent ``window`` runs at each scrape), reading only the events
added since the previous scrape, so they only grow while the server lives (a
restart resets them, which Prometheus handles). Gauges (runs by status, steps
by state, breaker state) describe the recent runs as they are now.

Label values are agent names, capability names, states and error types:
never inputs, outputs or messages, so nothing secret can reach a label.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from .._ids import split_item_id
from .._journal._items import grouped_steps
from .._journal._readback import FINISHED, effective_status, step_states
from .._journal._store import Store
from ._views import load_run_workflow

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
QUEUE_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
BREAKER_VALUES = {"closed": 0, "half_open": 1, "open": 2}
STEP_GAUGE_STATES = (
    "pending", "ready", "running", "retrying", "succeeded", "failed", "skipped", "cancelled",
)  # fmt: skip
RUN_STATUSES = ("running", "interrupted", "succeeded", "failed", "cancelled")

Labels = tuple[tuple[str, str], ...]


@attrs.define
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = attrs.field(factory=list)
    total: float = 0.0
    n: int = 0

    def __attrs_post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.buckets):
            if value <= bound:
                self.counts[i] += 1
        self.total += value
        self.n += 1


def _capability(capability: Mapping[str, str], step_id: str) -> str:
    """The capability a step used; an item (``build[3]``) used its ``for_each`` step's."""
    if step_id in capability:
        return capability[step_id]
    parts = split_item_id(step_id)
    return capability.get(parts[0], "") if parts is not None else ""


@attrs.define
class MetricsCollector:
    """Accumulates journal events into metrics; ``collect(store)`` runs in a worker thread."""

    window: int = 50
    seen: dict[str, int] = attrs.field(factory=dict)
    """run id -> last event ``seq`` already counted."""
    uses: dict[str, dict[str, str]] = attrs.field(factory=dict)
    """run id -> step id -> capability it used ("" when it named an agent)."""
    plugins: Any = None
    counters: dict[str, dict[Labels, float]] = attrs.field(
        factory=lambda: defaultdict(lambda: defaultdict(float))
    )
    histograms: dict[str, dict[Labels, Histogram]] = attrs.field(factory=dict)
    breakers: dict[str, str] = attrs.field(factory=dict)
    breaker_at: dict[str, float] = attrs.field(factory=dict)

    def _hist(self, name: str, labels: Labels, buckets: tuple[float, ...]) -> Histogram:
        family = self.histograms.setdefault(name, {})
        if labels not in family:
            family[labels] = Histogram(buckets)
        return family[labels]

    def _capabilities(self, store: Store, run_id: str) -> dict[str, str]:
        if run_id in self.uses:
            return self.uses[run_id]
        found: dict[str, str] = {}
        record = store.get_run(run_id)
        loaded = None if record is None else load_run_workflow(store, record, self.plugins)
        if loaded is not None:
            found = {
                sid: ("" if step.uses in loaded.agents else step.uses)
                for sid, step in loaded.steps.items()
            }
        self.uses[run_id] = found
        return found

    def _count(self, events: Iterable[Mapping[str, Any]], capability: Mapping[str, str]) -> None:
        c = self.counters
        for e in events:
            kind = e.get("kind")
            agent = str(e.get("agent") or "")
            cap = _capability(capability, str(e.get("step_id") or ""))
            if kind == "attempt_started":
                c["cadenza_attempts_total"][(("agent", agent),)] += 1
                wait = e.get("queue_wait")
                if isinstance(wait, int | float):
                    self._hist("cadenza_queue_wait_seconds", (("agent", agent),), QUEUE_BUCKETS)\
                        .observe(float(wait))  # fmt: skip
            elif kind == "attempt_failed":
                error = str(e.get("error_type") or "")
                c["cadenza_attempt_failures_total"][(("agent", agent), ("error_type", error))] += 1
                if e.get("retry_in") is not None:
                    c["cadenza_retries_total"][(("agent", agent),)] += 1
                self._observe_latency(agent, cap, "failed", e.get("duration"))
            elif kind == "step_succeeded":
                if e.get("attempt") == 0 and not agent:
                    continue  # a for_each step's own end: its items made (and counted) the calls
                self._observe_latency(agent, cap, "succeeded", e.get("duration"))
                if e.get("degraded"):
                    c["cadenza_degraded_steps_total"][(("agent", agent),)] += 1
            elif kind == "cost_incurred":
                labels = (("agent", agent),)
                c["cadenza_cost_usd_total"][labels] += float(e.get("cost_usd") or 0.0)
                inp, out = int(e.get("input_tokens") or 0), int(e.get("output_tokens") or 0)
                c["cadenza_tokens_total"][(("agent", agent), ("direction", "input"))] += inp
                c["cadenza_tokens_total"][(("agent", agent), ("direction", "output"))] += out
            elif kind == "circuit_changed":
                at = float(e.get("at") or 0.0)
                if at >= self.breaker_at.get(agent, -math.inf):
                    self.breakers[agent] = str(e.get("state") or "closed")
                    self.breaker_at[agent] = at

    def _observe_latency(self, agent: str, capability: str, outcome: str, value: Any) -> None:
        if not isinstance(value, int | float):
            return
        labels = (("agent", agent), ("capability", capability), ("outcome", outcome))
        self._hist("cadenza_attempt_duration_seconds", labels, LATENCY_BUCKETS).observe(
            float(value)
        )

    def collect(self, store: Store) -> str:
        """Read what is new in the journal and return the whole exposition text."""
        runs_by_status: dict[str, int] = dict.fromkeys(RUN_STATUSES, 0)
        steps_by_state: dict[str, int] = dict.fromkeys(STEP_GAUGE_STATES, 0)
        for record in store.list_runs(limit=self.window):
            status = effective_status(record)
            runs_by_status[status] = runs_by_status.get(status, 0) + 1
            after = self.seen.get(record.run_id, -1)
            new = store.read_events(record.run_id, after=after)
            if new:
                capability = self._capabilities(store, record.run_id)
                self._count(new, capability)
                self.seen[record.run_id] = int(new[-1]["seq"])
            if status in FINISHED:
                for state, n in record.counts.items():
                    steps_by_state[state] = steps_by_state.get(state, 0) + int(n)
            else:
                steps = step_states(store.read_events(record.run_id))
                for step in grouped_steps(steps)[0].values():  # a mapped step counts once
                    state = "succeeded" if step.state == "restored" else step.state
                    steps_by_state[state] = steps_by_state.get(state, 0) + 1
        return self.render(runs_by_status, steps_by_state)

    def render(self, runs: Mapping[str, int], steps: Mapping[str, int]) -> str:
        out: list[str] = []
        gauge(out, "cadenza_runs", "Recent runs by status.", [(("status", s),) for s in runs],
              list(runs.values()))  # fmt: skip
        gauge(out, "cadenza_steps", "Steps of the recent runs by state.",
              [(("state", s),) for s in steps], list(steps.values()))  # fmt: skip
        gauge(out, "cadenza_circuit_state",
              "Circuit breaker state per agent, last seen: 0 closed, 1 half-open, 2 open.",
              [(("agent", a),) for a in sorted(self.breakers)],
              [BREAKER_VALUES.get(self.breakers[a], 0) for a in sorted(self.breakers)])  # fmt: skip
        helps = {
            "cadenza_attempts_total": "Agent calls started.",
            "cadenza_attempt_failures_total": "Agent calls that failed, by error type.",
            "cadenza_retries_total": "Failed calls that were retried.",
            "cadenza_degraded_steps_total": "Steps that succeeded with a fallback output.",
            "cadenza_cost_usd_total": "Settled cost of agent calls, in US dollars.",
            "cadenza_tokens_total": "Tokens used by agent calls.",
        }
        for name, help_text in helps.items():
            family = self.counters.get(name, {})
            keys = sorted(family)
            _header(out, name, help_text, "counter")
            out += [f"{name}{_labels(k)} {_num(family[k])}" for k in keys]
        hist_helps = {
            "cadenza_attempt_duration_seconds": "Agent call duration by agent and capability.",
            "cadenza_queue_wait_seconds": "Time a ready call waited for a slot, by agent.",
        }
        for name, help_text in hist_helps.items():
            _header(out, name, help_text, "histogram")
            for labels, h in sorted(self.histograms.get(name, {}).items()):
                for bound, n in zip(h.buckets, h.counts, strict=True):
                    le = (*labels, ("le", _num(bound)))
                    out.append(f"{name}_bucket{_labels(le)} {n}")
                out.append(f"{name}_bucket{_labels((*labels, ('le', '+Inf')))} {h.n}")
                out.append(f"{name}_sum{_labels(labels)} {_num(h.total)}")
                out.append(f"{name}_count{_labels(labels)} {h.n}")
        return "\n".join(out) + "\n"


def _header(out: list[str], name: str, help_text: str, kind: str) -> None:
    out.append(f"# HELP {name} {help_text}")
    out.append(f"# TYPE {name} {kind}")


def gauge(
    out: list[str], name: str, help_text: str, labels: Sequence[Labels], values: Sequence[float]
) -> None:
    _header(out, name, help_text, "gauge")
    out += [f"{name}{_labels(k)} {_num(v)}" for k, v in zip(labels, values, strict=True)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels) + "}"


def _num(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))

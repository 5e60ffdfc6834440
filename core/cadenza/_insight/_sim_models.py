"""What a simulation assumes about each agent: its latency distribution, failures and usage."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Mapping
from typing import Literal

import attrs

from .._scheduler._calls import DEFAULT_OUTPUT_TOKENS
from .._spec._cost import Price

DEFAULT_LATENCY = 1.0
"""Seconds a call takes when neither a model file nor the journal says otherwise."""

LOGNORMAL_Z95 = 1.6448536269514722  # the standard normal's 95th percentile

Distribution = Literal["fixed", "uniform", "lognormal", "exponential", "empirical"]
AGENT_KEYS = (
    "latency",
    "failure_rate",
    "retry_after",
    "input_tokens",
    "output_tokens",
    "price",
)
ESTIMATED = "estimated from with:"
"""The origin of input tokens no model sets: each call's, estimated as a real run does."""


@attrs.frozen(kw_only=True)
class LatencyModel:
    """How long one call takes: a distribution and its parameters (seconds)."""

    distribution: Distribution = "fixed"
    value: float = DEFAULT_LATENCY
    """``fixed``: the latency; ``exponential``: the mean."""
    low: float = 0.0
    high: float = 0.0
    """``uniform``: the bounds."""
    mu: float = 0.0
    sigma: float = 0.0
    """``lognormal``: parameters of the underlying normal."""
    samples: tuple[float, ...] = ()
    """``empirical``: observed latencies, resampled."""

    @property
    def is_fixed(self) -> bool:
        return self.distribution == "fixed" or (
            self.distribution == "empirical" and len(set(self.samples)) == 1
        )

    def draw(self, rng: random.Random) -> float:
        if self.distribution == "fixed":
            return self.value
        if self.distribution == "uniform":
            return rng.uniform(self.low, self.high)
        if self.distribution == "lognormal":
            return rng.lognormvariate(self.mu, self.sigma)
        if self.distribution == "exponential":
            return rng.expovariate(1.0 / self.value) if self.value > 0 else 0.0
        return rng.choice(self.samples)

    def describe(self) -> str:
        if self.distribution == "fixed":
            return f"{secs(self.value)} fixed"
        if self.distribution == "uniform":
            return f"uniform {secs(self.low)}..{secs(self.high)}"
        if self.distribution == "lognormal":
            p95 = math.exp(self.mu + LOGNORMAL_Z95 * self.sigma)
            return f"lognormal median {secs(math.exp(self.mu))}, p95 {secs(p95)}"
        if self.distribution == "exponential":
            return f"exponential mean {secs(self.value)}"
        ordered = sorted(self.samples)
        median = statistics.median(ordered)
        return f"empirical, {len(ordered)} samples, median {secs(median)}"


@attrs.frozen(kw_only=True)
class AgentModel:
    """Everything assumed about one agent, and where each parameter came from.

    ``input_tokens`` None means each call's estimate from its inputs (what a
    real run reserves). ``price`` is what its calls cost (None: free);
    ``origins`` maps each parameter name to ``"model file"``, ``"model file
    (*)"``, ``"learned from N calls"``, ``"workflow"`` (the agent's ``price:``),
    ``"estimated from with:"`` or ``"default"``.
    """

    latency: LatencyModel = LatencyModel()
    failure_rate: float = 0.0
    retry_after: float | None = None
    input_tokens: int | None = None
    output_tokens: int = DEFAULT_OUTPUT_TOKENS
    price: Price | None = None
    origins: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def is_deterministic(self) -> bool:
        return self.latency.is_fixed and self.failure_rate == 0.0


@attrs.frozen(kw_only=True)
class LearnedAgent:
    """What the journal says about one agent: observed latencies, failures and usage."""

    latencies: tuple[float, ...]
    calls: int
    failures: int
    input_tokens: int
    output_tokens: int


def secs(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:.3g}h"
    if value >= 60:
        return f"{value / 60:.3g}m"
    return f"{value:.3g}s"


def model_notes(models: Mapping[str, AgentModel]) -> list[str]:
    out = []
    for name, m in models.items():
        in_origin = m.origins.get("input_tokens", "default")
        out_origin = m.origins.get("output_tokens", "default")
        if m.input_tokens is not None and in_origin == out_origin:
            tokens = [f"tokens {m.input_tokens} in / {m.output_tokens} out ({in_origin})"]
        else:
            tokens = [
                f"input tokens {ESTIMATED}"
                if m.input_tokens is None
                else f"input tokens {m.input_tokens} ({in_origin})",
                f"output tokens {m.output_tokens} ({out_origin})",
            ]
        parts = [
            f"latency {m.latency.describe()} ({m.origins.get('latency', 'default')})",
            f"failure rate {m.failure_rate:g} ({m.origins.get('failure_rate', 'default')})",
            *tokens,
        ]
        if m.retry_after is not None:
            parts.append(f"retry_after {m.retry_after:g}s ({m.origins['retry_after']})")
        if m.price is not None:
            parts.append(f"price {_describe_price(m.price)} ({m.origins.get('price', 'default')})")
        out.append(f"agent {name}: " + ", ".join(parts))
    if any(m.input_tokens is None for m in models.values()):
        out.append(
            "input tokens not modelled are estimated per call from its with:, as a real run "
            "estimates them (one token per 4 characters); a with: reading step outputs is "
            "measured as written"
        )
    return out


def _describe_price(price: Price) -> str:
    """``$0.003/1k in, $0.015/1k out, $0.001/call``: the non-zero parts of a price."""
    parts = [
        f"${price.input_per_1k:g}/1k in" if price.input_per_1k else "",
        f"${price.output_per_1k:g}/1k out" if price.output_per_1k else "",
        f"${price.per_call:g}/call" if price.per_call else "",
    ]
    return ", ".join(p for p in parts if p) or "free"

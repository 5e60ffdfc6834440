"""RouterConformance: the tests every routing strategy must pass, as a class to subclass.

A plugin that registers a router through ``cadenza_routers`` runs the suite
from its own tests by subclassing it and building the router as the kernel
would, through its factory::

    import pytest
    import cadenza.testing

    from cadenza_sticky import StickyRouter


    class TestStickyRouter(cadenza.testing.RouterConformance):
        @pytest.fixture
        def router(self):
            return StickyRouter.from_options({})

Parametrize the fixture to run the suite once per set of options. If your
router needs particular candidates (say, with the tags its options require),
override :meth:`~RouterConformance.candidates`; :meth:`~RouterConformance.request`
and :meth:`~RouterConformance.clone` can be overridden too.

The tests are synchronous, like ``Router.choose``. They pin the contract the
kernel relies on:

* ``choose`` returns a ``Route`` whose ``agent`` is the name of one of the
  candidates, for lists of one to :attr:`~RouterConformance.max_candidates`,
  given as a list or any other sequence;
* ``reason`` is a non-empty string (it goes into the ``route_chosen`` event);
* the candidates are left alone: neither the list (order included) nor any
  candidate, nor a candidate's ``options``, changes;
* randomness comes from ``request.rng`` only: two copies of a fresh router
  given equally seeded requests choose the same agents, whatever the state of
  the ``random`` module;
* candidates with data missing (no latency, quality, price or history, no
  limit, nothing in flight) and with everything present are handled;
* so are every budget state (none, plenty, nearly gone, zero), identical
  candidates, several ``uses`` through one router, requests with and without
  a ``key`` and ``inputs``, and candidate lists that shrink and grow between
  calls: for valid input ``choose`` never raises;
* a router that routes on ``request.key`` (set :attr:`~RouterConformance.key_aware`
  in the subclass) sends a key to the same agent, whatever else differs
  (the random seed, the step, the attempt, a fresh copy of the router).
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator, Sequence
from typing import Any

import attrs
import pytest

from .._spec._cost import Price
from .._strategies._routing import AgentHistory, Candidate, Route, Router, RouteRequest

_PRICES = (
    Price(input_per_1k=0.5, output_per_1k=1.5),
    Price(per_call=0.002),
    Price(input_per_1k=3.0, output_per_1k=15.0, expected_output_tokens=1024),
)

_BUDGETS: tuple[tuple[float | None, float | None], ...] = (
    (None, None),
    (10.0, 10.0),
    (5.0, 10.0),
    (0.01, 10.0),
    (0.0, 10.0),
    (0.0, 0.0),
)
"""``(budget_left, budget_total)``: none, untouched, half, nearly gone, spent, zero."""

_KEYS: tuple[str | None, ...] = (None, "", "acme", "customer-42", "Zürich ✓ 日本", "x" * 500)
"""``RouteRequest.key`` values: none, empty, plain, non-ASCII, long."""

_INPUTS: tuple[dict[str, Any], ...] = (
    {},
    {"customer": "acme"},
    {"customer": None, "items": [{"id": 1}, {"id": 2}], "meta": {"tier": "gold", "n": 3.5}},
)
"""``RouteRequest.inputs`` values: none, flat, nested (the step's rendered ``with:``)."""


def _describe(candidates: Sequence[Candidate], request: RouteRequest) -> str:
    names = ", ".join(c.name for c in candidates)
    return f"candidates [{names}] for {request!r}:\n  " + "\n  ".join(map(repr, candidates))


def _snapshot(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Deep copies of ``candidates`` (options included), to compare against after a call."""
    return [attrs.evolve(c, options=copy.deepcopy(dict(c.options))) for c in candidates]


def _without_data(candidate: Candidate) -> Candidate:
    """``candidate`` as an agent nothing is known about yet."""
    return attrs.evolve(
        candidate,
        price=None,
        in_flight=0,
        limit=None,
        calls=0,
        failures=0,
        latency=None,
        quality=None,
        estimated_cost=0.0,
        history=None,
    )


def _varied(candidate: Candidate, rng: random.Random) -> Candidate:
    """``candidate`` with random but valid load, measurements, price, weight and history."""
    limit = rng.choice([None, 1, 2, 4, 16])
    calls = rng.choice([0, 0, 1, 5, 50, 5000])
    price = rng.choice([None, *_PRICES])
    history = None
    if rng.random() < 0.5:
        history = AgentHistory(
            successes=rng.choice([0, 1, 30, 10_000]),
            failures=rng.choice([0, 1, 30, 10_000]),
            mean_latency=rng.choice([None, 0.0, 0.05, 2.0, 120.0]),
            mean_cost=rng.choice([None, 0.0, 0.0004, 0.2]),
        )
    return attrs.evolve(
        candidate,
        weight=rng.choice([0.0, -1.0, 0.5, 1.0, 3.0, 100.0]),
        price=price,
        in_flight=rng.randrange(limit) if limit else rng.choice([0, 1, 7]),
        limit=limit,
        calls=calls,
        failures=rng.randint(0, calls),
        latency=rng.choice([None, 0.0, 0.001, 0.8, 3.5, 300.0]),
        quality=rng.choice([None, 0.0, 0.5, 0.97, 1.0]),
        estimated_cost=0.0 if price is None else rng.choice([0.0, 0.0001, 0.02, 1.5]),
        history=history,
    )


class RouterConformance:
    """Tests of the ``cadenza_routers`` router contract; subclass it and define ``router``.

    See the module documentation for the contract and an example.
    """

    max_candidates: int = 8
    """The longest candidate list the suite tries (it tries every length from 1)."""

    key_aware: bool = False
    """Set True in the subclass for a router that routes on ``request.key``: the suite
    then holds ``test_same_key_goes_to_the_same_agent``, which checks that a key goes to
    the same agent whatever the seed, step, attempt or router copy."""

    @pytest.fixture
    def router(self) -> Router:
        """A fresh router; override this fixture in your subclass."""
        pytest.fail(
            f"{type(self).__name__} must override the router fixture to return a fresh router:\n"
            "    @pytest.fixture\n"
            "    def router(self):\n"
            "        return MyRouter.from_options({})",
            pytrace=False,
        )

    def candidates(self, count: int) -> list[Candidate]:
        """``count`` candidates with distinct names and every field filled in.

        Override this to give your router the candidates it expects (tags,
        capabilities, options); the suite derives its other inputs from these.
        """
        return [
            Candidate(
                name=f"agent-{i}",
                capabilities=frozenset({"summarise"}),
                tags=frozenset({"gpu", "eu", "fast"}) if i % 2 else frozenset({"cpu"}),
                weight=float(i % 3 + 1),
                price=_PRICES[i % len(_PRICES)],
                options={"model": f"model-{i % 2}", "temperature": 0.2},
                in_flight=i % 3,
                limit=4 if i % 2 else None,
                calls=10 * i,
                failures=i % 4,
                latency=0.4 + 0.3 * i,
                quality=0.6 + 0.05 * i,
                estimated_cost=0.001 * (i + 1),
                history=AgentHistory(
                    successes=20 + i, failures=i, mean_latency=0.5 + 0.2 * i, mean_cost=0.001
                ),
            )
            for i in range(count)
        ]

    def request(self, seed: int = 0, **changes: Any) -> RouteRequest:
        """A request for step ``step`` using ``summarise``, its rng seeded with ``seed``."""
        fields: dict[str, Any] = {
            "step_id": "step",
            "uses": "summarise",
            "attempt": 1,
            "estimated_tokens": 800,
            "inputs": {"customer": "acme", "text": "a short document", "lang": ["en", "de"]},
            "rng": random.Random(seed),
        }
        fields.update(changes)
        return RouteRequest(**fields)

    def clone(self, router: Router) -> Router:
        """A copy of a fresh ``router`` in the same state (default ``copy.deepcopy``)."""
        return copy.deepcopy(router)

    # -- helpers --------------------------------------------------------------------------

    def _candidates(self, count: int) -> list[Candidate]:
        """:meth:`candidates`, checked: ``count`` of them with distinct names."""
        made = self.candidates(count)
        names = [c.name for c in made]
        if len(made) != count or len(set(names)) != count:
            pytest.fail(
                f"{type(self).__name__}.candidates({count}) must return {count} candidates "
                f"with distinct names, got {names}",
                pytrace=False,
            )
        return made

    def _choose(
        self, router: Router, candidates: Sequence[Candidate], request: RouteRequest
    ) -> Route:
        """``router.choose``, its answer checked to name a candidate; errors say the input."""
        try:
            route = router.choose(candidates, request)
        except Exception as exc:
            raise AssertionError(
                f"choose raised {exc!r} for {_describe(candidates, request)}"
            ) from exc
        assert isinstance(route, Route), f"choose returned {route!r}, not a Route"
        names = [c.name for c in candidates]
        assert route.agent in names, (
            f"choose returned agent {route.agent!r}, which is not a candidate: {names}"
        )
        return route

    def _bare(self, count: int) -> list[Candidate]:
        """:meth:`candidates` with nothing known about them."""
        return [_without_data(c) for c in self._candidates(count)]

    def _sizes(self) -> Iterator[int]:
        return iter(range(1, self.max_candidates + 1))

    # -- the answer ------------------------------------------------------------------------

    def test_router_has_a_choose_method(self, router: Router) -> None:
        """The factory's product has a callable ``choose``."""
        assert callable(getattr(router, "choose", None))

    def test_returns_a_route_naming_a_candidate(self, router: Router) -> None:
        """For 1..max_candidates candidates, every answer is a Route naming one of them."""
        for count in self._sizes():
            candidates = self._candidates(count)
            request = self.request(seed=count)
            for _ in range(5):
                self._choose(router, candidates, request)

    def test_a_single_candidate_is_chosen(self, router: Router) -> None:
        """With one candidate, whatever its data, the route names it."""
        (only,) = self._candidates(1)
        for candidate in (only, _without_data(only)):
            assert self._choose(router, [candidate], self.request()).agent == only.name

    def test_accepts_any_sequence(self, router: Router) -> None:
        """Candidates given as a tuple work like a list."""
        candidates = tuple(self._candidates(min(3, self.max_candidates)))
        self._choose(router, candidates, self.request())

    def test_reason_is_a_non_empty_string(self, router: Router) -> None:
        """Every route's reason is a string with some text in it."""
        for count in self._sizes():
            for candidates in (self._candidates(count), self._bare(count)):
                route = router.choose(candidates, self.request(seed=count))
                assert isinstance(route.reason, str), f"reason {route.reason!r} is not a str"
                assert route.reason.strip(), f"empty reason in {route!r}"

    # -- purity ------------------------------------------------------------------------------

    def test_does_not_mutate_candidates(self, router: Router) -> None:
        """Neither the list (order included), nor any candidate, nor its options changes."""
        for count in self._sizes():
            candidates = self._candidates(count)
            before, objects = _snapshot(candidates), list(candidates)
            request = self.request(seed=count)
            for _ in range(3):
                router.choose(candidates, request)
            assert all(a is b for a, b in zip(candidates, objects, strict=True)), (
                "the candidate list was reordered or its items replaced"
            )
            assert len(candidates) == count, "the candidate list changed length"
            assert candidates == before, "a candidate or its options changed"

    def test_same_seed_same_choices(self, router: Router) -> None:
        """Two copies of a fresh router, given equally seeded requests, choose alike.

        The ``random`` module is seeded differently for each copy, so a router
        drawing from it instead of ``request.rng`` fails.
        """
        twin = self.clone(router)
        candidates = self._candidates(self.max_candidates)
        state = random.getstate()
        try:
            runs = []
            for copy_, global_seed in ((router, 1), (twin, 2)):
                random.seed(global_seed)
                request = self.request(seed=20240611)
                runs.append([self._choose(copy_, candidates, request).agent for _ in range(40)])
        finally:
            random.setstate(state)
        assert runs[0] == runs[1]

    # -- inputs it must handle -----------------------------------------------------------------

    def test_handles_candidates_with_missing_data(self, router: Router) -> None:
        """No latency, quality, price, history or limit, and nothing in flight, is fine."""
        for count in self._sizes():
            candidates = self._bare(count)
            request = self.request(seed=count)
            for _ in range(3):
                self._choose(router, candidates, request)

    def test_handles_a_mix_of_known_and_unknown_agents(self, router: Router) -> None:
        """Some candidates fully measured and some with nothing known is fine."""
        for count in self._sizes():
            candidates = [
                c if i % 2 else _without_data(c) for i, c in enumerate(self._candidates(count))
            ]
            request = self.request(seed=count)
            for _ in range(3):
                self._choose(router, candidates, request)

    def test_handles_every_budget_state(self, router: Router) -> None:
        """No budget, an untouched one, half, nearly none, none left, and a zero budget."""
        candidates = self._candidates(min(4, self.max_candidates))
        for left, total in _BUDGETS:
            request = self.request(budget_left=left, budget_total=total)
            self._choose(router, candidates, request)

    def test_handles_identical_candidates(self, router: Router) -> None:
        """Candidates differing only in name (every tie possible) still get a choice."""
        names = [c.name for c in self._candidates(min(4, self.max_candidates))]
        (template,) = self._candidates(1)
        candidates = [attrs.evolve(template, name=name) for name in names]
        request = self.request()
        for _ in range(5):
            self._choose(router, candidates, request)

    def test_handles_several_uses_and_attempts(self, router: Router) -> None:
        """One router serves different ``uses``, steps and attempts, interleaved."""
        candidates = self._candidates(min(3, self.max_candidates))
        for i in range(12):
            request = self.request(
                seed=i,
                step_id=f"step-{i % 4}",
                uses=("summarise", "translate")[i % 2],
                attempt=i % 3 + 1,
            )
            self._choose(router, candidates, request)

    def test_handles_keys_and_inputs(self, router: Router) -> None:
        """No key, an empty one, long and non-ASCII ones, and empty or nested inputs are fine."""
        candidates = self._candidates(min(4, self.max_candidates))
        for i, key in enumerate(_KEYS):
            for inputs in _INPUTS:
                self._choose(router, candidates, self.request(seed=i, key=key, inputs=inputs))

    def _check_same_key(self, router: Router) -> None:
        """A key-aware router sends a key to one agent across seeds, steps, attempts and copies."""
        candidates = self._candidates(self.max_candidates)
        for key in _KEYS:
            if key is None:
                continue
            chosen: set[str] = set()
            for i in range(6):
                copy_ = self.clone(router) if i % 2 else router
                request = self.request(
                    seed=1000 + i, key=key, step_id=f"step-{i}", attempt=i % 3 + 1
                )
                chosen.add(self._choose(copy_, candidates, request).agent)
            assert len(chosen) == 1, f"key {key!r} went to several agents: {sorted(chosen)}"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Add ``test_same_key_goes_to_the_same_agent`` to suites of key-aware routers."""
        super().__init_subclass__(**kwargs)
        if cls.key_aware and "test_same_key_goes_to_the_same_agent" not in vars(cls):
            cls.test_same_key_goes_to_the_same_agent = cls._check_same_key  # type: ignore[attr-defined]

    def test_never_raises_on_varied_candidates(self, router: Router) -> None:
        """300 seeded random inputs: lists shrinking, growing and reordered, every field varied."""
        rng = random.Random(8128)
        pool = self._candidates(self.max_candidates)
        for i in range(300):
            chosen = rng.sample(pool, rng.randint(1, len(pool)))
            if rng.random() < 0.7:  # usually in list order, as the kernel gives them
                chosen.sort(key=pool.index)
            candidates = [_varied(c, rng) for c in chosen]
            left, total = rng.choice(_BUDGETS)
            request = self.request(
                seed=rng.randrange(2**32),
                uses=rng.choice(["summarise", "translate", "review"]),
                attempt=rng.randint(1, 5),
                estimated_tokens=rng.choice([0, 1, 800, 100_000]),
                budget_left=left,
                budget_total=total,
                key=rng.choice(_KEYS),
                inputs=rng.choice(_INPUTS),
            )
            self._choose(router, candidates, request)
            if i % 50 == 0:
                self._choose(router, pool, self.request(seed=i))

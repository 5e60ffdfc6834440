"""The built-in routing strategies: each one's choice, reason and option errors, plus properties."""

from __future__ import annotations

import collections
import random
from collections.abc import Mapping
from typing import Any

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza._spec._cost import Price
from cadenza._spec._workflow import DEFAULT_ROUTE
from cadenza._strategies._routers import (
    BUILTIN_ROUTERS,
    AdaptiveRouter,
    BudgetAwareRouter,
    CapabilityRouter,
    CheapestRouter,
    FastestRouter,
    LeastBusyRouter,
    RoundRobinRouter,
    WeightedRouter,
)
from cadenza._strategies._routing import AgentHistory, Candidate, Route, Router, RouteRequest

ROUTER_CONFIGS: list[tuple[str, dict[str, Any]]] = [
    ("least_busy", {}),
    ("round_robin", {}),
    ("weighted", {}),
    ("weighted", {"weights": {"a0": 3, "a1": 0}}),
    ("cheapest", {}),
    ("fastest", {}),
    ("capability", {"require": ["gpu"], "prefer": ["eu"], "options": {"model": "m1"}}),
    ("adaptive", {}),
    ("adaptive", {"latency_weight": 0.5, "cost_weight": 0}),
    ("budget_aware", {}),
    ("budget_aware", {"prefer": {"strategy": "adaptive"}, "below": 0.25}),
]
"""Every built-in, some with options, for the tests that apply to all of them."""

CONFIG_IDS = ["-".join([name, *options]) for name, options in ROUTER_CONFIGS]


def cand(name: str, **fields: Any) -> Candidate:
    return Candidate(name=name, **fields)


def req(seed: int = 0, **fields: Any) -> RouteRequest:
    fields.setdefault("step_id", "s")
    fields.setdefault("uses", "summarise")
    return RouteRequest(rng=random.Random(seed), **fields)


def build(name: str, options: Mapping[str, Any] | None = None) -> Router:
    return BUILTIN_ROUTERS[name](options or {})


def picks(router: Router, candidates: list[Candidate], times: int, seed: int = 0) -> list[str]:
    """The agents ``router`` chooses over ``times`` calls sharing one seeded rng."""
    request = req(seed)
    return [router.choose(candidates, request).agent for _ in range(times)]


# -- the registry ------------------------------------------------------------------------


def test_builtin_names_are_the_documented_ones() -> None:
    """The registry holds exactly the nine documented strategies, least_busy the default."""
    assert set(BUILTIN_ROUTERS) == {
        "least_busy",
        "round_robin",
        "weighted",
        "cheapest",
        "fastest",
        "capability",
        "adaptive",
        "budget_aware",
        "consistent_hash",
    }
    assert DEFAULT_ROUTE.name == "least_busy"


@pytest.mark.parametrize(("name", "options"), ROUTER_CONFIGS, ids=CONFIG_IDS)
def test_factories_build_routers(name: str, options: dict[str, Any]) -> None:
    """Each factory returns an object with ``choose`` that answers with a Route."""
    router = build(name, options)
    route = router.choose([cand("a0", tags=frozenset({"gpu"}))], req())
    assert isinstance(route, Route)
    assert route.agent == "a0"


@pytest.mark.parametrize("name", sorted(BUILTIN_ROUTERS))
def test_unknown_option_names_the_strategy_and_allowed_keys(name: str) -> None:
    """A misspelt option is a ValueError naming it and the router."""
    with pytest.raises(ValueError, match=rf"unknown option\(s\) colour for the {name} router"):
        build(name, {"colour": "blue"})


@pytest.mark.parametrize("name", sorted(BUILTIN_ROUTERS))
def test_options_must_be_a_mapping(name: str) -> None:
    """Options that are not a mapping are a ValueError, not an AttributeError."""
    with pytest.raises(ValueError, match="options must be a mapping, got list"):
        BUILTIN_ROUTERS[name](["x"])  # type: ignore[arg-type]


def test_unknown_option_suggests_a_close_one() -> None:
    """A near miss of an allowed option gets a did-you-mean hint."""
    with pytest.raises(ValueError, match=r"it takes cost_weight:, latency_weight: "):
        build("adaptive", {"latency_wieght": 1})
    with pytest.raises(ValueError, match=r"did you mean latency_weight:\?"):
        build("adaptive", {"latency_wieght": 1})


def test_options_free_router_says_it_takes_none() -> None:
    """A strategy without options says so."""
    with pytest.raises(ValueError, match="it takes no options"):
        build("cheapest", {"max": 1})


def test_history_is_wanted_only_where_used() -> None:
    """adaptive and fastest ask for journal history; budget_aware asks when its prefer does."""
    first_options = dict(reversed(ROUTER_CONFIGS))  # each strategy's first entry
    built = {name: build(name, options) for name, options in first_options.items()}
    wanting = {name for name, router in built.items() if getattr(router, "wants_history", False)}
    assert wanting == {"adaptive", "fastest"}
    assert getattr(build("budget_aware", {"prefer": "adaptive"}), "wants_history", False)
    assert not getattr(build("budget_aware", {"prefer": "cheapest"}), "wants_history", True)


# -- least_busy ------------------------------------------------------------------------------


def test_least_busy_picks_fewest_in_flight() -> None:
    """The candidate with the fewest calls in flight wins, whatever the list order."""
    cs = [cand("a", in_flight=2, limit=4), cand("b", in_flight=0, limit=4), cand("c", in_flight=1)]
    route = LeastBusyRouter().choose(cs, req())
    assert route == Route(agent="b", reason="fewest calls in flight (0 of 4)")


def test_least_busy_breaks_ties_by_ratio() -> None:
    """Equal calls in flight: the one with more room under its limit wins."""
    cs = [cand("small", in_flight=1, limit=2), cand("big", in_flight=1, limit=8)]
    route = LeastBusyRouter().choose(cs, req())
    assert route.agent == "big"
    assert route.reason == "fewest calls in flight (1 of 8), most room of 2 tied"


def test_least_busy_breaks_full_ties_by_list_order() -> None:
    """Equal in flight and ratio: the agent listed first wins."""
    cs = [cand("x"), cand("y"), cand("z", in_flight=3)]
    route = LeastBusyRouter().choose(cs, req())
    assert route == Route(
        agent="x", reason="fewest calls in flight (0, no limit), listed first of 2 tied"
    )


def test_least_busy_with_one_candidate() -> None:
    """A lone candidate is chosen and the reason says so."""
    route = LeastBusyRouter().choose([cand("solo", in_flight=3, limit=4)], req())
    assert route == Route(agent="solo", reason="only candidate (3 of 4 in flight)")


def test_least_busy_is_the_default_and_takes_no_options() -> None:
    """least_busy takes no options."""
    assert isinstance(build("least_busy"), LeastBusyRouter)
    with pytest.raises(ValueError, match="least_busy router; it takes no options"):
        build("least_busy", {"limit": 2})


# -- round_robin -------------------------------------------------------------------------------


def test_round_robin_rotates_in_list_order() -> None:
    """Calls go a, b, c, a, b, c."""
    cs = [cand("a"), cand("b"), cand("c")]
    assert picks(RoundRobinRouter(), cs, 6) == ["a", "b", "c", "a", "b", "c"]


def test_round_robin_reasons_say_whose_turn() -> None:
    """The first reason says where it starts, later ones whom the choice follows."""
    router, cs = RoundRobinRouter(), [cand("a"), cand("b")]
    assert router.choose(cs, req()).reason == "round robin: starts with a"
    assert router.choose(cs, req()).reason == "round robin: b follows a"


def test_round_robin_skips_agents_not_available_this_time() -> None:
    """An agent missing from this call's candidates is skipped; the rotation resumes after."""
    router = RoundRobinRouter()
    everyone = [cand("a"), cand("b"), cand("c")]
    assert router.choose(everyone, req()).agent == "a"
    route = router.choose([cand("a"), cand("c")], req())
    assert route == Route(agent="c", reason="round robin: c follows a, skipping b (not available)")
    assert picks(router, everyone, 3) == ["a", "b", "c"]


def test_round_robin_repeats_the_only_available_agent() -> None:
    """When the agent whose turn was last is the only candidate, it goes again."""
    router = RoundRobinRouter()
    router.choose([cand("a"), cand("b")], req())
    route = router.choose([cand("a")], req())
    assert route == Route(agent="a", reason="round robin: a again, the only one available")


def test_round_robin_keeps_a_cursor_per_uses() -> None:
    """Two ``uses`` rotate independently through the same router."""
    router, cs = RoundRobinRouter(), [cand("a"), cand("b")]
    first = [router.choose(cs, req(uses=uses)).agent for uses in ("x", "y", "x", "y")]
    assert first == ["a", "a", "b", "b"]


def test_round_robin_places_a_late_agent_at_its_list_position() -> None:
    """An agent first seen later joins the rotation where the candidate list puts it."""
    router = RoundRobinRouter()
    assert picks(router, [cand("a"), cand("c")], 1) == ["a"]
    assert picks(router, [cand("a"), cand("b"), cand("c")], 4) == ["b", "c", "a", "b"]


@given(agents=st.integers(min_value=1, max_value=8), rounds=st.integers(min_value=1, max_value=6))
def test_round_robin_is_fair_when_all_are_available(agents: int, rounds: int) -> None:
    """Over N*k calls with all N agents available, each agent gets exactly k."""
    cs = [cand(f"a{i}") for i in range(agents)]
    counts = collections.Counter(picks(RoundRobinRouter(), cs, agents * rounds))
    assert counts == {f"a{i}": rounds for i in range(agents)}


@given(
    availability=st.lists(
        st.lists(st.booleans(), min_size=4, max_size=4).filter(any), min_size=1, max_size=40
    )
)
def test_round_robin_serves_a_steadily_available_agent_within_n_calls(
    availability: list[list[bool]],
) -> None:
    """Of 4 agents, one available at 4 calls in a row gets at least one of them."""
    router, names = RoundRobinRouter(), ["a", "b", "c", "d"]
    rounds = [[True] * 4, *availability]
    chosen = []
    for flags in rounds:
        cs = [cand(n) for n, ok in zip(names, flags, strict=True) if ok]
        chosen.append(router.choose(cs, req()).agent)
        assert chosen[-1] in {c.name for c in cs}
    for start in range(len(rounds) - 3):
        window = range(start, start + 4)
        for i, name in enumerate(names):
            if all(rounds[j][i] for j in window):
                assert name in {chosen[j] for j in window}


# -- weighted ------------------------------------------------------------------------------


def test_weighted_draws_in_proportion_to_weights() -> None:
    """With weights 3:1, a seeded run of 4000 draws gives a about three quarters of them."""
    cs = [cand("a", weight=3), cand("b", weight=1)]
    counts = collections.Counter(picks(WeightedRouter(), cs, 4000, seed=7))
    assert 2800 < counts["a"] < 3200
    assert counts["a"] + counts["b"] == 4000


def test_weighted_option_overrides_candidate_weights() -> None:
    """``weights:`` replaces the listed agents' own weights; others keep theirs."""
    cs = [cand("a", weight=1), cand("b", weight=1), cand("c", weight=2)]
    router = build("weighted", {"weights": {"a": 0, "b": 6}})
    counts = collections.Counter(picks(router, cs, 4000, seed=3))
    assert counts["a"] == 0
    assert 2800 < counts["b"] < 3200
    assert 800 < counts["c"] < 1200


def test_weighted_never_draws_zero_or_negative_weights() -> None:
    """Agents weighing 0 or less are never drawn while someone weighs more."""
    cs = [cand("zero", weight=0), cand("neg", weight=-2), cand("one", weight=1)]
    assert set(picks(WeightedRouter(), cs, 200)) == {"one"}


def test_weighted_is_uniform_when_no_weight_is_positive() -> None:
    """When every weight is 0 or less, every candidate is drawn, about equally."""
    cs = [cand("a", weight=0), cand("b", weight=-1), cand("c", weight=0)]
    counts = collections.Counter(picks(WeightedRouter(), cs, 3000, seed=5))
    assert all(800 < counts[n] < 1200 for n in "abc")
    route = WeightedRouter().choose(cs, req())
    assert route.reason == "weighted: no positive weight, uniform draw among 3"


def test_weighted_reason_gives_the_share() -> None:
    """The reason states the chosen weight, the total and the share."""
    route = WeightedRouter().choose([cand("a", weight=3), cand("b", weight=0)], req())
    assert route == Route(agent="a", reason="weighted draw: weight 3 of 3 (100%)")


def test_weighted_same_seed_same_draws() -> None:
    """Two routers with equally seeded rngs draw the same sequence."""
    cs = [cand(f"a{i}", weight=i + 1) for i in range(5)]
    assert picks(WeightedRouter(), cs, 50, seed=11) == picks(WeightedRouter(), cs, 50, seed=11)


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([1, 2], "weights must map agent names to numbers"),
        ({"a": -1}, r"weights.a must be a number >= 0, got -1"),
        ({"a": "3"}, r"weights.a must be a number >= 0, got '3'"),
        ({"a": True}, r"weights.a must be a number >= 0, got True"),
        ({"a": float("nan")}, r"weights.a must be a number >= 0, got nan"),
        ({1: 2}, "weights keys must be agent names, got 1"),
    ],
)
def test_weighted_rejects_bad_weights(weights: object, message: str) -> None:
    """Weights must be a mapping of agent names to finite numbers >= 0."""
    with pytest.raises(ValueError, match=message):
        build("weighted", {"weights": weights})


# -- cheapest -------------------------------------------------------------------------------


PRICE = Price(input_per_1k=1.0, output_per_1k=2.0)


def test_cheapest_picks_the_lowest_estimated_cost() -> None:
    """The lowest estimate wins; the reason names the runner-up."""
    cs = [
        cand("dear", price=PRICE, estimated_cost=0.02),
        cand("cheap", price=PRICE, estimated_cost=0.002),
        cand("mid", price=PRICE, estimated_cost=0.004),
    ]
    route = CheapestRouter().choose(cs, req())
    assert route == Route(agent="cheap", reason="cheapest: $0.002 estimated; next mid at $0.004")


def test_cheapest_breaks_ties_by_least_busy() -> None:
    """Equal costs: the agent with fewer calls in flight wins."""
    cs = [
        cand("a", price=PRICE, estimated_cost=0.01, in_flight=2, limit=4),
        cand("b", price=PRICE, estimated_cost=0.01, in_flight=1, limit=4),
    ]
    route = CheapestRouter().choose(cs, req())
    assert route == Route(
        agent="b", reason="cheapest: $0.01 estimated, tied with a; least busy (1 of 4)"
    )


def test_cheapest_counts_an_agent_without_price_as_free_and_says_so() -> None:
    """An agent with no ``price:`` counts as $0, and the reason says no price was declared."""
    cs = [cand("priced", price=PRICE, estimated_cost=0.001), cand("unpriced")]
    route = CheapestRouter().choose(cs, req())
    assert route == Route(
        agent="unpriced",
        reason="cheapest: no price declared (counted as $0); next priced at $0.001",
    )


def test_cheapest_with_one_candidate() -> None:
    """A lone candidate's cost is still stated."""
    route = CheapestRouter().choose([cand("a", price=PRICE, estimated_cost=1.5)], req())
    assert route == Route(agent="a", reason="cheapest: $1.50 estimated, only candidate")


# -- fastest -------------------------------------------------------------------------------


def test_fastest_picks_the_lowest_latency() -> None:
    """Among measured agents the lowest smoothed latency wins."""
    cs = [cand("slow", latency=2.5), cand("quick", latency=0.8), cand("mid", latency=1.2)]
    route = FastestRouter().choose(cs, req())
    assert route == Route(agent="quick", reason="fastest: 0.8s latency; next mid at 1.2s")


def test_fastest_explores_unmeasured_agents_first() -> None:
    """An agent with no latency data and nothing in flight is tried before faster ones."""
    cs = [cand("known", latency=0.1), cand("new")]
    route = FastestRouter().choose(cs, req())
    assert route == Route(agent="new", reason="fastest: not measured yet, trying it first")


def test_fastest_does_not_pile_onto_an_agent_being_measured() -> None:
    """An unmeasured agent with a call in flight is left alone while a measured one exists."""
    cs = [cand("known", latency=0.1), cand("new", in_flight=1)]
    route = FastestRouter().choose(cs, req())
    assert route.agent == "known"
    assert route.reason == "fastest: 0.1s latency; 1 still being measured"


def test_fastest_without_measurements_falls_back_to_least_busy() -> None:
    """When every agent is unmeasured and busy, the least busy takes the call."""
    cs = [cand("a", in_flight=2, limit=4), cand("b", in_flight=1, limit=4)]
    route = FastestRouter().choose(cs, req())
    assert route.agent == "b"
    assert route.reason == "fastest: none measured yet, all being measured; least busy (1 of 4)"


def test_fastest_uses_past_runs_when_this_run_has_no_latency() -> None:
    """History's mean latency stands in for this run's, and the reason says so."""
    cs = [
        cand("a", history=AgentHistory(successes=3, mean_latency=3.0)),
        cand("b", history=AgentHistory(successes=3, mean_latency=0.5)),
    ]
    route = FastestRouter().choose(cs, req())
    assert route == Route(agent="b", reason="fastest: 0.5s latency (past runs); next a at 3.0s")


def test_fastest_prefers_this_runs_latency_over_history() -> None:
    """This run's smoothed latency wins over the journal's mean."""
    cs = [
        cand("a", latency=2.0, history=AgentHistory(mean_latency=0.1)),
        cand("b", latency=1.0, history=AgentHistory(mean_latency=9.0)),
    ]
    assert FastestRouter().choose(cs, req()).agent == "b"


# -- capability -------------------------------------------------------------------------------


def test_capability_requires_every_tag() -> None:
    """Only an agent holding all required tags qualifies, even if busier."""
    router = build("capability", {"require": ["gpu", "eu"]})
    cs = [
        cand("a", tags=frozenset({"gpu"})),
        cand("b", tags=frozenset({"gpu", "eu"}), in_flight=3),
    ]
    route = router.choose(cs, req())
    assert route == Route(agent="b", reason="capability: has gpu, eu; 3 in flight, no limit")


def test_capability_counts_capabilities_as_tags() -> None:
    """Capabilities satisfy ``require`` like tags do."""
    router = build("capability", {"require": "summarise"})
    cs = [cand("a"), cand("b", capabilities=frozenset({"summarise"}))]
    assert router.choose(cs, req()).agent == "b"


def test_capability_without_a_full_match_returns_the_closest() -> None:
    """When none qualifies, the one lacking least wins, and the reason says what it lacks."""
    router = build("capability", {"require": ["gpu", "eu", "fast"]})
    cs = [cand("a", tags=frozenset({"gpu"})), cand("b", tags=frozenset({"gpu", "fast"}))]
    route = router.choose(cs, req())
    assert route.agent == "b"
    assert route.reason.startswith("capability: no candidate has all of gpu, eu, fast; lacks eu")


def test_capability_prefers_more_preferred_tags() -> None:
    """More ``prefer`` matches win before load is considered."""
    router = build("capability", {"prefer": ["eu", "cheap"]})
    cs = [
        cand("a", tags=frozenset({"eu"})),
        cand("b", tags=frozenset({"eu", "cheap"}), in_flight=2, limit=4),
    ]
    route = router.choose(cs, req())
    assert route == Route(
        agent="b", reason="capability: 2 of 2 preferred (eu, cheap); 2 of 4 in flight"
    )


def test_capability_matches_agent_options() -> None:
    """``options:`` must equal the agent's options."""
    router = build("capability", {"options": {"model": "m2"}})
    cs = [cand("a", options={"model": "m1"}), cand("b", options={"model": "m2"}), cand("c")]
    route = router.choose(cs, req())
    assert route.agent == "b"
    assert route.reason.startswith("capability: has model=m2")


def test_capability_breaks_ties_by_least_busy() -> None:
    """Equally qualified agents: the least busy wins."""
    router = build("capability", {"require": ["gpu"]})
    cs = [cand("a", tags=frozenset({"gpu"}), in_flight=1), cand("b", tags=frozenset({"gpu"}))]
    assert router.choose(cs, req()).agent == "b"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "needs require: .* prefer: .* or options:"),
        ({"require": [1]}, r"require must be a list of tag names \(strings\), got \[1\]"),
        ({"prefer": {"a": 1}}, "prefer must be a list of tag names"),
        ({"options": ["model"]}, r"options must map agent option names to values"),
    ],
)
def test_capability_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    """Wrong types and an empty configuration are ValueErrors saying what is expected."""
    with pytest.raises(ValueError, match=message):
        build("capability", options)


def test_capability_router_keeps_its_options() -> None:
    """from_options stores tag lists as tuples and options as given."""
    router = build("capability", {"require": ["gpu"], "prefer": "eu", "options": {"m": 1}})
    assert router == CapabilityRouter(require=("gpu",), prefer=("eu",), options={"m": 1})


# -- adaptive -------------------------------------------------------------------------------


def test_adaptive_prefers_the_reliable_agent() -> None:
    """An agent with 95% success beats one with 50% in nearly every seeded draw."""
    cs = [
        cand("flaky", history=AgentHistory(successes=50, failures=50)),
        cand("solid", history=AgentHistory(successes=95, failures=5)),
    ]
    counts = collections.Counter(picks(AdaptiveRouter(), cs, 500, seed=1))
    assert counts["solid"] >= 490


def test_adaptive_combines_history_and_live_stats() -> None:
    """This run's calls and failures add to the journal's record."""
    cs = [
        cand("a", history=AgentHistory(successes=90, failures=10), calls=100, failures=100),
        cand("b", history=AgentHistory(successes=80, failures=20)),
    ]
    counts = collections.Counter(picks(AdaptiveRouter(), cs, 300, seed=2))
    assert counts["b"] >= 290


def test_adaptive_explores_new_agents() -> None:
    """An agent with no record is still chosen sometimes, next to a good known one."""
    cs = [cand("known", history=AgentHistory(successes=8, failures=2)), cand("new")]
    counts = collections.Counter(picks(AdaptiveRouter(), cs, 500, seed=4))
    assert 50 < counts["new"] < 450


def test_adaptive_penalises_latency_and_cost() -> None:
    """Of two equally reliable agents, the faster and cheaper one wins when the penalty is large."""
    record = AgentHistory(successes=1000, failures=0)
    cs = [
        cand("slow", history=record, latency=4.0, price=PRICE, estimated_cost=0.01),
        cand("fast", history=record, latency=1.0, price=PRICE, estimated_cost=0.01),
    ]
    assert set(picks(build("adaptive", {"latency_weight": 1}), cs, 100)) == {"fast"}
    cs = [
        cand("dear", history=record, price=PRICE, estimated_cost=0.04),
        cand("cheap", history=record, price=PRICE, estimated_cost=0.01),
    ]
    assert set(picks(build("adaptive", {"cost_weight": 1}), cs, 100)) == {"cheap"}


def test_adaptive_multiplies_by_quality() -> None:
    """Of two equally reliable agents, the one with better validated output wins."""
    record = AgentHistory(successes=1000, failures=0)
    cs = [cand("sloppy", history=record, quality=0.3), cand("careful", history=record, quality=0.9)]
    assert set(picks(AdaptiveRouter(), cs, 100)) == {"careful"}


def test_adaptive_reason_gives_the_components() -> None:
    """The reason shows success rate and calls, the draw, latency, cost and score."""
    chosen = cand(
        "a",
        history=AgentHistory(successes=38, failures=3),
        latency=0.8,
        price=PRICE,
        estimated_cost=0.002,
    )
    route = AdaptiveRouter().choose([chosen], req())
    assert route.agent == "a"
    assert route.reason.startswith("adaptive: success≈0.93 (41 calls, drew ")
    assert ", latency 0.8s, cost $0.002, score " in route.reason


def test_adaptive_reason_for_a_new_agent() -> None:
    """An agent with no record is said to be explored, with latency unknown."""
    route = AdaptiveRouter().choose([cand("new")], req())
    assert route.reason.startswith("adaptive: no record yet, exploring (drew ")
    assert "latency unknown, cost $0" in route.reason


def test_adaptive_uses_past_mean_cost_for_unpriced_agents() -> None:
    """Without a price, the journal's mean cost per call is the cost penalised."""
    record = AgentHistory(successes=1000, failures=0)
    cs = [
        cand("dear", history=attrs.evolve(record, mean_cost=0.5)),
        cand("cheap", history=attrs.evolve(record, mean_cost=0.01)),
    ]
    assert set(picks(build("adaptive", {"cost_weight": 1}), cs, 50)) == {"cheap"}


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"latency_weight": -0.1}, r"latency_weight must be a number >= 0, got -0.1"),
        ({"cost_weight": "high"}, r"cost_weight must be a number >= 0, got 'high'"),
        ({"cost_weight": float("inf")}, r"cost_weight must be a number >= 0, got inf"),
    ],
)
def test_adaptive_rejects_bad_weights(options: dict[str, Any], message: str) -> None:
    """Penalty weights must be finite numbers >= 0."""
    with pytest.raises(ValueError, match=message):
        build("adaptive", options)


# -- budget_aware -------------------------------------------------------------------------------


CHEAP_AND_IDLE = [
    cand("dear", price=PRICE, estimated_cost=0.05),
    cand("cheap", price=PRICE, estimated_cost=0.01, in_flight=3, limit=4),
]


def test_budget_aware_without_budget_uses_prefer() -> None:
    """No run budget: the preferred strategy decides."""
    route = BudgetAwareRouter().choose(CHEAP_AND_IDLE, req())
    assert route == Route(
        agent="dear", reason="no budget set: fewest calls in flight (0, no limit)"
    )


def test_budget_aware_with_enough_budget_uses_prefer() -> None:
    """At or above ``below`` of the budget left, the preferred strategy decides."""
    route = BudgetAwareRouter().choose(CHEAP_AND_IDLE, req(budget_left=5.0, budget_total=10.0))
    assert route.agent == "dear"
    assert route.reason == "50% of budget left (≥ 50%): fewest calls in flight (0, no limit)"


def test_budget_aware_low_on_budget_goes_cheapest() -> None:
    """Below ``below`` of the budget left, the cheapest agent takes the call."""
    router = build("budget_aware", {"below": 0.3})
    route = router.choose(CHEAP_AND_IDLE, req(budget_left=2.0, budget_total=10.0))
    assert route.agent == "cheap"
    assert route.reason.startswith("20% of budget left (< 30%): cheapest: $0.01 estimated")


def test_budget_aware_with_a_zero_budget_goes_cheapest() -> None:
    """A budget of $0 counts as nothing left."""
    route = BudgetAwareRouter().choose(CHEAP_AND_IDLE, req(budget_left=0.0, budget_total=0.0))
    assert route.agent == "cheap"


def test_budget_aware_prefer_takes_a_strategy_with_options() -> None:
    """``prefer: {strategy: NAME, ...}`` builds that strategy with its options."""
    router = build("budget_aware", {"prefer": {"strategy": "weighted", "weights": {"dear": 0}}})
    assert isinstance(router, BudgetAwareRouter)
    assert router.prefer == WeightedRouter(weights={"dear": 0.0})
    assert set(picks(router, CHEAP_AND_IDLE, 20)) == {"cheap"}


def test_budget_aware_prefer_may_be_a_name() -> None:
    """``prefer: round_robin`` builds round robin without options."""
    router = build("budget_aware", {"prefer": "round_robin"})
    assert picks(router, CHEAP_AND_IDLE, 4) == ["dear", "cheap", "dear", "cheap"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"prefer": "cheapset"}, r"unknown strategy 'cheapset' \(did you mean cheapest\?\)"),
        ({"prefer": "budget_aware"}, "unknown strategy 'budget_aware'; it takes a built-in"),
        ({"prefer": {"weights": {}}}, r"prefer must be a strategy name or \{strategy: NAME"),
        ({"prefer": 3}, "prefer must be a strategy name"),
        ({"prefer": {"strategy": "weighted", "wieghts": {}}}, "prefer: unknown option"),
        ({"below": 1.5}, r"below must be a number from 0 to 1, got 1.5"),
        ({"below": "half"}, r"below must be a number from 0 to 1, got 'half'"),
    ],
)
def test_budget_aware_rejects_bad_options(options: dict[str, Any], message: str) -> None:
    """Bad ``prefer`` and ``below`` values are ValueErrors naming the option."""
    with pytest.raises(ValueError, match=message):
        build("budget_aware", options)


# -- properties of every router ------------------------------------------------------------------

names = st.text(alphabet="abcdefghij0123456789_-", min_size=1, max_size=6)
maybe_seconds = st.none() | st.floats(min_value=0, max_value=600, allow_nan=False)


@st.composite
def candidates(draw: st.DrawFn) -> list[Candidate]:
    """1 to 8 candidates with unique names and any mix of present and missing data."""
    agent_names = draw(st.lists(names, min_size=1, max_size=8, unique=True))
    out = []
    for name in agent_names:
        limit = draw(st.none() | st.integers(min_value=1, max_value=16))
        priced = draw(st.booleans())
        history = draw(
            st.none()
            | st.builds(
                AgentHistory,
                successes=st.integers(min_value=0, max_value=10_000),
                failures=st.integers(min_value=0, max_value=10_000),
                mean_latency=maybe_seconds,
                mean_cost=st.none() | st.floats(min_value=0, max_value=10, allow_nan=False),
            )
        )
        calls = draw(st.integers(min_value=0, max_value=500))
        out.append(
            Candidate(
                name=name,
                capabilities=frozenset(draw(st.lists(st.sampled_from(["summarise", "gpu"])))),
                tags=frozenset(draw(st.lists(st.sampled_from(["gpu", "eu", "fast"])))),
                weight=draw(st.floats(min_value=-5, max_value=1e6, allow_nan=False)),
                price=PRICE if priced else None,
                options={"model": draw(st.sampled_from(["m1", "m2"]))},
                in_flight=draw(st.integers(min_value=0, max_value=limit or 16)),
                limit=limit,
                calls=calls,
                failures=draw(st.integers(min_value=0, max_value=calls)),
                latency=draw(maybe_seconds),
                quality=draw(st.none() | st.floats(min_value=0, max_value=1)),
                estimated_cost=draw(st.floats(min_value=0, max_value=5)) if priced else 0.0,
                history=history,
            )
        )
    return out


budgets = st.one_of(
    st.just((None, None)),
    st.tuples(st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=100)).map(
        lambda lt: (min(lt), max(lt))
    ),
)


@settings(max_examples=40, deadline=None)
@given(cs=candidates(), seed=st.integers(), budget=budgets, calls=st.integers(1, 10))
@pytest.mark.parametrize(("name", "options"), ROUTER_CONFIGS, ids=CONFIG_IDS)
def test_every_router_returns_a_candidate_and_a_reason(
    name: str,
    options: dict[str, Any],
    cs: list[Candidate],
    seed: int,
    budget: tuple[float | None, float | None],
    calls: int,
) -> None:
    """Whatever valid candidates arrive, each call names one of them, with a reason."""
    router = build(name, options)
    request = req(seed, budget_left=budget[0], budget_total=budget[1])
    for _ in range(calls):
        route = router.choose(cs, request)
        assert route.agent in {c.name for c in cs}
        assert isinstance(route.reason, str)
        assert route.reason.strip()


@settings(max_examples=30, deadline=None)
@given(cs=candidates(), seed=st.integers(), budget=budgets)
@pytest.mark.parametrize(("name", "options"), ROUTER_CONFIGS, ids=CONFIG_IDS)
def test_every_router_is_deterministic_for_a_seed(
    name: str,
    options: dict[str, Any],
    cs: list[Candidate],
    seed: int,
    budget: tuple[float | None, float | None],
) -> None:
    """Two fresh routers given equally seeded requests make the same choices and reasons."""
    runs = []
    for _ in range(2):
        router = build(name, options)
        request = req(seed, budget_left=budget[0], budget_total=budget[1])
        runs.append([router.choose(cs, request) for _ in range(8)])
    assert runs[0] == runs[1]


@settings(max_examples=30, deadline=None)
@given(cs=candidates(), seed=st.integers())
@pytest.mark.parametrize(("name", "options"), ROUTER_CONFIGS, ids=CONFIG_IDS)
def test_every_router_leaves_candidates_alone(
    name: str, options: dict[str, Any], cs: list[Candidate], seed: int
) -> None:
    """Choosing changes neither the list nor any candidate (options included)."""
    before = [attrs.evolve(c, options=dict(c.options)) for c in cs]
    router = build(name, options)
    for _ in range(4):
        router.choose(cs, req(seed))
    assert cs == before


@settings(max_examples=30, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=0, max_value=5), min_size=2, max_size=5).filter(any),
    seed=st.integers(),
)
def test_weighted_proportions_follow_weights(weights: list[int], seed: int) -> None:
    """Over 3000 seeded draws each agent's share is within 6 points of its weight's share."""
    cs = [cand(f"a{i}", weight=w) for i, w in enumerate(weights)]
    counts = collections.Counter(picks(WeightedRouter(), cs, 3000, seed=seed))
    total = sum(weights)
    for i, weight in enumerate(weights):
        share = counts[f"a{i}"] / 3000
        assert abs(share - weight / total) < 0.06
        if weight == 0:
            assert counts[f"a{i}"] == 0

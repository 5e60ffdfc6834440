"""fair_share's choices, with candidates and requests built as docs/routing.md showed."""

import random
import re

import pytest
from cadenza_legacy_router import FairShare

import cadenza


def request():
    return cadenza.RouteRequest(step_id="s", uses="summarise", rng=random.Random(0))


def test_the_agent_furthest_below_its_share_is_chosen():
    """With weights 3 and 1, an agent with 2 calls beats one with 1 call."""
    router = FairShare.from_options({"weights": {"fast": 3}})
    candidates = [
        cadenza.Candidate(name="fast", calls=2),
        cadenza.Candidate(name="slow", calls=1),
    ]
    route = router.choose(candidates, request())
    assert route == cadenza.Route(
        agent="fast", reason="fair share: 2 call(s) so far for weight 3, the least per weight of 2"
    )


def test_calls_in_flight_count_as_given():
    """An agent's calls in flight count towards its share as much as finished ones."""
    router = FairShare.from_options({})
    candidates = [
        cadenza.Candidate(name="a", calls=0, in_flight=2),
        cadenza.Candidate(name="b", calls=1),
    ]
    assert router.choose(candidates, request()).agent == "b"


def test_the_agent_weight_is_used_without_the_option():
    """Without `weights`, each candidate's own `weight` sets its share."""
    router = FairShare.from_options({})
    candidates = [
        cadenza.Candidate(name="a", weight=1, calls=1),
        cadenza.Candidate(name="b", weight=4, calls=3),
    ]
    assert router.choose(candidates, request()).agent == "b"


def test_weight_zero_is_chosen_only_when_every_candidate_weighs_zero():
    """An agent weighing 0 never wins against a weighted one; among zeros the least busy does."""
    router = FairShare.from_options({"weights": {"a": 0, "b": 0}})
    weighted = [cadenza.Candidate(name="a", calls=0), cadenza.Candidate(name="c", calls=9)]
    assert router.choose(weighted, request()).agent == "c"
    zeros = [cadenza.Candidate(name="a", in_flight=1), cadenza.Candidate(name="b")]
    assert router.choose(zeros, request()).agent == "b"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"wieghts": {}}, "unknown option(s) wieghts for the fair_share router"),
        ({"weights": [1, 2]}, "weights must map agent names to numbers >= 0"),
        ({"weights": {"a": -1}}, "weights.a must be a number >= 0, got -1"),
        ({"weights": {"a": True}}, "weights.a must be a number >= 0, got True"),
    ],
)
def test_bad_options_raise_value_error_naming_the_option(options, message):
    """Bad options raise ValueError saying which option and what is allowed."""
    with pytest.raises(ValueError, match=re.escape(message)):
        FairShare.from_options(options)

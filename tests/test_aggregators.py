"""The built-in aggregation strategies, on constructed agreements and disagreements."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza._agents._contract import AgentResult
from cadenza._strategies._aggregation import Answer, Verdict
from cadenza._strategies._aggregators import (
    BUILTIN_AGGREGATORS,
    DEFAULT_AGGREGATOR,
    Consensus,
    FirstSuccess,
    Hedged,
    HighestConfidence,
    MajorityVote,
    Merge,
    WeightedVote,
)


def ok(
    agent: str,
    output: Any,
    *,
    confidence: float | None = None,
    weight: float = 1.0,
    quality: float | None = None,
) -> Answer:
    return Answer(
        agent=agent,
        result=AgentResult(output=output, confidence=confidence),
        weight=weight,
        quality=quality,
    )


def failed(agent: str, *, retryable: bool = True) -> Answer:
    return Answer(agent=agent, error="HTTP 503", error_type="RetryableError", retryable=retryable)


def build(name: str, **options: Any) -> Any:
    return BUILTIN_AGGREGATORS[name](options)


# -- the registry -------------------------------------------------------------------------


def test_builtin_names() -> None:
    """The kernel offers exactly the seven documented strategies, majority_vote the default."""
    assert set(BUILTIN_AGGREGATORS) == {
        "first_success",
        "hedged",
        "majority_vote",
        "weighted_vote",
        "highest_confidence",
        "merge",
        "consensus",
    }
    assert DEFAULT_AGGREGATOR == "majority_vote"


@pytest.mark.parametrize("name", sorted(BUILTIN_AGGREGATORS))
def test_factories_build_with_no_options(name: str) -> None:
    """Every factory builds its aggregator from an empty mapping (all options defaulted)."""
    aggregator = build(name)
    assert callable(aggregator.combine)


@pytest.mark.parametrize("name", sorted(BUILTIN_AGGREGATORS))
def test_unknown_option_is_refused_naming_the_strategy(name: str) -> None:
    """An unknown key raises ValueError naming the key and the strategy."""
    with pytest.raises(ValueError, match=rf"unknown option\(s\) colour\b.*\b{name} aggregator"):
        build(name, colour="red")


def test_misspelt_option_gets_a_suggestion() -> None:
    """A near miss of a real option is answered with the right spelling and the full list."""
    with pytest.raises(ValueError, match=r"Did you mean 'threshold'\?.*key, normalize, threshold"):
        build("consensus", treshold=0.7)


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        ("majority_vote", {"normalize": ["lower"]}, "normalize must be a list drawn from"),
        ("majority_vote", {"normalize": 3}, "normalize must be a list drawn from"),
        ("majority_vote", {"key": ""}, "key must be a dotted field path"),
        ("majority_vote", {"key": "a..b"}, "key must be a dotted field path"),
        ("majority_vote", {"key": 3}, "key must be a dotted field path"),
        ("weighted_vote", {"threshold": 1}, r"threshold must be a number in \[0, 1\), got 1"),
        ("weighted_vote", {"threshold": -0.1}, r"threshold must be a number in \[0, 1\)"),
        ("weighted_vote", {"threshold": "half"}, r"threshold must be a number"),
        ("consensus", {"threshold": 0}, r"threshold must be a number in \(0, 1\], got 0"),
        ("consensus", {"threshold": 1.5}, r"threshold must be a number in \(0, 1\]"),
        ("consensus", {"threshold": True}, r"threshold must be a number"),
        ("consensus", {"weighted": "yes"}, "weighted must be true or false, got 'yes'"),
        ("hedged", {"percentile": 0}, r"percentile must be a number in \(0, 100\], got 0"),
        ("hedged", {"percentile": 101}, r"percentile must be a number in \(0, 100\]"),
        ("hedged", {"percentile": float("nan")}, r"percentile must be a number"),
        ("hedged", {"min_samples": 0}, "min_samples must be a whole number of at least 1"),
        ("hedged", {"min_samples": 2.5}, "min_samples must be a whole number"),
        ("hedged", {"max_requests": 1}, "max_requests must be a whole number of at least 2"),
        ("hedged", {"max_requests": True}, "max_requests must be a whole number"),
        ("hedged", {"delay": "soon"}, "delay: expected a duration like 30s"),
        ("hedged", {"delay": -1}, "delay: a duration cannot be negative"),
        ("merge", {"conflicts": "last"}, "conflicts must be one of first, weight, fail"),
        ("merge", {"lists": "append"}, "lists must be one of leaf, concat"),
        ("first_success", {"delay": 1}, "first_success aggregator takes no options"),
        ("highest_confidence", {"key": "x"}, "highest_confidence aggregator takes no options"),
    ],
)
def test_bad_option_values_are_refused(name: str, options: dict[str, Any], message: str) -> None:
    """A wrong type or an out-of-range value raises ValueError saying what is expected."""
    with pytest.raises(ValueError, match=message):
        build(name, **options)


# -- first_success ------------------------------------------------------------------------


def test_first_success_decides_at_the_first_ok_answer() -> None:
    """The first ok answer wins while other calls are still pending."""
    verdict = FirstSuccess().combine([failed("a"), ok("b", "hello")], pending=2)
    assert verdict == Verdict(output="hello", supporters=("b",), agreement=1.0)


def test_first_success_waits_while_only_failures_arrived() -> None:
    """Failures alone decide nothing while calls are pending."""
    assert FirstSuccess().combine([failed("a")], pending=1) is None


def test_first_success_all_failed_has_no_supporters() -> None:
    """With every call failed the verdict has no supporters and no conflict."""
    assert FirstSuccess().combine([failed("a"), failed("b")], pending=0) == Verdict()


def test_first_success_counts_identical_later_answers_as_support() -> None:
    """Given several ok answers at once, those equal to the first support it too."""
    answers = [ok("a", "x", confidence=0.5), ok("b", "y"), ok("c", "x", confidence=1.0)]
    verdict = FirstSuccess().combine(answers, pending=0)
    assert verdict == Verdict(output="x", supporters=("a", "c"), agreement=2 / 3, confidence=0.75)


# -- hedged -----------------------------------------------------------------------------


def test_hedged_combines_like_first_success() -> None:
    """A hedged step's first ok answer wins even with the hedge still pending."""
    hedged = Hedged()
    assert hedged.combine([ok("slow", "late")], pending=1) == Verdict(
        output="late", supporters=("slow",), agreement=1.0
    )
    assert hedged.combine([failed("a")], pending=1) is None
    assert hedged.combine([failed("a"), failed("b")], pending=0) == Verdict()


def test_hedged_defaults() -> None:
    """p95 after 10 samples, 1 s before, two calls in all."""
    assert Hedged.from_options({}) == Hedged(
        percentile=95.0, min_samples=10, delay=1.0, max_requests=2
    )


def test_hedge_after_uses_delay_until_min_samples() -> None:
    """With fewer latencies than min_samples the configured delay applies."""
    hedged = Hedged.from_options({"delay": "500ms", "min_samples": 3})
    assert hedged.hedge_after([]) == 0.5
    assert hedged.hedge_after([9.0, 9.0]) == 0.5
    assert hedged.hedge_after([9.0, 9.0, 9.0]) == 9.0


@pytest.mark.parametrize(
    ("percentile", "expected"),
    [(95, 19.0), (50, 10.0), (100, 20.0), (1, 1.0), (99.9, 20.0), (5, 1.0), (5.01, 2.0)],
)
def test_hedge_after_is_the_nearest_rank_percentile(percentile: float, expected: float) -> None:
    """The delay is the nearest-rank percentile of the latencies, in any order."""
    latencies = [float(n) for n in range(20, 0, -1)]
    hedged = Hedged.from_options({"percentile": percentile})
    assert hedged.hedge_after(latencies) == expected


def test_hedged_max_requests_is_an_attribute() -> None:
    """The kernel reads the number of calls from ``max_requests``."""
    assert Hedged.from_options({"max_requests": 3}).max_requests == 3


# -- majority_vote ------------------------------------------------------------------------


def test_majority_clear_winner() -> None:
    """Two of three answers agreeing win, supported by both in arrival order."""
    answers = [ok("a", "yes"), ok("b", "no"), ok("c", "yes")]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict == Verdict(output="yes", supporters=("a", "c"), agreement=2 / 3)


def test_majority_tie_is_a_conflict_naming_both_sides() -> None:
    """Two groups of two are a tie, said with the agents and the vote counts."""
    answers = [ok("a", "yes"), ok("b", "no"), ok("c", "no"), ok("d", "yes")]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict == Verdict(conflict="tie between 'yes' (a, d) and 'no' (b, c): 2 vs 2 votes")


def test_majority_three_way_tie() -> None:
    """Three different answers are a three-way tie."""
    verdict = MajorityVote().combine([ok("a", "x"), ok("b", "y"), ok("c", "z")], pending=0)
    assert verdict is not None
    assert verdict.conflict == "tie between 'x' (a), 'y' (b) and 'z' (c): 1 vs 1 vs 1 votes"


def test_majority_normalizes_before_comparing() -> None:
    """' Yes' and 'yes' agree; the output is the first-arrived original text."""
    answers = [ok("a", " Yes"), ok("b", "no"), ok("c", "yes\n")]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict == Verdict(output=" Yes", supporters=("a", "c"), agreement=2 / 3)


def test_majority_without_normalization_compares_exactly() -> None:
    """``normalize: []`` keeps ' Yes' and 'yes' apart."""
    verdict = build("majority_vote", normalize=[]).combine(
        [ok("a", " Yes"), ok("b", "yes")], pending=0
    )
    assert verdict.conflict == "tie between ' Yes' (a) and 'yes' (b): 1 vs 1 votes"


@pytest.mark.parametrize(
    ("normalize", "agree"),
    [
        (["whitespace"], True),
        (["strip"], False),
        (["casefold"], False),
        ("whitespace", True),
    ],
)
def test_each_normalization_step(normalize: Any, agree: bool) -> None:
    """``whitespace`` collapses inner runs of whitespace; strip and casefold do not."""
    aggregator = build("majority_vote", normalize=normalize)
    verdict = aggregator.combine([ok("a", "a  b"), ok("b", "a\tb")], pending=0)
    assert (verdict.conflict is None) is agree


def test_casefold_is_unicode_aware() -> None:
    """Casefolding makes 'STRASSE' and 'straße' agree."""
    verdict = MajorityVote().combine([ok("a", "STRASSE"), ok("b", "straße")], pending=0)
    assert verdict == Verdict(output="STRASSE", supporters=("a", "b"), agreement=1.0)


def test_normalization_reaches_into_lists_and_mappings() -> None:
    """Strings inside lists and mappings are normalized too (keys are not)."""
    answers = [
        ok("a", {"labels": [" Bug ", "UI"], "note": {"text": "Crash  on upload"}}),
        ok("b", {"labels": ["bug", "ui"], "note": {"text": "crash on upload"}}),
        ok("c", {"Labels": ["bug", "ui"], "note": {"text": "crash on upload"}}),
    ]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.supporters == ("a", "b")
    assert verdict.output == answers[0].output


def test_numbers_compare_by_value_but_booleans_are_not_numbers() -> None:
    """1 and 1.0 agree; true and 1 do not."""
    agree = MajorityVote().combine([ok("a", 1), ok("b", 1.0)], pending=0)
    assert agree is not None
    assert agree.supporters == ("a", "b")
    differ = MajorityVote().combine([ok("a", True), ok("b", 1)], pending=0)
    assert differ is not None
    assert differ.conflict == "tie between True (a) and 1 (b): 1 vs 1 votes"


def test_majority_on_a_key_votes_on_that_field_only() -> None:
    """With ``key`` only the field counts; the output is the first winner's whole mapping."""
    answers = [
        ok("a", {"label": "Spam", "reason": "link farm"}),
        ok("b", {"label": "ham", "reason": "link farm"}),
        ok("c", {"label": "spam ", "reason": "bulk mail"}),
    ]
    verdict = build("majority_vote", key="label").combine(answers, pending=0)
    assert verdict == Verdict(output=answers[0].output, supporters=("a", "c"), agreement=2 / 3)


def test_key_paths_reach_nested_fields_and_list_items() -> None:
    """A dotted key walks mappings, and a number picks a list item."""
    answers = [
        ok("a", {"review": {"labels": ["ok", "x"]}}),
        ok("b", {"review": {"labels": ["OK"]}}),
        ok("c", {"review": {"labels": ["bad"]}}),
    ]
    verdict = build("majority_vote", key="review.labels.0").combine(answers, pending=0)
    assert verdict is not None
    assert verdict.supporters == ("a", "b")


def test_answer_without_the_key_votes_for_nothing() -> None:
    """An ok answer lacking the field counts among the answers but supports nothing."""
    answers = [ok("a", {"label": "x"}), ok("b", "plain text"), ok("c", {"other": 1})]
    verdict = build("majority_vote", key="label").combine(answers, pending=0)
    assert verdict == Verdict(output={"label": "x"}, supporters=("a",), agreement=1 / 3)


def test_no_answer_with_the_key_is_a_conflict() -> None:
    """When no ok answer has the field there is nothing to vote on: a conflict saying so."""
    verdict = build("majority_vote", key="label").combine(
        [ok("a", "x"), ok("b", {"other": 1})], pending=0
    )
    assert verdict is not None
    assert verdict.conflict == "no answer has the field 'label' to vote on (answers from a, b)"


def test_majority_decides_early_when_certain() -> None:
    """Two agreeing answers of three expected are a majority whatever the third says."""
    verdict = MajorityVote().combine([ok("a", "yes"), ok("b", "yes")], pending=1)
    assert verdict == Verdict(output="yes", supporters=("a", "b"), agreement=1.0)


@pytest.mark.parametrize(
    ("answers", "pending"),
    [
        ([ok("a", "yes"), ok("b", "yes")], 2),  # 2 of 4 is not more than half
        ([ok("a", "yes"), ok("b", "yes")], 3),
        ([ok("a", "yes"), failed("b"), ok("c", "no")], 2),
        ([ok("a", "yes")], 1),
    ],
)
def test_majority_waits_while_not_certain(answers: list[Answer], pending: int) -> None:
    """Without more than half of all expected answers in one group, it waits."""
    assert MajorityVote().combine(answers, pending=pending) is None


def test_majority_ignores_failed_answers() -> None:
    """Failed calls neither vote nor support; the largest group of ok answers wins."""
    answers = [failed("a"), ok("b", "yes"), failed("c"), ok("d", "no"), ok("e", "yes")]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict == Verdict(output="yes", supporters=("b", "e"), agreement=2 / 3)


def test_majority_single_answer_among_failures_wins() -> None:
    """One ok answer left after failures is the largest group."""
    verdict = MajorityVote().combine([failed("a"), ok("b", "yes"), failed("c")], pending=0)
    assert verdict == Verdict(output="yes", supporters=("b",), agreement=1.0)


def test_majority_all_failed() -> None:
    """With every call failed the verdict has no supporters and no conflict."""
    assert MajorityVote().combine([failed("a"), failed("b")], pending=0) == Verdict()


def test_majority_confidence_is_the_supporters_mean() -> None:
    """The verdict's confidence is the mean of the supporters that reported one."""
    answers = [
        ok("a", "yes", confidence=0.6),
        ok("b", "yes"),
        ok("c", "yes", confidence=1.0),
        ok("d", "no", confidence=0.1),
    ]
    verdict = MajorityVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.confidence == pytest.approx(0.8)


# -- weighted_vote ------------------------------------------------------------------------


def test_weighted_heavy_agent_outvotes_two_light_ones() -> None:
    """Weight 3 against 1 + 1: the heavy agent's answer wins with 60% of the weight."""
    answers = [ok("light-1", "block"), ok("light-2", "block"), ok("heavy", "allow", weight=3)]
    assert MajorityVote().combine(answers, pending=0).output == "block"
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict == Verdict(output="allow", supporters=("heavy",), agreement=0.6)


def test_weighted_quality_and_confidence_scale_a_vote() -> None:
    """Each vote counts weight * quality * confidence, a missing score counting 1."""
    answers = [
        ok("a", "yes", quality=0.25),
        ok("b", "yes", confidence=0.25),
        ok("c", "no"),
    ]
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.output == "no"
    assert verdict.agreement == pytest.approx(1 / 1.5)


def test_weighted_exactly_half_is_not_enough() -> None:
    """A group with exactly half of the weight does not win: a conflict naming every group."""
    answers = [ok("a", "yes"), ok("b", "yes"), ok("c", "no"), ok("d", "maybe")]
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict == Verdict(
        conflict="no weighted majority: best group 'yes' has 50% of the weight, needs more "
        "than 50%: 'yes' 2 of 4 (a, b); 'no' 1 of 4 (c); 'maybe' 1 of 4 (d)"
    )


def test_weighted_tie() -> None:
    """Two groups of equal weight are a tie."""
    answers = [ok("a", "yes", weight=2), ok("b", "no"), ok("c", "no")]
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict == "tie between 'yes' (a) and 'no' (b, c): 2 vs 2 weight"


def test_weighted_tie_survives_float_rounding() -> None:
    """0.1 + 0.2 against 0.3 is a tie, not a win by rounding error."""
    answers = [ok("a", "x", weight=0.1), ok("b", "x", weight=0.2), ok("c", "y", weight=0.3)]
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict is not None
    assert verdict.conflict.startswith("tie between")


def test_weighted_threshold_option() -> None:
    """With threshold 0.7 a 60% share is not enough; the message shows both numbers."""
    answers = [ok("a", "x", weight=3), ok("b", "y"), ok("c", "y")]
    verdict = build("weighted_vote", threshold=0.7).combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict is not None
    assert "best group 'x' has 60% of the weight, needs more than 70%" in verdict.conflict


def test_weighted_low_threshold_takes_the_heaviest_group() -> None:
    """A threshold below one half lets a plurality win, if it is the strictly heaviest."""
    answers = [ok("a", "x"), ok("b", "x"), ok("c", "y"), ok("d", "z"), ok("e", "w")]
    verdict = build("weighted_vote", threshold=0.3).combine(answers, pending=0)
    assert verdict == Verdict(output="x", supporters=("a", "b"), agreement=0.4)


def test_weighted_vote_waits_for_every_answer() -> None:
    """Weights of pending answers are unknown, so it never decides early."""
    answers = [ok("a", "x", weight=10), ok("b", "x", weight=10)]
    assert WeightedVote().combine(answers, pending=1) is None


def test_weighted_vote_without_any_weight_is_a_conflict() -> None:
    """When every ok answer weighs 0 nothing can win: a conflict saying so."""
    answers = [ok("a", "x", weight=0), ok("b", "y", confidence=0.0), failed("c")]
    verdict = WeightedVote().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict == (
        "no weighted vote: every answer has weight * quality * confidence 0 (answers from a, b)"
    )


def test_weighted_vote_all_failed() -> None:
    """With every call failed the verdict has no supporters and no conflict."""
    assert WeightedVote().combine([failed("a")], pending=0) == Verdict()


# -- consensus ----------------------------------------------------------------------------


def test_consensus_reached() -> None:
    """Two of three agreeing reach the default 66%."""
    answers = [ok("a", "approve"), ok("b", "reject"), ok("c", "Approve")]
    verdict = Consensus().combine(answers, pending=0)
    assert verdict == Verdict(output="approve", supporters=("a", "c"), agreement=2 / 3)


def test_consensus_failure_names_the_groups() -> None:
    """Below the threshold the conflict names the best group, its share and the others."""
    answers = [ok("a", "x"), ok("b", "x"), ok("c", "y"), ok("d", "z")]
    verdict = Consensus().combine(answers, pending=0)
    assert verdict == Verdict(
        conflict="no consensus: best group 'x' has 50% < 66% (agents a, b); "
        "other groups: 'y' 25% (c); 'z' 25% (d)"
    )


def test_consensus_percentages_never_look_equal() -> None:
    """A share just below the threshold is shown with enough decimals to tell them apart."""
    answers = [ok(f"a{i}", "x") for i in range(131)] + [ok(f"b{i}", "y") for i in range(69)]
    verdict = Consensus().combine(answers, pending=0)  # 65.5% < 66%
    assert verdict is not None
    assert verdict.conflict is not None
    assert verdict.conflict.startswith("no consensus: best group 'x' has 65.5% < 66.0%")


def test_consensus_threshold_one_means_unanimity_of_ok_answers() -> None:
    """``threshold: 1`` needs every ok answer to agree; failed calls do not break it."""
    unanimous = build("consensus", threshold=1).combine(
        [ok("a", "x"), failed("b"), ok("c", "x")], pending=0
    )
    assert unanimous == Verdict(output="x", supporters=("a", "c"), agreement=1.0)
    split = build("consensus", threshold=1).combine([ok("a", "x"), ok("b", "y")], pending=0)
    assert split is not None
    assert split.conflict is not None


def test_consensus_tie_at_a_low_threshold() -> None:
    """With threshold 0.5, two halves are a tie, not a consensus for the first."""
    verdict = build("consensus", threshold=0.5).combine([ok("a", "x"), ok("b", "y")], pending=0)
    assert verdict is not None
    assert verdict.conflict == "no consensus: tie between 'x' (a) and 'y' (b): 50% vs 50% agreement"


def test_consensus_decides_early_counting_all_expected_answers() -> None:
    """Three of four expected agreeing (75%) is final; two of four is not."""
    aggregator = Consensus()
    assert aggregator.combine([ok("a", "x"), ok("b", "x"), ok("c", "x")], pending=1) == Verdict(
        output="x", supporters=("a", "b", "c"), agreement=1.0
    )
    assert aggregator.combine([ok("a", "x"), ok("b", "x")], pending=2) is None
    high = build("consensus", threshold=0.9)
    assert high.combine([ok("a", "x"), ok("b", "x"), ok("c", "x")], pending=1) is None


def test_consensus_weighted() -> None:
    """With ``weighted: true`` shares are of weight * quality * confidence."""
    answers = [ok("a", "x", weight=4), ok("b", "y"), ok("c", "y")]
    assert Consensus().combine(answers, pending=0).output == "y"
    verdict = build("consensus", weighted=True).combine(answers, pending=0)
    assert verdict == Verdict(output="x", supporters=("a",), agreement=4 / 6)


def test_weighted_consensus_waits_for_every_answer() -> None:
    """Weighted consensus cannot know pending weights, so it never decides early."""
    answers = [ok("a", "x"), ok("b", "x"), ok("c", "x")]
    assert build("consensus", weighted=True).combine(answers, pending=1) is None


def test_consensus_all_failed() -> None:
    """With every call failed the verdict has no supporters and no conflict."""
    assert Consensus().combine([failed("a"), failed("b")], pending=0) == Verdict()


# -- highest_confidence -------------------------------------------------------------------


def test_highest_confidence_wins() -> None:
    """The most confident answer wins; identical outputs support it."""
    answers = [
        ok("a", "Paris", confidence=0.7),
        ok("b", "Lyon", confidence=0.9),
        ok("c", "Paris"),
        ok("d", "Lyon", confidence=0.5),
    ]
    verdict = HighestConfidence().combine(answers, pending=0)
    assert verdict == Verdict(
        output="Lyon", supporters=("b", "d"), agreement=0.5, confidence=pytest.approx(0.7)
    )


def test_missing_confidence_ranks_lowest() -> None:
    """An answer without confidence loses even to confidence 0."""
    verdict = HighestConfidence().combine([ok("a", "x"), ok("b", "y", confidence=0.0)], pending=0)
    assert verdict is not None
    assert verdict.output == "y"


@pytest.mark.parametrize(
    ("answers", "winner"),
    [
        (
            [ok("a", "x", confidence=0.5, quality=0.5), ok("b", "y", confidence=0.5, quality=0.9)],
            "b",
        ),
        ([ok("a", "x", quality=0.5), ok("b", "y", quality=0.5, weight=2)], "b"),
        ([ok("a", "x", weight=2), ok("b", "y", weight=2)], "a"),
        ([ok("a", "x"), ok("b", "y", quality=0.0)], "a"),
    ],
    ids=["quality", "weight", "arrival", "no-quality-counts-as-1"],
)
def test_highest_confidence_tie_breaks(answers: list[Answer], winner: str) -> None:
    """Equal confidence goes to higher quality, then higher weight, then the earlier answer."""
    verdict = HighestConfidence().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.supporters == (winner,)


def test_highest_confidence_waits_for_every_answer() -> None:
    """A later answer may be more confident, so it decides only with nothing pending."""
    assert HighestConfidence().combine([ok("a", "x", confidence=1.0)], pending=1) is None
    assert HighestConfidence().combine([failed("a")], pending=0) == Verdict()


# -- merge --------------------------------------------------------------------------------

TITLES = [
    ok("a", {"title": "Trio", "meta": {"lang": "en"}}, confidence=0.8),
    ok("b", {"title": "Trio guide", "year": 2024, "meta": {"lang": "fr"}}, weight=2),
    ok("c", {"title": "Trio guide"}),
]


def test_merge_records_where_each_field_came_from() -> None:
    """Disjoint fields merge; ``fields`` credits every leaf path to its agent."""
    answers = [
        ok("a", {"title": "Trio", "meta": {"lang": "en"}}),
        ok("b", {"year": 2024, "meta": {"pages": 120}, "tags": ["async", "io"]}),
    ]
    verdict = Merge().combine(answers, pending=0)
    assert verdict == Verdict(
        output={
            "title": "Trio",
            "meta": {"lang": "en", "pages": 120},
            "year": 2024,
            "tags": ["async", "io"],
        },
        supporters=("a", "b"),
        agreement=1.0,
        fields={"title": "a", "meta.lang": "a", "meta.pages": "b", "year": "b", "tags": "b"},
    )


def test_merge_first_arrived_wins_conflicts_by_default() -> None:
    """With ``conflicts: first`` the first answer's value stays; overruled answers count less."""
    verdict = Merge().combine(TITLES, pending=0)
    assert verdict == Verdict(
        output={"title": "Trio", "meta": {"lang": "en"}, "year": 2024},
        supporters=("a", "b"),
        agreement=1 / 3,
        confidence=0.8,
        fields={"title": "a", "meta.lang": "a", "year": "b"},
    )


def test_merge_weight_policy_takes_the_heaviest_value() -> None:
    """With ``conflicts: weight`` the highest weight * quality wins each conflicting leaf."""
    verdict = build("merge", conflicts="weight").combine(TITLES, pending=0)
    assert verdict is not None
    assert verdict.output == {"title": "Trio guide", "meta": {"lang": "fr"}, "year": 2024}
    assert verdict.fields == {"title": "b", "meta.lang": "b", "year": "b"}
    assert verdict.supporters == ("b", "c")
    assert verdict.agreement == pytest.approx(2 / 3)


def test_merge_weight_policy_counts_quality() -> None:
    """A heavy answer with poor quality loses to a light one with none."""
    answers = [ok("a", {"x": 1}, weight=2, quality=0.25), ok("b", {"x": 2})]
    verdict = build("merge", conflicts="weight").combine(answers, pending=0)
    assert verdict is not None
    assert verdict.output == {"x": 2}


def test_merge_fail_policy_names_each_conflicting_field() -> None:
    """With ``conflicts: fail`` every conflicting leaf is named, with who said what."""
    verdict = build("merge", conflicts="fail").combine(TITLES, pending=0)
    assert verdict is not None
    assert verdict.supporters == ()
    assert verdict.conflict == (
        "conflicting values for 'title' ('Trio' from a; 'Trio guide' from b, c) "
        "and 'meta.lang' ('en' from a; 'fr' from b)"
    )


def test_merge_fail_policy_passes_agreeing_answers() -> None:
    """Equal values for a field are no conflict, even with ``conflicts: fail``."""
    answers = [ok("a", {"x": 1, "y": "a"}), ok("b", {"x": 1.0, "z": "b"})]
    verdict = build("merge", conflicts="fail").combine(answers, pending=0)
    assert verdict == Verdict(
        output={"x": 1, "y": "a", "z": "b"},
        supporters=("a", "b"),
        agreement=1.0,
        fields={"x": "a", "y": "a", "z": "b"},
    )


def test_merge_lists_are_leaves_by_default() -> None:
    """Different lists conflict as whole values."""
    answers = [ok("a", {"tags": ["x"]}), ok("b", {"tags": ["y"]})]
    verdict = Merge().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.output == {"tags": ["x"]}
    fail = build("merge", conflicts="fail").combine(answers, pending=0)
    assert fail is not None
    assert fail.conflict == "conflicting values for 'tags' (['x'] from a; ['y'] from b)"


def test_merge_concatenates_lists_without_duplicates() -> None:
    """With ``lists: concat`` lists join in arrival order, repeats dropped, each item credited."""
    answers = [ok("a", {"tags": ["x", "y"]}), ok("b", {"tags": ["y", "z", "x"]})]
    verdict = build("merge", lists="concat").combine(answers, pending=0)
    assert verdict == Verdict(
        output={"tags": ["x", "y", "z"]},
        supporters=("a", "b"),
        agreement=1.0,
        fields={"tags[0]": "a", "tags[1]": "a", "tags[2]": "b"},
    )


def test_merge_mapping_against_a_value_is_a_conflict() -> None:
    """A field that is a mapping in one answer and a value in another conflicts."""
    answers = [ok("a", {"meta": {"lang": "en"}}), ok("b", {"meta": "none"})]
    first = Merge().combine(answers, pending=0)
    assert first is not None
    assert first.output == {"meta": {"lang": "en"}}
    assert first.fields == {"meta.lang": "a"}
    assert first.supporters == ("a",)
    fail = build("merge", conflicts="fail").combine(answers, pending=0)
    assert fail is not None
    assert fail.conflict == "conflicting values for 'meta' ({'lang': 'en'} from a; 'none' from b)"


def test_merge_needs_mappings() -> None:
    """An ok answer that is not a mapping makes a conflict saying who returned what."""
    answers = [ok("a", {"x": 1}), ok("b", "plain"), failed("c"), ok("d", [1, 2]), ok("e", None)]
    verdict = Merge().combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict == (
        "merge needs every answer to be a mapping: b returned a string ('plain'); "
        "d returned a list ([1, 2]); e returned null (null)"
    )


def test_merge_of_empty_mappings() -> None:
    """Empty outputs merge into an empty output that they all support."""
    verdict = Merge().combine([ok("a", {}), ok("b", {})], pending=0)
    assert verdict == Verdict(output={}, supporters=("a", "b"), agreement=1.0)


def test_merge_waits_for_every_answer_and_ignores_failures() -> None:
    """Merge decides with nothing pending; failed answers contribute nothing."""
    answers = [ok("a", {"x": 1}), failed("b")]
    assert Merge().combine(answers, pending=1) is None
    verdict = Merge().combine(answers, pending=0)
    assert verdict == Verdict(output={"x": 1}, supporters=("a",), agreement=1.0, fields={"x": "a"})
    assert Merge().combine([failed("a")], pending=0) == Verdict()


def test_merge_output_does_not_alias_the_answers() -> None:
    """Changing the merged mapping leaves the answers' outputs as they were."""
    answers = [ok("a", {"meta": {"lang": "en"}}), ok("b", {"meta": {"pages": 3}})]
    before = copy.deepcopy(answers)
    verdict = Merge().combine(answers, pending=0)
    assert verdict is not None
    verdict.output["meta"]["lang"] = "changed"
    assert answers == before


# -- properties ---------------------------------------------------------------------------

OUTPUTS = st.sampled_from(
    ["yes", " Yes", "YES ", "no", "maybe", "a  b", 1, 1.0, True, None, ["x"], {"label": "yes"}]
)
MAPPINGS = st.dictionaries(
    st.sampled_from(["title", "year", "tags"]),
    st.one_of(
        st.sampled_from(["Trio", "trio", 2024, ["a"], ["b", "a"]]),
        st.dictionaries(
            st.sampled_from(["lang", "n"]), st.sampled_from(["en", "fr", 1]), max_size=2
        ),
    ),
    max_size=3,
)
SCORES = st.one_of(st.none(), st.sampled_from([0.0, 0.3, 0.5, 0.9, 1.0]))


@st.composite
def answer_lists(draw: st.DrawFn, outputs: st.SearchStrategy[Any] = OUTPUTS) -> list[Answer]:
    """0 to 7 answers from distinct agents, some failed, with varied weights and scores."""
    count = draw(st.integers(min_value=0, max_value=7))
    answers = []
    for i in range(count):
        if draw(st.booleans()) and draw(st.booleans()):
            answers.append(failed(f"agent-{i}", retryable=draw(st.booleans())))
            continue
        answers.append(
            ok(
                f"agent-{i}",
                draw(outputs),
                confidence=draw(SCORES),
                quality=draw(SCORES),
                weight=draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.0])),
            )
        )
    return answers


AGGREGATORS = {
    "first_success": FirstSuccess(),
    "hedged": Hedged(),
    "majority_vote": MajorityVote(),
    "majority_vote-exact": MajorityVote(normalize=()),
    "majority_vote-key": MajorityVote(key="label"),
    "weighted_vote": WeightedVote(),
    "weighted_vote-low": WeightedVote(threshold=0.2),
    "highest_confidence": HighestConfidence(),
    "merge": Merge(),
    "merge-weight-concat": Merge(conflicts="weight", lists="concat"),
    "merge-fail": Merge(conflicts="fail"),
    "consensus": Consensus(),
    "consensus-weighted": Consensus(weighted=True, threshold=0.5),
}
PROPERTY = settings(max_examples=60, deadline=None)


def check_verdict(verdict: Verdict, answers: list[Answer], *, merged: bool) -> None:
    ok_answers = [a for a in answers if a.ok]
    by_agent = {a.agent: a for a in ok_answers}
    assert set(verdict.supporters) <= set(by_agent)
    order = [a.agent for a in answers]
    assert list(verdict.supporters) == sorted(verdict.supporters, key=order.index)
    assert len(set(verdict.supporters)) == len(verdict.supporters)
    assert 0.0 <= verdict.agreement <= 1.0
    assert verdict.confidence is None or 0.0 <= verdict.confidence <= 1.0
    assert set(verdict.fields.values()) <= set(by_agent)
    if verdict.conflict is not None:
        assert verdict.supporters == ()
    elif not ok_answers:
        assert verdict == Verdict()
    elif not merged:
        assert verdict.supporters
        assert verdict.output == by_agent[verdict.supporters[0]].output
        assert any(verdict.output == a.output for a in ok_answers)


@pytest.mark.parametrize("name", AGGREGATORS)
@PROPERTY
@given(data=st.data())
def test_property_verdict_rules_hold(name: str, data: st.DataObject) -> None:
    """For any answers: a verdict at pending 0 that obeys the rules; early verdicts too."""
    aggregator = AGGREGATORS[name]
    merged = name.startswith("merge")
    answers = data.draw(answer_lists(MAPPINGS if merged else OUTPUTS))
    before = copy.deepcopy(answers)
    verdict = aggregator.combine(answers, pending=0)
    assert isinstance(verdict, Verdict)
    check_verdict(verdict, answers, merged=merged)
    assert aggregator.combine(answers, pending=0) == verdict
    for k in range(1, len(answers)):
        early = aggregator.combine(answers[:k], pending=len(answers) - k)
        if early is not None:
            check_verdict(early, answers[:k], merged=merged)
    assert answers == before


@pytest.mark.parametrize("name", AGGREGATORS)
@PROPERTY
@given(failures=st.integers(min_value=0, max_value=5))
def test_property_all_failed_has_no_supporters(name: str, failures: int) -> None:
    """When every call failed (or none was made) the verdict is empty: no output, no conflict."""
    answers = [failed(f"agent-{i}") for i in range(failures)]
    assert AGGREGATORS[name].combine(answers, pending=0) == Verdict()


VOTES = ["majority_vote", "majority_vote-exact", "weighted_vote", "consensus"]


@pytest.mark.parametrize("name", VOTES)
@PROPERTY
@given(data=st.data())
def test_property_arrival_order_cannot_make_a_majority(name: str, data: st.DataObject) -> None:
    """Reordering the answers changes neither whether a vote is won nor who wins it."""
    aggregator = AGGREGATORS[name]
    answers = data.draw(answer_lists())
    shuffled = data.draw(st.permutations(answers))
    one, two = aggregator.combine(answers, pending=0), aggregator.combine(shuffled, pending=0)
    assert one is not None
    assert two is not None
    assert (one.conflict is None) == (two.conflict is None)
    assert set(one.supporters) == set(two.supporters)
    assert one.agreement == pytest.approx(two.agreement)


@pytest.mark.parametrize("name", VOTES)
@PROPERTY
@given(count=st.integers(min_value=2, max_value=7), data=st.data())
def test_property_distinct_outputs_never_win_a_vote(
    name: str, count: int, data: st.DataObject
) -> None:
    """Equally weighted answers that all differ are a conflict, in whatever order they come."""
    outputs = data.draw(st.permutations([f"answer {i}" for i in range(count)]))
    answers = [ok(f"agent-{i}", output) for i, output in enumerate(outputs)]
    verdict = AGGREGATORS[name].combine(answers, pending=0)
    assert verdict is not None
    assert verdict.conflict is not None


@pytest.mark.parametrize("name", ["majority_vote", "majority_vote-key", "consensus"])
@PROPERTY
@given(data=st.data())
def test_property_early_verdicts_are_final(name: str, data: st.DataObject) -> None:
    """A verdict given while calls were pending is the one all the answers would have given."""
    aggregator = AGGREGATORS[name]
    answers = data.draw(answer_lists())
    final = aggregator.combine(answers, pending=0)
    assert final is not None
    for k in range(1, len(answers)):
        early = aggregator.combine(answers[:k], pending=len(answers) - k)
        if early is not None:
            assert final.conflict is None
            assert final.output == early.output
            assert set(early.supporters) <= set(final.supporters)
            break

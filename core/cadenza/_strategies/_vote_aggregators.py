"""The voting aggregators: ``majority_vote``, ``weighted_vote`` and ``consensus``."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Self, final

import attrs

from ._aggregation import Answer, Verdict
from ._aggregator_options import (
    NORMALIZERS,
    bool_option,
    check_keys,
    key_option,
    normalize_option,
    share_option,
)
from ._aggregator_values import (
    MISSING,
    FieldPath,
    about_equal,
    agent_names,
    canonical,
    field_at,
    listed,
    mean_confidence,
    normalized,
    percent,
    quote,
    vote_weight,
)


@attrs.frozen(kw_only=True)
class _Group:
    """Ok answers whose normalized outputs (or ``key`` fields) are equal, in arrival order."""

    label: str
    answers: tuple[Answer, ...]

    @property
    def size(self) -> int:
        return len(self.answers)

    @property
    def weight(self) -> float:
        return sum(vote_weight(a) for a in self.answers)

    def describe(self, amount: str = "") -> str:
        """``'yes' (a, b)``, or with ``amount``: ``'yes' 50% (a, b)``."""
        agents = ", ".join(agent_names(self.answers))
        return f"{self.label} {amount} ({agents})" if amount else f"{self.label} ({agents})"

    def verdict(self, agreement: float) -> Verdict:
        return Verdict(
            output=self.answers[0].output,
            supporters=agent_names(self.answers),
            agreement=min(1.0, max(0.0, agreement)),
            confidence=mean_confidence(self.answers),
        )


@attrs.frozen(kw_only=True)
class _Ballot:
    """How a voting strategy reads an output: which field, and how normalized."""

    normalize: tuple[str, ...]
    key: str | None

    def count(self, ok: Sequence[Answer]) -> list[_Group]:
        """The ok answers grouped by what they vote for, groups in order of first arrival.

        An answer whose output lacks ``key`` votes for nothing (it still counts
        among the ok answers).
        """
        path: FieldPath = tuple(self.key.split(".")) if self.key else ()
        groups: dict[Hashable, tuple[str, list[Answer]]] = {}
        for answer in ok:
            value = field_at(answer.output, path)
            if value is MISSING:
                continue
            value = normalized(value, self.normalize)
            groups.setdefault(canonical(value), (quote(value), []))[1].append(answer)
        return [_Group(label=label, answers=tuple(members)) for label, members in groups.values()]

    def nothing_to_vote_on(self, ok: Sequence[Answer]) -> Verdict:
        return Verdict(
            conflict=f"no answer has the field {self.key!r} to vote on "
            f"(answers from {', '.join(agent_names(ok))})"
        )


def _tie(groups: Sequence[_Group], amounts: Sequence[str], unit: str) -> str:
    parts = [group.describe() for group in groups]
    return f"tie between {listed(parts)}: {' vs '.join(amounts)} {unit}"


def _ballot_options(strategy: str, options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "normalize": normalize_option(strategy, options),
        "key": key_option(strategy, options),
    }


@final
@attrs.frozen(kw_only=True)
class MajorityVote:
    """The output more than half of the answers agree on.

    Decides as soon as one group holds more than half of all expected answers
    (those in and those pending). With every answer in, the largest group wins
    if it is larger than every other; equal largest groups are a tie (a
    conflict). ``agreement`` is the group's share of the ok answers.
    """

    normalize: tuple[str, ...] = NORMALIZERS
    key: str | None = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        check_keys("majority_vote", options, ("key", "normalize"))
        return cls(**_ballot_options("majority_vote", options))

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        ballot = _Ballot(normalize=self.normalize, key=self.key)
        ok = [a for a in answers if a.ok]
        groups = ballot.count(ok)
        if pending > 0:
            expected = len(answers) + pending
            for group in groups:
                if 2 * group.size > expected:
                    return group.verdict(group.size / len(ok))
            return None
        if not ok:
            return Verdict()
        if not groups:
            return ballot.nothing_to_vote_on(ok)
        most = max(group.size for group in groups)
        best = [group for group in groups if group.size == most]
        if len(best) > 1:
            votes = [str(group.size) for group in best]
            return Verdict(conflict=_tie(best, votes, "votes"))
        return best[0].verdict(most / len(ok))


@final
@attrs.frozen(kw_only=True)
class WeightedVote:
    """Like ``majority_vote``, each answer counting weight * quality * confidence.

    Decides once every answer is in: the heaviest group wins if its share of
    the ok answers' total weight is greater than ``threshold`` (0.5) and it
    is heavier than every other group; otherwise the verdict is a conflict.
    """

    normalize: tuple[str, ...] = NORMALIZERS
    key: str | None = None
    threshold: float = 0.5

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        name = "weighted_vote"
        check_keys(name, options, ("key", "normalize", "threshold"))
        threshold = share_option(
            name, options, "threshold", 0.5, low=0, high=1, low_open=False, high_open=True
        )
        return cls(threshold=threshold, **_ballot_options(name, options))

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        if pending > 0:
            return None
        ballot = _Ballot(normalize=self.normalize, key=self.key)
        ok = [a for a in answers if a.ok]
        if not ok:
            return Verdict()
        groups = ballot.count(ok)
        if not groups:
            return ballot.nothing_to_vote_on(ok)
        total = sum(vote_weight(a) for a in ok)
        if total <= 0:
            return Verdict(
                conflict="no weighted vote: every answer has weight * quality * confidence 0 "
                f"(answers from {', '.join(agent_names(ok))})"
            )
        heaviest = max(group.weight for group in groups)
        best = [group for group in groups if about_equal(group.weight, heaviest)]
        if len(best) > 1:
            amounts = [f"{group.weight:g}" for group in best]
            return Verdict(conflict=_tie(best, amounts, "weight"))
        share = heaviest / total
        if share > self.threshold and not about_equal(share, self.threshold):
            return best[0].verdict(share)
        ranked = sorted(groups, key=lambda group: -group.weight)
        shares = "; ".join(group.describe(f"{group.weight:g} of {total:g}") for group in ranked)
        return Verdict(
            conflict=f"no weighted majority: best group {ranked[0].label} has "
            f"{percent(share, self.threshold)} of the weight, needs more than "
            f"{percent(self.threshold, share)}: {shares}"
        )


@final
@attrs.frozen(kw_only=True)
class Consensus:
    """The output at least ``threshold`` (0.66) of the ok answers agree on.

    With ``weighted: true`` answers count weight * quality * confidence, and
    the strategy decides only once every answer is in; otherwise it decides
    early when one group already reaches the threshold of all expected
    answers (and more than half of them).
    """

    normalize: tuple[str, ...] = NORMALIZERS
    key: str | None = None
    threshold: float = 0.66
    weighted: bool = False

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        name = "consensus"
        check_keys(name, options, ("key", "normalize", "threshold", "weighted"))
        return cls(
            threshold=share_option(
                name, options, "threshold", 0.66, low=0, high=1, low_open=True, high_open=False
            ),
            weighted=bool_option(name, options, "weighted", False),
            **_ballot_options(name, options),
        )

    def _amount(self, group: _Group) -> float:
        return group.weight if self.weighted else float(group.size)

    def _reached(self, share: float) -> bool:
        return share >= self.threshold or about_equal(share, self.threshold)

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        ballot = _Ballot(normalize=self.normalize, key=self.key)
        ok = [a for a in answers if a.ok]
        groups = ballot.count(ok)
        if pending > 0:
            if self.weighted:
                return None
            expected = len(answers) + pending
            for group in groups:
                if self._reached(group.size / expected) and 2 * group.size > expected:
                    return group.verdict(group.size / len(ok))
            return None
        if not ok:
            return Verdict()
        if not groups:
            return ballot.nothing_to_vote_on(ok)
        total = sum(vote_weight(a) for a in ok) if self.weighted else float(len(ok))
        if total <= 0:
            return Verdict(
                conflict="no consensus: every answer has weight * quality * confidence 0 "
                f"(answers from {', '.join(agent_names(ok))})"
            )
        ranked = sorted(groups, key=lambda group: -self._amount(group))
        top = self._amount(ranked[0])
        best = [group for group in ranked if about_equal(self._amount(group), top)]
        share = top / total
        if len(best) == 1 and self._reached(share):
            return best[0].verdict(share)
        if len(best) > 1:
            return Verdict(
                conflict=f"no consensus: {_tie(best, [percent(share)] * len(best), 'agreement')}"
            )
        others = "; ".join(
            group.describe(percent(self._amount(group) / total)) for group in ranked[1:]
        )
        return Verdict(
            conflict=f"no consensus: best group {ranked[0].label} has "
            f"{percent(share, self.threshold)} < {percent(self.threshold, share)} "
            f"(agents {', '.join(agent_names(ranked[0].answers))})"
            + (f"; other groups: {others}" if others else "")
        )

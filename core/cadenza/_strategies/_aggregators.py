"""The built-in aggregation strategies, selected with ``aggregate: {strategy: NAME, ...}``.

Each is an attrs class whose ``from_options(options)`` parses the workflow's
mapping (without ``strategy``) and raises ``ValueError`` for unknown keys,
wrong types and out-of-range values; ``combine(answers, *, pending)`` follows
the contract of :mod:`cadenza._strategies._aggregation`: pure, never mutating the
answers, and always a :class:`~cadenza.Verdict` once nothing is pending.

- ``first_success``: the first usable answer, as soon as it arrives.
- ``hedged``: ``first_success`` that starts one call, and another only if no
  answer came within the ``percentile``-th percentile of recent latencies.
- ``majority_vote``: the (normalized) output more than half the agents gave.
- ``weighted_vote``: the same, counting weight * quality * confidence.
- ``highest_confidence``: the answer whose agent is most sure of it.
- ``merge``: a deep merge of mapping outputs, with per-field provenance.
- ``consensus``: the output a ``threshold`` share of the answers agree on.

Shared conventions: answers are in arrival order, and so are supporters;
ties between equal candidates go to the one that arrived first; a
Verdict's ``confidence`` is the mean confidence its supporters reported
(None when none did). Votes compare outputs after normalization (``normalize``
and ``key`` options), but the verdict's output is always the first-arrived
original output of the winning group.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, Final, Literal, Self, TypeAlias, cast, final

import attrs

from .._spec._duration import parse_duration
from ._aggregation import Aggregator, Answer, Verdict

NORMALIZERS: Final = ("whitespace", "strip", "casefold")
"""What ``normalize`` may list, in the order they are applied to each string."""

_SPACES = re.compile(r"\s+")
_MISSING: Final = object()
_LABEL_WIDTH = 40

_FieldPath: TypeAlias = tuple[str, ...]


# -- options -------------------------------------------------------------------------


def _check_keys(strategy: str, options: Mapping[str, Any], allowed: Sequence[str]) -> None:
    unknown = sorted(str(key) for key in options if key not in allowed)
    if not unknown:
        return
    if not allowed:
        raise ValueError(
            f"unknown option(s) {', '.join(unknown)}: the {strategy} aggregator takes no options"
        )
    guesses = difflib.get_close_matches(unknown[0], allowed, n=1)
    hint = f" Did you mean {guesses[0]!r}?" if guesses else ""
    raise ValueError(
        f"unknown option(s) {', '.join(unknown)} for the {strategy} aggregator.{hint} "
        f"It takes: {', '.join(sorted(allowed))}."
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _share_option(
    strategy: str,
    options: Mapping[str, Any],
    name: str,
    default: float,
    *,
    low: float,
    high: float,
    low_open: bool,
    high_open: bool,
) -> float:
    """A number option within ``low``..``high`` (each end open or closed)."""
    value = options.get(name, default)
    lower_ok = _is_number(value) and (value > low if low_open else value >= low)
    upper_ok = _is_number(value) and (value < high if high_open else value <= high)
    if not (lower_ok and upper_ok):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        raise ValueError(
            f"{strategy} aggregator: {name} must be a number in {interval}, got {value!r}"
        )
    return float(value)


def _int_option(
    strategy: str, options: Mapping[str, Any], name: str, default: int, *, minimum: int
) -> int:
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"{strategy} aggregator: {name} must be a whole number of at least {minimum}, "
            f"got {value!r}"
        )
    return value


def _bool_option(strategy: str, options: Mapping[str, Any], name: str, default: bool) -> bool:
    value = options.get(name, default)
    if not isinstance(value, bool):
        raise ValueError(f"{strategy} aggregator: {name} must be true or false, got {value!r}")
    return value


def _choice_option(
    strategy: str, options: Mapping[str, Any], name: str, choices: Sequence[str]
) -> str:
    value = options.get(name, choices[0])
    if value not in choices:
        raise ValueError(
            f"{strategy} aggregator: {name} must be one of {', '.join(choices)}, got {value!r}"
        )
    return str(value)


def _normalize_option(strategy: str, options: Mapping[str, Any]) -> tuple[str, ...]:
    value = options.get("normalize", list(NORMALIZERS))
    steps = [value] if isinstance(value, str) else value
    if not isinstance(steps, list | tuple) or any(step not in NORMALIZERS for step in steps):
        raise ValueError(
            f"{strategy} aggregator: normalize must be a list drawn from "
            f"{', '.join(NORMALIZERS)} ([] compares outputs exactly), got {value!r}"
        )
    return tuple(step for step in NORMALIZERS if step in steps)


def _key_option(strategy: str, options: Mapping[str, Any]) -> str | None:
    value = options.get("key")
    if value is None:
        return None
    if not isinstance(value, str) or not value or "" in value.split("."):
        raise ValueError(
            f"{strategy} aggregator: key must be a dotted field path like 'verdict' or "
            f"'review.label', got {value!r}"
        )
    return value


# -- values ----------------------------------------------------------------------------


def _canonical(value: Any) -> Hashable:
    """A hashable stand-in for a JSON-like value: equal exactly when the values are equal.

    Unlike ``==`` it tells ``True`` from ``1``, and a list from a mapping.
    """
    if value is None:
        return ("null",)
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isnan(value):
            return ("nan",)
        if isinstance(value, float) and value.is_integer():
            return ("number", int(value))
        return ("number", value)
    if isinstance(value, str):
        return ("str", value)
    if isinstance(value, Mapping):
        items = sorted(((repr(k), _canonical(v)) for k, v in value.items()), key=lambda i: i[0])
        return ("map", tuple(items))
    if isinstance(value, list | tuple):
        return ("list", tuple(_canonical(v) for v in value))
    return ("other", type(value).__qualname__, repr(value))


def _normalized(value: Any, steps: tuple[str, ...]) -> Any:
    """``value`` with ``steps`` applied to every string in it (mapping keys left alone)."""
    if isinstance(value, str):
        if "whitespace" in steps:
            value = _SPACES.sub(" ", value)
        if "strip" in steps:
            value = value.strip()
        if "casefold" in steps:
            value = value.casefold()
        return value
    if isinstance(value, Mapping):
        return {k: _normalized(v, steps) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(v, steps) for v in value]
    return value


def _field(value: Any, path: _FieldPath) -> Any:
    """The value at dotted ``path`` (mapping keys, or list indexes), or ``_MISSING``."""
    for part in path:
        if isinstance(value, Mapping) and part in value:
            value = value[part]
        elif isinstance(value, list | tuple) and part.isdecimal() and int(part) < len(value):
            value = value[int(part)]
        else:
            return _MISSING
    return value


def _label(value: Any) -> str:
    """A short quotation of ``value`` for messages."""
    text = "null" if value is None else repr(value)
    return text if len(text) <= _LABEL_WIDTH else text[: _LABEL_WIDTH - 3] + "..."


def _names(answers: Sequence[Answer]) -> tuple[str, ...]:
    """The answers' agents in arrival order, each once."""
    return tuple(dict.fromkeys(answer.agent for answer in answers))


def _listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _mean_confidence(answers: Sequence[Answer]) -> float | None:
    reported = [a.confidence for a in answers if a.confidence is not None]
    return sum(reported) / len(reported) if reported else None


def _ranked(value: float | None) -> float:
    """``value`` for ``max``: None and NaN rank lowest."""
    return -math.inf if value is None or math.isnan(value) else value


def _vote_weight(answer: Answer) -> float:
    """weight * quality * confidence, a missing score counting as 1, never below 0."""
    quality = 1.0 if answer.quality is None else answer.quality
    confidence = 1.0 if answer.confidence is None else answer.confidence
    weight = answer.weight * quality * confidence
    return weight if weight > 0 else 0.0


def _same(a: float, b: float) -> bool:
    """Equal sums of weights, up to the rounding of adding them in another order."""
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def _percent(share: float, other: float | None = None) -> str:
    """``share`` as a percentage, with enough decimals to tell it from ``other``."""
    for decimals in range(4):
        text = f"{share * 100:.{decimals}f}%"
        if other is None or _same(share, other) or text != f"{other * 100:.{decimals}f}%":
            return text
    return text


def _pick(answers: Sequence[Answer], chosen: Answer, *, ok: Sequence[Answer]) -> Verdict:
    """The verdict for ``chosen``'s output, supported by every answer with the very same output."""
    key = _canonical(chosen.output)
    agreeing = [a for a in answers if a.ok and _canonical(a.output) == key]
    return Verdict(
        output=chosen.output,
        supporters=_names(agreeing),
        agreement=len(agreeing) / len(ok),
        confidence=_mean_confidence(agreeing),
    )


# -- voting ---------------------------------------------------------------------------


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
        return sum(_vote_weight(a) for a in self.answers)

    def describe(self, amount: str = "") -> str:
        """``'yes' (a, b)``, or with ``amount``: ``'yes' 50% (a, b)``."""
        agents = ", ".join(_names(self.answers))
        return f"{self.label} {amount} ({agents})" if amount else f"{self.label} ({agents})"

    def verdict(self, agreement: float) -> Verdict:
        return Verdict(
            output=self.answers[0].output,
            supporters=_names(self.answers),
            agreement=min(1.0, max(0.0, agreement)),
            confidence=_mean_confidence(self.answers),
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
        path: _FieldPath = tuple(self.key.split(".")) if self.key else ()
        groups: dict[Hashable, tuple[str, list[Answer]]] = {}
        for answer in ok:
            value = _field(answer.output, path)
            if value is _MISSING:
                continue
            value = _normalized(value, self.normalize)
            groups.setdefault(_canonical(value), (_label(value), []))[1].append(answer)
        return [_Group(label=label, answers=tuple(members)) for label, members in groups.values()]

    def nothing_to_vote_on(self, ok: Sequence[Answer]) -> Verdict:
        return Verdict(
            conflict=f"no answer has the field {self.key!r} to vote on "
            f"(answers from {', '.join(_names(ok))})"
        )


def _tie(groups: Sequence[_Group], amounts: Sequence[str], unit: str) -> str:
    parts = [group.describe() for group in groups]
    return f"tie between {_listed(parts)}: {' vs '.join(amounts)} {unit}"


# -- first_success and hedged -------------------------------------------------------------


def _first_success(answers: Sequence[Answer], pending: int) -> Verdict | None:
    ok = [a for a in answers if a.ok]
    if ok:
        return _pick(answers, ok[0], ok=ok)
    return None if pending > 0 else Verdict()


@final
@attrs.frozen(kw_only=True)
class FirstSuccess:
    """The first ok answer wins, even while other calls are still running."""

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("first_success", options, ())
        return cls()

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        return _first_success(answers, pending)


@final
@attrs.frozen(kw_only=True)
class Hedged:
    """``first_success``, but calls start one by one, each after a percentile of latencies.

    The kernel starts one call and, while no verdict exists, another after
    :meth:`hedge_after` seconds, up to ``max_requests`` calls in all.
    """

    percentile: float = 95.0
    min_samples: int = 10
    delay: float = 1.0
    max_requests: int = 2

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        name = "hedged"
        _check_keys(name, options, ("delay", "max_requests", "min_samples", "percentile"))
        try:
            delay = float(parse_duration(options.get("delay", 1.0)))
        except ValueError as exc:
            raise ValueError(f"{name} aggregator: delay: {exc}") from None
        return cls(
            percentile=_share_option(
                name, options, "percentile", 95.0, low=0, high=100, low_open=True, high_open=False
            ),
            min_samples=_int_option(name, options, "min_samples", 10, minimum=1),
            delay=delay,
            max_requests=_int_option(name, options, "max_requests", 2, minimum=2),
        )

    def hedge_after(self, latencies: Sequence[float]) -> float | None:
        """The ``percentile``-th latency (nearest rank), or ``delay`` with too few samples."""
        if len(latencies) < self.min_samples or not latencies:
            return self.delay
        ordered = sorted(latencies)
        rank = math.ceil(round(self.percentile * len(ordered) / 100, 9))
        return float(ordered[min(max(rank, 1), len(ordered)) - 1])

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        return _first_success(answers, pending)


# -- votes --------------------------------------------------------------------------------


def _ballot_options(strategy: str, options: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "normalize": _normalize_option(strategy, options),
        "key": _key_option(strategy, options),
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
        _check_keys("majority_vote", options, ("key", "normalize"))
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
        _check_keys(name, options, ("key", "normalize", "threshold"))
        threshold = _share_option(
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
        total = sum(_vote_weight(a) for a in ok)
        if total <= 0:
            return Verdict(
                conflict="no weighted vote: every answer has weight * quality * confidence 0 "
                f"(answers from {', '.join(_names(ok))})"
            )
        heaviest = max(group.weight for group in groups)
        best = [group for group in groups if _same(group.weight, heaviest)]
        if len(best) > 1:
            amounts = [f"{group.weight:g}" for group in best]
            return Verdict(conflict=_tie(best, amounts, "weight"))
        share = heaviest / total
        if share > self.threshold and not _same(share, self.threshold):
            return best[0].verdict(share)
        ranked = sorted(groups, key=lambda group: -group.weight)
        shares = "; ".join(group.describe(f"{group.weight:g} of {total:g}") for group in ranked)
        return Verdict(
            conflict=f"no weighted majority: best group {ranked[0].label} has "
            f"{_percent(share, self.threshold)} of the weight, needs more than "
            f"{_percent(self.threshold, share)}: {shares}"
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
        _check_keys(name, options, ("key", "normalize", "threshold", "weighted"))
        return cls(
            threshold=_share_option(
                name, options, "threshold", 0.66, low=0, high=1, low_open=True, high_open=False
            ),
            weighted=_bool_option(name, options, "weighted", False),
            **_ballot_options(name, options),
        )

    def _amount(self, group: _Group) -> float:
        return group.weight if self.weighted else float(group.size)

    def _reached(self, share: float) -> bool:
        return share >= self.threshold or _same(share, self.threshold)

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
        total = sum(_vote_weight(a) for a in ok) if self.weighted else float(len(ok))
        if total <= 0:
            return Verdict(
                conflict="no consensus: every answer has weight * quality * confidence 0 "
                f"(answers from {', '.join(_names(ok))})"
            )
        ranked = sorted(groups, key=lambda group: -self._amount(group))
        top = self._amount(ranked[0])
        best = [group for group in ranked if _same(self._amount(group), top)]
        share = top / total
        if len(best) == 1 and self._reached(share):
            return best[0].verdict(share)
        if len(best) > 1:
            return Verdict(
                conflict=f"no consensus: {_tie(best, [_percent(share)] * len(best), 'agreement')}"
            )
        others = "; ".join(
            group.describe(_percent(self._amount(group) / total)) for group in ranked[1:]
        )
        return Verdict(
            conflict=f"no consensus: best group {ranked[0].label} has "
            f"{_percent(share, self.threshold)} < {_percent(self.threshold, share)} "
            f"(agents {', '.join(_names(ranked[0].answers))})"
            + (f"; other groups: {others}" if others else "")
        )


# -- highest_confidence -----------------------------------------------------------------


@final
@attrs.frozen(kw_only=True)
class HighestConfidence:
    """Once every answer is in, the ok answer reported with the highest confidence.

    No confidence ranks lowest; ties go to the higher quality (none counting
    as 1, as in the votes), then the higher weight, then the earlier answer.
    Answers with the very same output support it too.
    """

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("highest_confidence", options, ())
        return cls()

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        if pending > 0:
            return None
        ok = [a for a in answers if a.ok]
        if not ok:
            return Verdict()
        _, winner = max(
            enumerate(ok),
            key=lambda item: (
                _ranked(item[1].confidence),
                _ranked(1.0 if item[1].quality is None else item[1].quality),
                _ranked(item[1].weight),
                -item[0],
            ),
        )
        return _pick(answers, winner, ok=ok)


# -- merge ----------------------------------------------------------------------------


@attrs.define(eq=False)
class _Merging:
    """The bookkeeping of one merge: provenance, clashes, and each answer's fate."""

    policy: str
    concat: bool
    fields: dict[str, str] = attrs.field(factory=dict)
    clashes: list[str] = attrs.field(factory=list)
    leaves: dict[int, int] = attrs.field(factory=dict)
    kept: dict[int, int] = attrs.field(factory=dict)

    def count(
        self, entries: Sequence[tuple[int, Answer, Any]], *, kept: Hashable | Literal["all", "none"]
    ) -> None:
        """One leaf of each entry; it made it into the output if its value equals ``kept``."""
        for index, _, value in entries:
            self.leaves[index] = self.leaves.get(index, 0) + 1
            if kept == "all" or (kept != "none" and _canonical(value) == kept):
                self.kept[index] = self.kept.get(index, 0) + 1

    def credit(self, path: _FieldPath, value: Any, agent: str) -> None:
        """Record ``agent`` as the source of every leaf of ``value`` at ``path``."""
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                self.credit((*path, str(key)), item, agent)
        elif path:
            self.fields[".".join(path)] = agent

    def merge(self, entries: Sequence[tuple[int, Answer, Any]], path: _FieldPath) -> Any:
        """Merge the values the entries (arrival index, answer, value) give at ``path``."""
        if all(isinstance(value, Mapping) for _, _, value in entries):
            keys = list(dict.fromkeys(key for _, _, value in entries for key in value))
            if not keys:
                if path:
                    self.count(entries, kept="all")
                    self.fields[".".join(path)] = entries[0][1].agent
                return {}
            return {
                key: self.merge(
                    [(i, a, value[key]) for i, a, value in entries if key in value],
                    (*path, str(key)),
                )
                for key in keys
            }
        if self.concat and all(isinstance(value, list | tuple) for _, _, value in entries):
            return self.concatenate(entries, path)
        return self.leaf(entries, path)

    def concatenate(
        self, entries: Sequence[tuple[int, Answer, Any]], path: _FieldPath
    ) -> list[Any]:
        merged: list[Any] = []
        seen: set[Hashable] = set()
        where = ".".join(path)
        for _, answer, value in entries:
            for item in value:
                key = _canonical(item)
                if key not in seen:
                    seen.add(key)
                    self.fields[f"{where}[{len(merged)}]"] = answer.agent
                    merged.append(item)
        if not merged:
            self.fields[where] = entries[0][1].agent
        self.count(entries, kept="all")
        return merged

    def leaf(self, entries: Sequence[tuple[int, Answer, Any]], path: _FieldPath) -> Any:
        values: dict[Hashable, list[tuple[int, Answer, Any]]] = {}
        for entry in entries:
            values.setdefault(_canonical(entry[2]), []).append(entry)
        if len(values) == 1:
            self.count(entries, kept="all")
            self.credit(path, entries[0][2], entries[0][1].agent)
            return entries[0][2]
        where = ".".join(path)
        described = [
            f"{_label(group[0][2])} from {', '.join(_names([a for _, a, _ in group]))}"
            for group in values.values()
        ]
        self.clashes.append(f"{where!r} ({'; '.join(described)})")
        if self.policy == "weight":
            _, winner, value = max(
                entries,
                key=lambda e: (
                    _ranked(e[1].weight * (1.0 if e[1].quality is None else e[1].quality)),
                    -e[0],
                ),
            )
        else:
            _, winner, value = entries[0]
        if isinstance(value, Mapping):
            mappings = [entry for entry in entries if isinstance(entry[2], Mapping)]
            self.count([e for e in entries if not isinstance(e[2], Mapping)], kept="none")
            return self.merge(mappings, path)
        self.count(entries, kept=_canonical(value))
        self.credit(path, value, winner.agent)
        return value


def _type_name(value: Any) -> str:
    """What JSON calls the type of ``value``, with an article: ``a string``, ``null``."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list | tuple):
        return "a list"
    return f"a {type(value).__name__} object"


@final
@attrs.frozen(kw_only=True)
class Merge:
    """Once every answer is in, a deep merge of the mapping outputs.

    Mappings merge key by key; anything else (lists too, unless
    ``lists: concat``) is a leaf. Where answers give different values for a
    leaf, ``conflicts`` decides: ``first`` (the first-arrived answer),
    ``weight`` (the highest weight * quality, then the first) or ``fail`` (a
    conflict naming every such field). ``fields`` credits each leaf path to
    the agent its value came from (``tags[0]`` for items of concatenated
    lists). Supporters are the answers with at least one value in the
    output; ``agreement`` is the share of answers none of whose values was
    overruled.
    """

    conflicts: Literal["first", "weight", "fail"] = "first"
    lists: Literal["leaf", "concat"] = "leaf"

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> Self:
        _check_keys("merge", options, ("conflicts", "lists"))
        conflicts = _choice_option("merge", options, "conflicts", ("first", "weight", "fail"))
        lists = _choice_option("merge", options, "lists", ("leaf", "concat"))
        return cls(
            conflicts=cast(Literal["first", "weight", "fail"], conflicts),
            lists=cast(Literal["leaf", "concat"], lists),
        )

    def combine(self, answers: Sequence[Answer], *, pending: int) -> Verdict | None:
        if pending > 0:
            return None
        ok = [a for a in answers if a.ok]
        if not ok:
            return Verdict()
        wrong = [a for a in ok if not isinstance(a.output, Mapping)]
        if wrong:
            returned = [
                f"{a.agent} returned {_type_name(a.output)} ({_label(a.output)})" for a in wrong
            ]
            return Verdict(
                conflict=f"merge needs every answer to be a mapping: {'; '.join(returned)}"
            )
        merging = _Merging(policy=self.conflicts, concat=self.lists == "concat")
        output = merging.merge([(i, a, a.output) for i, a in enumerate(ok)], ())
        if merging.clashes and self.conflicts == "fail":
            return Verdict(conflict=f"conflicting values for {_listed(merging.clashes)}")
        supporters = [
            a for i, a in enumerate(ok) if merging.kept.get(i, 0) or not merging.leaves.get(i, 0)
        ]
        intact = [i for i in range(len(ok)) if merging.kept.get(i, 0) == merging.leaves.get(i, 0)]
        return Verdict(
            output=output,
            supporters=_names(supporters),
            agreement=len(intact) / len(ok),
            confidence=_mean_confidence(supporters),
            fields=merging.fields,
        )


BUILTIN_AGGREGATORS: dict[str, Callable[[Mapping[str, Any]], Aggregator]] = {
    "first_success": FirstSuccess.from_options,
    "hedged": Hedged.from_options,
    "majority_vote": MajorityVote.from_options,
    "weighted_vote": WeightedVote.from_options,
    "highest_confidence": HighestConfidence.from_options,
    "merge": Merge.from_options,
    "consensus": Consensus.from_options,
}
"""The kernel's aggregation strategies by name, as ``cadenza_aggregators`` registers them."""

DEFAULT_AGGREGATOR: Final = "majority_vote"
"""The strategy of a multi-agent step without ``aggregate:``."""

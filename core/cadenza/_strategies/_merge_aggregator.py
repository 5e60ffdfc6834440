"""The ``merge`` aggregator: a deep merge of mapping outputs, with per-field provenance."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Literal, Self, cast, final

import attrs

from ._aggregation import Answer, Verdict
from ._aggregator_options import check_keys, choice_option
from ._aggregator_values import (
    FieldPath,
    agent_names,
    canonical,
    listed,
    mean_confidence,
    quote,
    rank_value,
)


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
            if kept == "all" or (kept != "none" and canonical(value) == kept):
                self.kept[index] = self.kept.get(index, 0) + 1

    def credit(self, path: FieldPath, value: Any, agent: str) -> None:
        """Record ``agent`` as the source of every leaf of ``value`` at ``path``."""
        if isinstance(value, Mapping) and value:
            for key, item in value.items():
                self.credit((*path, str(key)), item, agent)
        elif path:
            self.fields[".".join(path)] = agent

    def merge(self, entries: Sequence[tuple[int, Answer, Any]], path: FieldPath) -> Any:
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

    def concatenate(self, entries: Sequence[tuple[int, Answer, Any]], path: FieldPath) -> list[Any]:
        merged: list[Any] = []
        seen: set[Hashable] = set()
        where = ".".join(path)
        for _, answer, value in entries:
            for item in value:
                key = canonical(item)
                if key not in seen:
                    seen.add(key)
                    self.fields[f"{where}[{len(merged)}]"] = answer.agent
                    merged.append(item)
        if not merged:
            self.fields[where] = entries[0][1].agent
        self.count(entries, kept="all")
        return merged

    def leaf(self, entries: Sequence[tuple[int, Answer, Any]], path: FieldPath) -> Any:
        values: dict[Hashable, list[tuple[int, Answer, Any]]] = {}
        for entry in entries:
            values.setdefault(canonical(entry[2]), []).append(entry)
        if len(values) == 1:
            self.count(entries, kept="all")
            self.credit(path, entries[0][2], entries[0][1].agent)
            return entries[0][2]
        where = ".".join(path)
        described = [
            f"{quote(group[0][2])} from {', '.join(agent_names([a for _, a, _ in group]))}"
            for group in values.values()
        ]
        self.clashes.append(f"{where!r} ({'; '.join(described)})")
        if self.policy == "weight":
            _, winner, value = max(
                entries,
                key=lambda e: (
                    rank_value(e[1].weight * (1.0 if e[1].quality is None else e[1].quality)),
                    -e[0],
                ),
            )
        else:
            _, winner, value = entries[0]
        if isinstance(value, Mapping):
            mappings = [entry for entry in entries if isinstance(entry[2], Mapping)]
            self.count([e for e in entries if not isinstance(e[2], Mapping)], kept="none")
            return self.merge(mappings, path)
        self.count(entries, kept=canonical(value))
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
        check_keys("merge", options, ("conflicts", "lists"))
        conflicts = choice_option("merge", options, "conflicts", ("first", "weight", "fail"))
        lists = choice_option("merge", options, "lists", ("leaf", "concat"))
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
                f"{a.agent} returned {_type_name(a.output)} ({quote(a.output)})" for a in wrong
            ]
            return Verdict(
                conflict=f"merge needs every answer to be a mapping: {'; '.join(returned)}"
            )
        merging = _Merging(policy=self.conflicts, concat=self.lists == "concat")
        output = merging.merge([(i, a, a.output) for i, a in enumerate(ok)], ())
        if merging.clashes and self.conflicts == "fail":
            return Verdict(conflict=f"conflicting values for {listed(merging.clashes)}")
        supporters = [
            a for i, a in enumerate(ok) if merging.kept.get(i, 0) or not merging.leaves.get(i, 0)
        ]
        intact = [i for i in range(len(ok)) if merging.kept.get(i, 0) == merging.leaves.get(i, 0)]
        return Verdict(
            output=output,
            supporters=agent_names(supporters),
            agreement=len(intact) / len(ok),
            confidence=mean_confidence(supporters),
            fields=merging.fields,
        )

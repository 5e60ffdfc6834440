"""Ask an LLM agent of the run for summaries of undocumented public API.

Each undocumented type or member gets one ``request.ask(agent, ...)`` call
with a focused prompt (its signature and source): at most ``max_enrich``
calls, types and callables first, made by ``concurrency`` worker tasks in one
nursery that take targets from a shared queue. That bounds concurrency as a
CapacityLimiter would, and also starts calls in priority order and lets
enrichment stop early by simply not taking more.

An answer is stored as :class:`Generated`, never in the author's
:class:`Doc`, so it is rendered marked and counted as *generated*. A failing
call leaves its element undocumented with a warning; after several failures
in a row with no success (an unknown or broken agent) no more calls are
made, so a misconfigured agent costs a few calls, not ``max_enrich``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio

import cadenza

from ._model import Generated, Member, Module, Type

Ask = Callable[[str, Mapping[str, Any]], Awaitable[cadenza.AgentResult]]
"""``ask(agent, inputs)``: ``request.ask`` with the task type bound."""

GIVE_UP_AFTER = 5
"""Failed calls in a row, before any success, after which enrichment stops."""

_TEXT_LIMIT = 400
_PRIORITY = {
    "type": 0,
    "constructor": 1,
    "method": 1,
    "function": 1,
    "property": 1,
    "event": 1,
    "indexer": 1,
    "operator": 2,
    "field": 2,
    "constant": 2,
    "attribute": 2,
    "variable": 2,
    "enum member": 3,
}
_LANGUAGE_NAMES = {"csharp": "C#", "python": "Python"}


@attrs.frozen(kw_only=True)
class _Target:
    """One element to summarise: where it is (module, type, member indexes) and what it is."""

    module: int
    type: int | None
    member: int | None
    label: str
    kind: str
    signature: str
    snippet: str
    language: str
    source: str


@attrs.define
class EnrichReport:
    """What enrichment did: the modules with generated summaries and what went wrong."""

    modules: list[Module]
    warnings: list[str] = attrs.field(factory=list)
    asked: int = 0
    generated: int = 0


def targets(modules: list[Module]) -> list[_Target]:
    """Undocumented elements worth a summary, most useful first (types, then callables...)."""
    found: list[_Target] = []
    for mi, module in enumerate(modules):
        for index, member in enumerate(module.members):
            if not member.documented:
                found.append(_member_target(mi, None, index, member, module, owner=""))
        for ti, item in enumerate(module.types):
            if not item.documented:
                found.append(
                    _Target(
                        module=mi,
                        type=ti,
                        member=None,
                        label=item.full_name,
                        kind=item.kind,
                        signature=item.signature,
                        snippet=item.snippet,
                        language=module.language,
                        source=module.source,
                    )
                )
            for index, member in enumerate(item.members):
                if not member.documented:
                    found.append(_member_target(mi, ti, index, member, module, owner=item.name))
    found.sort(key=lambda t: _PRIORITY.get(t.kind if t.member is not None else "type", 2))
    return found


def _member_target(
    mi: int, ti: int | None, index: int, member: Member, module: Module, *, owner: str
) -> _Target:
    return _Target(
        module=mi,
        type=ti,
        member=index,
        label=f"{owner}.{member.name}" if owner else member.name,
        kind=member.kind,
        signature=member.signature,
        snippet=member.snippet,
        language=module.language,
        source=module.source,
    )


def prompt(target: _Target) -> str:
    """The question for one element: what it is, its signature and its source."""
    language = _LANGUAGE_NAMES.get(target.language, target.language)
    return (
        f"Write a one-sentence summary for the API documentation of the {language} "
        f"{target.kind} `{target.label}` (from {target.source}). Say what it does or "
        "represents for someone using it; do not repeat the signature or invent behaviour "
        "the code does not show. Answer with the sentence only.\n\n"
        f"Signature:\n{target.signature}\n\n"
        f"Source:\n```{target.language}\n{target.snippet}\n```"
    )


def answer_text(output: Any) -> str:
    """The summary in an agent's output: a string, or a mapping's ``"text"``; ``""`` if none."""
    if isinstance(output, Mapping):
        output = output.get("text")
    if not isinstance(output, str):
        return ""
    text = " ".join(output.split()).strip().strip("\"'`").strip()
    if len(text) > _TEXT_LIMIT:
        text = text[: _TEXT_LIMIT - 1].rstrip() + "…"
    return text


async def enrich(
    modules: list[Module],
    *,
    ask: Ask,
    agent: str,
    limit: int,
    concurrency: int,
    progress: Callable[[str], None],
) -> EnrichReport:
    """Ask ``agent`` for summaries of up to ``limit`` undocumented elements of ``modules``."""
    report = EnrichReport(modules=list(modules))
    wanted = targets(report.modules)
    chosen = wanted[:limit]
    if len(wanted) > len(chosen):
        report.warnings.append(
            f"{len(wanted) - len(chosen)} undocumented elements were not sent to {agent!r} "
            f"(max_enrich is {limit})"
        )
    if not chosen:
        return report
    answers: dict[int, str] = {}
    problems: dict[int, str] = {}
    state = _Progress(total=len(chosen))
    # Workers take targets in priority order from one shared iterator: calls
    # start in a predictable order, and stopping early is just not taking more.
    queue = iter(enumerate(chosen))

    async def worker() -> None:
        for index, target in queue:
            if state.gave_up:
                return
            report.asked += 1
            try:
                result = await ask(
                    agent,
                    {"prompt": prompt(target), "language": target.language, "member": target.label},
                )
            except cadenza.AgentError as exc:
                problems[index] = f"no summary from {agent!r}: {exc}"
                state.failed_in_a_row += 1
                state.gave_up = state.failed_in_a_row >= GIVE_UP_AFTER and not answers
                continue
            text = answer_text(result.output)
            if not text:
                problems[index] = (
                    f"{agent!r} answered without text (expected a string or a mapping with 'text')"
                )
                continue
            state.failed_in_a_row = 0
            answers[index] = text
            progress(f"{len(answers)}/{state.total} summaries from {agent}")

    async with trio.open_nursery() as nursery:
        for _ in range(min(concurrency, len(chosen))):
            nursery.start_soon(worker)
    report.warnings += [
        f"{chosen[i].source}: {chosen[i].label}: {problems[i]}" for i in sorted(problems)
    ]
    if state.gave_up:
        report.warnings.append(
            f"stopped asking {agent!r} for summaries after {GIVE_UP_AFTER} failed calls in a "
            f"row; {len(chosen) - len(answers)} elements left undocumented"
        )
    report.modules = _apply(report.modules, chosen, answers, agent)
    report.generated = len(answers)
    return report


@attrs.define
class _Progress:
    total: int
    failed_in_a_row: int = 0
    gave_up: bool = False


def _apply(
    modules: list[Module], chosen: list[_Target], answers: dict[int, str], agent: str
) -> list[Module]:
    """Store each answer on its element as :class:`Generated`."""
    result = list(modules)
    for index, text in answers.items():
        target = chosen[index]
        module = result[target.module]
        generated = Generated(text=text, agent=agent)
        if target.type is None:
            assert target.member is not None
            members = list(module.members)
            members[target.member] = attrs.evolve(members[target.member], generated=generated)
            result[target.module] = attrs.evolve(module, members=tuple(members))
            continue
        types = list(module.types)
        item: Type = types[target.type]
        if target.member is None:
            item = attrs.evolve(item, generated=generated)
        else:
            members = list(item.members)
            members[target.member] = attrs.evolve(members[target.member], generated=generated)
            item = attrs.evolve(item, members=tuple(members))
        types[target.type] = item
        result[target.module] = attrs.evolve(module, types=tuple(types))
    return result

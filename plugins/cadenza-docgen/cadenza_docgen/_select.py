"""Which parsed elements are public API, and how many of them are documented.

C#: ``public``, ``protected`` and ``internal`` types and members (a game is
usually one assembly, where ``internal`` is as visible as ``public``), plus
Unity Inspector fields of any access. Python: names without a leading
underscore, special methods excluded, and at module level only names in
``__all__`` when the module defines it. ``include_private`` shows everything.

Coverage counts each shown type and member once: *documented* when its
author described it (doc comment, docstring, Unity tooltip), *generated*
when only an LLM summary describes it, *undocumented* otherwise. The three
add up to the total, and coverage is documented / total.
"""

from __future__ import annotations

from collections.abc import Iterator

import attrs

from ._model import Member, Module, Type

_SHOWN = {"public", "protected", "internal", "protected internal"}


def is_shown(visibility: str) -> bool:
    return visibility in _SHOWN


def select(module: Module, *, include_private: bool) -> Module:
    """``module`` with only what its documentation should show."""
    if include_private:
        return module
    shown_types: list[Type] = []
    names: set[str] = set()
    for item in module.types:
        outer = item.name.rsplit(".", 1)[0] if "." in item.name else None
        if not is_shown(item.visibility) or (outer is not None and outer not in names):
            continue
        names.add(item.name)
        shown_types.append(attrs.evolve(item, members=_members(item.members)))
    return attrs.evolve(module, types=tuple(shown_types), members=_members(module.members))


def _members(members: tuple[Member, ...]) -> tuple[Member, ...]:
    return tuple(m for m in members if m.inspector or is_shown(m.visibility))


def elements(module: Module) -> Iterator[Type | Member]:
    """Every counted element: module members, then each type and its members."""
    yield from module.members
    for item in module.types:
        yield item
        yield from item.members


@attrs.frozen(kw_only=True)
class Counts:
    """Documentation counts of one module (or a sum of modules)."""

    types: int = 0
    members: int = 0
    documented: int = 0
    generated: int = 0
    undocumented: int = 0

    @property
    def total(self) -> int:
        return self.types + self.members

    @property
    def coverage(self) -> float | None:
        """documented / total, or None when there is nothing to document."""
        return self.documented / self.total if self.total else None

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            types=self.types + other.types,
            members=self.members + other.members,
            documented=self.documented + other.documented,
            generated=self.generated + other.generated,
            undocumented=self.undocumented + other.undocumented,
        )


def count(module: Module) -> Counts:
    """Count a module that :func:`select` already filtered."""
    documented = generated = 0
    for element in elements(module):
        if element.documented:
            documented += 1
        elif element.generated is not None:
            generated += 1
    types = len(module.types)
    members = sum(len(t.members) for t in module.types) + len(module.members)
    return Counts(
        types=types,
        members=members,
        documented=documented,
        generated=generated,
        undocumented=types + members - documented - generated,
    )

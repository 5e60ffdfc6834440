"""Resolve C# ``<inheritdoc/>`` from base types and interfaces found in the parsed files.

The compiler copies the documentation of the member a declaration overrides
or implements; we do the same for bases we have parsed, looking members up by
name, kind and parameter count, and say where the text came from. Targets
outside the files (``MonoBehaviour``, the BCL) stay marked as inherited.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._model import Doc, Member, Module, Type
from ._names import simple_name


def resolve_inheritdoc(modules: Iterable[Module]) -> list[Module]:
    """Copy base documentation into members and types marked ``<inheritdoc/>``."""
    modules = list(modules)
    declared = {simple_name(t.name): t for m in modules if m.language == "csharp" for t in m.types}
    return [
        attrs.evolve(m, types=tuple(_resolve_type(t, declared) for t in m.types))
        if m.language == "csharp"
        else m
        for m in modules
    ]


def _resolve_type(item: Type, declared: dict[str, Type]) -> Type:
    doc = item.doc
    if doc.inherited:
        base = next((declared[b] for b in map(simple_name, item.bases) if b in declared), None)
        if base is not None and not base.doc.empty:
            doc = _copied(base.doc, base.name)
    members = tuple(
        _resolve_member(m, item, declared) if m.doc.inherited else m for m in item.members
    )
    return attrs.evolve(item, doc=doc, members=members)


def _resolve_member(member: Member, owner: Type, declared: dict[str, Type]) -> Member:
    for base in _ancestors(owner, declared):
        for candidate in base.members:
            if (
                candidate.name == member.name
                and candidate.kind == member.kind
                and len(candidate.parameters) == len(member.parameters)
                and not candidate.doc.empty
                and not candidate.doc.inherited
            ):
                return attrs.evolve(
                    member, doc=_copied(candidate.doc, f"{base.name}.{member.name}")
                )
    return member


def _ancestors(owner: Type, declared: dict[str, Type]) -> list[Type]:
    """Bases and interfaces of ``owner`` among parsed types, nearest first."""
    found: list[Type] = []
    queue = [simple_name(b) for b in owner.bases]
    while queue:
        name = queue.pop(0)
        base = declared.get(name)
        if base is None or base in found:
            continue
        found.append(base)
        queue += [simple_name(b) for b in base.bases]
    return found


def _copied(doc: Doc, source: str) -> Doc:
    note = f"*Documentation inherited from `{source}`.*"
    return attrs.evolve(doc, details=f"{doc.details}\n\n{note}".strip(), inherited=False)

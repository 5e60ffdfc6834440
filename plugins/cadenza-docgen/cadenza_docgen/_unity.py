"""What Unity makes of C# types: components, assets and the fields its Inspector shows.

A class is a Unity component when it derives from ``MonoBehaviour``, directly
or through other classes of the documented files (``Weapon : PickupBase :
MonoBehaviour``), which is why this runs over all parsed modules at once.
Inspector fields are those Unity serializes: ``[SerializeField]`` fields
and auto-properties (``[field: SerializeField]``) whatever their access, and
public instance fields of components, ScriptableObjects and
``[Serializable]`` types, unless marked ``[NonSerialized]`` or
``[HideInInspector]``.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from ._model import SCRIPTABLE_OBJECT, UNITY_COMPONENT, Member, Module, Type, attribute_name
from ._names import simple_name

_ROOTS = {
    "MonoBehaviour": UNITY_COMPONENT,
    "NetworkBehaviour": UNITY_COMPONENT,
    "UIBehaviour": UNITY_COMPONENT,
    "ScriptableObject": SCRIPTABLE_OBJECT,
}

UNITY_MESSAGES = frozenset(
    {
        "Awake", "Start", "Update", "FixedUpdate", "LateUpdate", "OnEnable", "OnDisable",
        "OnDestroy", "OnValidate", "Reset", "OnGUI", "OnDrawGizmos", "OnDrawGizmosSelected",
        "OnApplicationFocus", "OnApplicationPause", "OnApplicationQuit", "OnBecameVisible",
        "OnBecameInvisible", "OnCollisionEnter", "OnCollisionStay", "OnCollisionExit",
        "OnCollisionEnter2D", "OnCollisionStay2D", "OnCollisionExit2D", "OnTriggerEnter",
        "OnTriggerStay", "OnTriggerExit", "OnTriggerEnter2D", "OnTriggerStay2D",
        "OnTriggerExit2D", "OnControllerColliderHit", "OnMouseDown", "OnMouseUp",
        "OnMouseEnter", "OnMouseExit", "OnMouseOver", "OnMouseDrag", "OnAnimatorMove",
        "OnAnimatorIK", "OnParticleCollision", "OnRenderObject", "OnWillRenderObject",
        "OnPreRender", "OnPostRender", "OnRenderImage", "OnTransformParentChanged",
        "OnTransformChildrenChanged", "OnRectTransformDimensionsChange",
    }
)  # fmt: skip
"""Methods Unity calls by name on components and ScriptableObjects."""

_SERIALIZED = {"SerializeField", "SerializeReference"}
_HIDDEN = {"NonSerialized", "HideInInspector"}


def apply_unity(modules: Iterable[Module]) -> list[Module]:
    """Badge Unity types, flag Inspector fields and list Unity messages, across modules."""
    modules = list(modules)
    declared = {simple_name(t.name): t for m in modules if m.language == "csharp" for t in m.types}
    return [
        attrs.evolve(m, types=tuple(_unity_type(t, declared) for t in m.types))
        if m.language == "csharp"
        else m
        for m in modules
    ]


def unity_root(bases: Iterable[str], declared: dict[str, Type], seen: set[str]) -> str | None:
    """The badge of the first Unity root class found walking up ``bases``, or None."""
    for base in bases:
        name = simple_name(base)
        if name in _ROOTS:
            return _ROOTS[name]
        parent = declared.get(name)
        if parent is not None and name not in seen:
            seen.add(name)
            found = unity_root(parent.bases, declared, seen)
            if found is not None:
                return found
    return None


def _unity_type(item: Type, declared: dict[str, Type]) -> Type:
    badge = unity_root(item.bases, declared, set()) if item.kind == "class" else None
    serializable = badge is not None or any(
        attribute_name(a) == "Serializable" for a in item.attributes
    )
    members = tuple(_inspector(m, implicit=serializable) for m in item.members)
    if badge is None:
        return attrs.evolve(item, members=members)
    messages = tuple(
        dict.fromkeys(
            m.name for m in item.members if m.kind == "method" and m.name in UNITY_MESSAGES
        )
    )
    return attrs.evolve(item, members=members, badges=(*item.badges, badge), messages=messages)


def _inspector(member: Member, *, implicit: bool) -> Member:
    names = {attribute_name(a) for a in member.attributes}
    if member.kind == "property":
        targeted = {attribute_name(a) for a in member.attributes if a.startswith("field:")}
        shown = bool(targeted & _SERIALIZED) and not targeted & _HIDDEN
    elif member.kind == "field":
        static = {"static", "const", "readonly"} & set(member.modifiers)
        explicit = bool(names & _SERIALIZED)
        public = implicit and member.visibility == "public"
        shown = not static and (explicit or public) and not names & _HIDDEN
    else:
        shown = False
    return attrs.evolve(member, inspector=True) if shown else member

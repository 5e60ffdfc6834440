"""Unity facts across files: components, assets, Inspector fields, messages."""

from __future__ import annotations

from pathlib import Path

from cadenza_docgen._csharp import parse_csharp
from cadenza_docgen._model import Module, Type
from cadenza_docgen._unity import apply_unity

UNITY = Path(__file__).parent / "data" / "unity"


def parsed() -> list[Module]:
    files = ["Player/PlayerController.cs", "Items/WeaponData.cs", "Items/Inventory.cs"]
    return apply_unity(parse_csharp((UNITY / f).read_bytes(), f) for f in files)


def types() -> dict[str, Type]:
    return {t.name: t for m in parsed() for t in m.types}


def inspector(item: Type) -> list[str]:
    return [m.name for m in item.members if m.inspector]


def test_components_and_assets_are_badged() -> None:
    """MonoBehaviour subclasses, also through parsed base classes; ScriptableObjects."""
    found = types()
    assert found["PlayerController"].badges == ("Unity component",)
    assert found["PickupBase"].badges == ("Unity component",)
    assert found["Weapon"].badges == ("Unity component",)  # Weapon : PickupBase : MonoBehaviour
    assert found["WeaponData"].badges == ("ScriptableObject",)
    assert found["Inventory<T>"].badges == ()


def test_inspector_fields_of_a_component() -> None:
    """[SerializeField] privates and public instance fields; not consts, statics or privates."""
    assert inspector(types()["PlayerController"]) == [
        "moveSpeed",
        "maxJumps",
        "sprintMultiplier",
        "maxHealth",
        "hurtSounds",
        "DisplayName",
    ]


def test_inspector_fields_of_a_scriptable_object() -> None:
    """[field: SerializeField] properties count; [HideInInspector] and [NonSerialized] do not."""
    assert inspector(types()["WeaponData"]) == [
        "displayName",
        "damage",
        "cooldown",
        "hands",
        "SwingSound",
        "loreText",
    ]


def test_serializable_struct_fields() -> None:
    """Public fields of a [Serializable] type are shown in the Inspectors that embed it."""
    assert inspector(types()["ItemStack<T>"]) == ["Item", "Count"]


def test_unity_messages_are_listed() -> None:
    """Awake/Start/Update... are listed whatever their access."""
    assert types()["PlayerController"].messages == (
        "Awake",
        "Start",
        "Update",
        "OnDrawGizmosSelected",
    )
    assert types()["WeaponData"].messages == ("OnValidate",)

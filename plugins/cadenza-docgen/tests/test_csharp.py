"""C# (tree-sitter) to the model, on realistic Unity scripts."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cadenza_docgen._csharp import parse_csharp
from cadenza_docgen._model import Member, Module, Type

UNITY = Path(__file__).parent / "data" / "unity"


def parse(relative: str) -> Module:
    return parse_csharp((UNITY / relative).read_bytes(), relative)


def find_type(module: Module, name: str) -> Type:
    return next(t for t in module.types if t.name == name)


def find(item: Type, name: str) -> Member:
    return next(m for m in item.members if m.name == name)


@pytest.fixture(scope="module")
def player() -> Module:
    return parse("Player/PlayerController.cs")


@pytest.fixture(scope="module")
def items() -> Module:
    return parse("Items/Inventory.cs")


def test_types_in_a_block_namespace(player: Module) -> None:
    """Delegates, classes, nested enums and interfaces, in order, with their namespace."""
    assert [(t.kind, t.name) for t in player.types] == [
        ("delegate", "HealthChanged"),
        ("class", "PlayerController"),
        ("enum", "PlayerController.MoveState"),
        ("interface", "IDamageable"),
    ]
    assert {t.namespace for t in player.types} == {"Cadenza.Samples.Player"}
    assert player.problems == ()


def test_class_declaration(player: Module) -> None:
    """Signature without attributes or body; attributes, bases and XML docs kept apart."""
    controller = find_type(player, "PlayerController")
    assert controller.signature == "public class PlayerController : MonoBehaviour, IDamageable"
    assert controller.attributes == (
        "RequireComponent(typeof(CharacterController))",
        "DisallowMultipleComponent",
    )
    assert controller.bases == ("MonoBehaviour", "IDamageable")
    assert controller.visibility == "public"
    assert controller.line == 19
    assert controller.doc.summary == (
        "Moves the player with a `CharacterController` and tracks its health."
    )
    assert controller.doc.details == (
        "Reads input in `Update` and applies it in `FixedUpdate`; "
        "see `Jump(float)` for the jump rules."
    )


def test_serialized_fields_and_their_attributes(player: Module) -> None:
    """Stacked and comma-separated attribute lists; initializers; private by default."""
    controller = find_type(player, "PlayerController")
    speed = find(controller, "moveSpeed")
    assert speed.kind == "field"
    assert speed.visibility == "private"
    assert speed.type == "float"
    assert speed.value == "5f"
    assert speed.attributes == (
        'Header("Movement")',
        'Tooltip("Walking speed in metres per second.")',
        "SerializeField",
        "Range(0f, 10f)",
    )
    assert speed.tooltip == "Walking speed in metres per second."
    assert speed.doc.empty
    assert find(controller, "sprintMultiplier").doc.summary == (
        "Multiplier applied while the sprint button is held."
    )
    assert find(controller, "hurtSounds").type == "AudioClip[]"


def test_regular_comments_are_not_documentation(player: Module) -> None:
    """A ``//`` comment above a field does not become its doc."""
    assert find(find_type(player, "PlayerController"), "controller").doc.empty


def test_constants_events_and_properties(player: Module) -> None:
    """Const values in the signature; events; accessors without bodies; arrow properties."""
    controller = find_type(player, "PlayerController")
    gravity = find(controller, "Gravity")
    assert (gravity.kind, gravity.signature) == ("constant", "public const float Gravity = -9.81f")
    died = find(controller, "Died")
    assert (died.kind, died.type, died.signature) == ("event", "Action", "public event Action Died")
    assert find(controller, "Health").signature == "public int Health { get; private set; }"
    assert find(controller, "MaxHealth").signature == "public int MaxHealth { get; }"
    assert find(controller, "IsGrounded").signature == "public bool IsGrounded { get; }"
    speed = find(controller, "Speed")
    assert (speed.signature, speed.value) == ("public float Speed { get; set; }", "5f")


def test_methods_signatures_parameters_and_docs(player: Module) -> None:
    """Defaults, ``params`` arrays, statics; <param> and <returns> parsed."""
    controller = find_type(player, "PlayerController")
    jump = find(controller, "Jump")
    assert jump.signature == "public bool Jump(float height, bool force = false)"
    assert [(p.type, p.name, p.default) for p in jump.parameters] == [
        ("float", "height", None),
        ("bool", "force", "false"),
    ]
    assert jump.doc.summary == "Makes the player jump if a jump is left."
    assert jump.doc.params == (
        ("height", "Jump height in metres."),
        ("force", "Ignore the jump count when `true`."),
    )
    assert jump.doc.returns == "`true` if the player jumped; otherwise `false`."
    respawn = find(controller, "Respawn")
    assert respawn.parameters[-1].modifier == "params"
    assert respawn.parameters[-1].type == "Transform[]"
    assert (
        respawn.signature
        == "public IEnumerator Respawn(float delay, params Transform[] spawnPoints)"
    )
    closest = find(controller, "FindClosest")
    assert closest.modifiers == ("public", "static")
    assert closest.parameters[1].default == "float.PositiveInfinity"
    assert find(controller, "Update").visibility == "private"


def test_members_inside_preprocessor_blocks(player: Module) -> None:
    """Declarations under ``#if UNITY_EDITOR`` and ``#region`` are documented."""
    controller = find_type(player, "PlayerController")
    kill = find(controller, "DebugKill")
    assert kill.attributes == ('ContextMenu("Kill")',)
    assert find(controller, "OnDrawGizmosSelected").doc.summary == (
        "Draws the ground check in the scene view."
    )


def test_enum_members_and_their_docs(player: Module) -> None:
    """Values as written; a doc comment between members belongs to the next one."""
    state = find_type(player, "PlayerController.MoveState")
    assert [(m.name, m.value, m.doc.summary) for m in state.members] == [
        ("Idle", None, "Not moving."),
        ("Walking", None, ""),
        ("Running", "4", "Moving at sprint speed."),
        ("Airborne", None, ""),
    ]
    assert state.visibility == "public"


def test_interface_members_are_public(player: Module) -> None:
    """Interface members without modifiers are public."""
    damageable = find_type(player, "IDamageable")
    assert [(m.kind, m.name, m.visibility) for m in damageable.members] == [
        ("method", "TakeDamage", "public"),
        ("property", "Health", "public"),
    ]
    assert find(find_type(player, "PlayerController"), "TakeDamage").doc.inherited


def test_delegate(player: Module) -> None:
    """A delegate is a type with parameters and <param> docs."""
    delegate = find_type(player, "HealthChanged")
    assert delegate.signature == "public delegate void HealthChanged(int current, int max)"
    assert [p.name for p in delegate.parameters] == ["current", "max"]
    assert delegate.doc.param("max") == "The maximum health."


def test_file_scoped_namespace_generics_records_and_partials(items: Module) -> None:
    """``namespace X;`` applies to what follows; partial parts merge; records get properties."""
    assert [(t.kind, t.name) for t in items.types] == [
        ("interface", "IItem"),
        ("struct", "ItemStack<T>"),
        ("class", "Inventory<T>"),
        ("record", "InventoryChangedEventArgs"),
        ("class", "ItemExtensions"),
    ]
    assert {t.namespace for t in items.types} == {"Cadenza.Samples.Items"}
    inventory = find_type(items, "Inventory<T>")
    assert inventory.signature == (
        "public partial class Inventory<T> : IEnumerable<ItemStack<T>> where T : class, IItem"
    )
    assert inventory.doc.type_params == (("T", "The kind of item stored."),)
    assert "Sort" in [m.name for m in inventory.members]  # from the second partial part
    record = find_type(items, "InventoryChangedEventArgs")
    assert record.signature == "public record InventoryChangedEventArgs(int Slot, int Delta)"
    assert [(m.kind, m.name, m.doc.summary) for m in record.members] == [
        ("property", "Slot", "The slot that changed."),
        ("property", "Delta", "Items added (positive) or removed (negative)."),
    ]


def test_constructors_indexers_operators_and_generic_methods(items: Module) -> None:
    """Each member kind has its name, signature and parameter modifiers."""
    inventory = find_type(items, "Inventory<T>")
    constructor = find(inventory, "Inventory")
    assert constructor.kind == "constructor"
    assert constructor.signature == "public Inventory(int capacity = 16)"
    assert constructor.doc.raises == (("ArgumentOutOfRangeException", "`capacity` is negative."),)
    indexer = find(inventory, "this[]")
    assert (indexer.kind, indexer.signature) == (
        "indexer",
        "public ItemStack<T> this[int index] { get; }",
    )
    assert find(inventory, "operator +").kind == "operator"
    find_method = find(inventory, "Find")
    assert find_method.signature == (
        "public TItem? Find<TItem>(Predicate<TItem> match = null) where TItem : T"
    )
    assert find_method.doc.type_params == (("TItem", "The item subtype to look for."),)
    try_add = find(inventory, "TryAdd")
    assert [(p.modifier, p.name) for p in try_add.parameters] == [("", "item"), ("out", "leftOver")]
    assert try_add.doc.returns == "`true` when every item fit."
    explicit = find(inventory, "System.Collections.IEnumerable.GetEnumerator")
    assert explicit.visibility == "private"
    extensions = find_type(items, "ItemExtensions")
    assert find(extensions, "TotalCount").parameters[0].modifier == "this"
    assert find(extensions, "Swap").visibility == "internal"


def test_struct_fields_and_example(items: Module) -> None:
    """Public struct fields; <example><code> is kept as a C# block."""
    stack = find_type(items, "ItemStack<T>")
    assert stack.attributes == ("Serializable",)
    assert [m.name for m in stack.members if m.kind == "field"] == ["Item", "Count"]
    inventory = find_type(items, "Inventory<T>")
    assert inventory.doc.example.startswith(
        "```csharp\nvar bag = new Inventory<Potion>(capacity: 8);"
    )


def test_scriptable_object_attributes_and_flags_enum() -> None:
    """Named attribute arguments, ``[field: ...]`` targets, enum values with expressions."""
    module = parse("Items/WeaponData.cs")
    weapon = find_type(module, "WeaponData")
    assert weapon.attributes == (
        'CreateAssetMenu(fileName = "NewWeapon", menuName = "Cadenza/Weapon Data", order = 10)',
    )
    swing = find(weapon, "SwingSound")
    assert swing.attributes == (
        "field: SerializeField",
        'field: Tooltip("Sound played on every swing.")',
    )
    assert swing.tooltip == "Sound played on every swing."
    hands = find_type(module, "Handedness")
    assert hands.attributes == ("System.Flags",)
    assert [m.value for m in hands.members] == ["0", "1 << 0", "1 << 1", "Left | Right"]


def test_syntax_errors_keep_what_parses() -> None:
    """Broken method bodies are reported with lines; every declaration is still there."""
    module = parse("Broken.cs")
    assert [(p.line, p.message) for p in module.problems] == [
        (14, "syntax error: missing ';'"),
        (18, "syntax error: missing ')'"),
    ]
    door = find_type(module, "Door")
    assert [m.name for m in door.members] == ["openAngle", "Open", "Close", "IsOpen"]
    assert find(door, "IsOpen").doc.summary == "Whether the door is open."


def test_badly_broken_structure_still_documents_types() -> None:
    """A lost ``namespace {`` and top-level garbage: types inside ERROR nodes are found."""
    source = b"""
namespace Game.Doors {
  /// <summary>Good.</summary>
  public class Good { public void F() {} }
  public class Bad : MonoBehaviour {
     public int x = ;
     /// <summary>After.</summary>
     public void H() {}
  }
  %%% garbage
"""
    module = parse_csharp(source, "Bad.cs")
    assert module.problems
    assert [(t.name, t.namespace) for t in module.types] == [
        ("Good", "Game.Doors"),
        ("Bad", "Game.Doors"),
    ]
    assert find(find_type(module, "Bad"), "H").doc.summary == "After."


def test_byte_order_mark_is_ignored() -> None:
    """Unity's editors often save with a BOM."""
    module = parse_csharp(b"\xef\xbb\xbfpublic class A {}", "A.cs")
    assert [t.name for t in module.types] == ["A"]
    assert module.problems == ()


@settings(max_examples=40, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_parse_without_error(data: bytes) -> None:
    """tree-sitter recovers from anything; the parser never raises."""
    parse_csharp(data, "Fuzz.cs")

"""What is shown by default, and how coverage is counted."""

from __future__ import annotations

from pathlib import Path

import attrs

from cadenza_docgen._csharp import parse_csharp
from cadenza_docgen._model import Generated
from cadenza_docgen._python import parse_python
from cadenza_docgen._select import count, select
from cadenza_docgen._unity import apply_unity

DATA = Path(__file__).parent / "data"


def test_private_members_are_hidden_but_inspector_fields_are_not() -> None:
    """Private C# members go, [SerializeField] privates stay; protected and internal stay."""
    source = "Player/PlayerController.cs"
    [module] = apply_unity([parse_csharp((DATA / "unity" / source).read_bytes(), source)])
    shown = select(module, include_private=False)
    controller = next(t for t in shown.types if t.name == "PlayerController")
    names = [m.name for m in controller.members]
    assert "moveSpeed" in names  # private, [SerializeField]
    assert "controller" not in names  # private, not serialized
    assert "Awake" not in names
    assert "Jump" in names
    everything = select(module, include_private=True)
    assert "controller" in [m.name for t in everything.types for m in t.members]


def test_python_private_special_and_unexported_names_are_hidden() -> None:
    """``_x``, dunders and names outside ``__all__`` go; nested classes follow their parent."""
    module = parse_python((DATA / "python/shop/inventory.py").read_bytes(), "inventory.py")
    shown = select(module, include_private=False)
    assert [m.name for m in shown.members] == ["DEFAULT_CAPACITY", "fetch_prices", "restock"]
    inventory = next(t for t in shown.types if t.name == "Inventory")
    assert "__len__" not in [m.name for m in inventory.members]
    assert "_rebalance" not in [m.name for m in inventory.members]
    assert "Inventory.Snapshot" in [t.name for t in shown.types]


def test_counts_split_documented_generated_and_undocumented() -> None:
    """Tooltips count as documentation; generated summaries are counted apart."""
    source = b"""
public class A : UnityEngine.MonoBehaviour {
    [SerializeField, Tooltip("Speed.")] private float speed;
    /// <summary>Documented.</summary>
    public void B() {}
    public void C() {}
    public void D() {}
}"""
    [module] = apply_unity([parse_csharp(source, "A.cs")])
    module = select(module, include_private=False)
    item = module.types[0]
    members = list(item.members)
    members[2] = attrs.evolve(members[2], generated=Generated(text="Does C.", agent="llm"))
    module = attrs.evolve(module, types=(attrs.evolve(item, members=tuple(members)),))
    counts = count(module)
    assert (counts.types, counts.members) == (1, 4)
    assert (counts.documented, counts.generated, counts.undocumented) == (2, 1, 2)
    assert counts.coverage == 2 / 5

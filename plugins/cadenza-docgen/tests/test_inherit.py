"""<inheritdoc/> resolution from parsed base types and interfaces."""

from __future__ import annotations

from cadenza_docgen._csharp import parse_csharp
from cadenza_docgen._inherit import resolve_inheritdoc

SOURCE = b"""
/// <summary>Something that can take damage.</summary>
public interface IDamageable {
    /// <summary>Applies damage.</summary>
    /// <param name="amount">Damage points.</param>
    void TakeDamage(int amount);
}
/// <inheritdoc/>
public class Enemy : IDamageable {
    /// <inheritdoc/>
    public void TakeDamage(int amount) {}
    /// <inheritdoc/>
    public void Heal(int amount) {}
}
"""


def test_members_and_types_copy_their_base_documentation() -> None:
    """The text is copied and says where it came from; unresolved ones stay marked."""
    [module] = resolve_inheritdoc([parse_csharp(SOURCE, "Enemy.cs")])
    enemy = next(t for t in module.types if t.name == "Enemy")
    assert enemy.doc.summary == "Something that can take damage."
    take = next(m for m in enemy.members if m.name == "TakeDamage")
    assert take.doc.summary == "Applies damage."
    assert take.doc.param("amount") == "Damage points."
    assert take.doc.details == "*Documentation inherited from `IDamageable.TakeDamage`.*"
    assert not take.doc.inherited
    heal = next(m for m in enemy.members if m.name == "Heal")
    assert heal.doc.inherited  # no base declares Heal

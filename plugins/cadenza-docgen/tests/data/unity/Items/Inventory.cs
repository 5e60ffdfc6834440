using System;
using System.Collections.Generic;
using UnityEngine;

namespace Cadenza.Samples.Items;

/// <summary>Anything that can be stored in an <see cref="Inventory{T}"/>.</summary>
public interface IItem
{
    /// <summary>The unique item identifier.</summary>
    string Id { get; }

    /// <summary>How many items of this kind fit in one slot.</summary>
    int MaxStack { get; }
}

/// <summary>A number of identical items in one inventory slot.</summary>
/// <typeparam name="T">The item type.</typeparam>
[Serializable]
public struct ItemStack<T> where T : IItem
{
    /// <summary>The stacked item.</summary>
    public T Item;

    /// <summary>How many items are in the stack.</summary>
    public int Count;

    /// <summary>Creates a stack of <paramref name="count"/> <paramref name="item"/>s.</summary>
    public ItemStack(T item, int count)
    {
        Item = item;
        Count = count;
    }

    /// <summary>Whether the stack cannot take another item.</summary>
    public readonly bool IsFull => Count >= Item.MaxStack;
}

/// <summary>A fixed-size collection of item stacks.</summary>
/// <typeparam name="T">The kind of item stored.</typeparam>
/// <example>
/// <code>
/// var bag = new Inventory&lt;Potion&gt;(capacity: 8);
/// bag.TryAdd(potion, out int left);
/// </code>
/// </example>
public partial class Inventory<T> : IEnumerable<ItemStack<T>> where T : class, IItem
{
    private readonly List<ItemStack<T>> slots;

    /// <summary>Creates an empty inventory.</summary>
    /// <param name="capacity">The number of slots.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="capacity"/> is negative.</exception>
    public Inventory(int capacity = 16)
    {
        slots = new List<ItemStack<T>>(capacity);
    }

    /// <summary>The stack in slot <paramref name="index"/>.</summary>
    public ItemStack<T> this[int index] => slots[index];

    /// <summary>Raised after items were added or removed.</summary>
    public event EventHandler<InventoryChangedEventArgs> Changed;

    /// <summary>
    /// Tries to add <paramref name="item"/> to the first slot with room.
    /// </summary>
    /// <param name="item">The item to add.</param>
    /// <param name="leftOver">How many items did not fit.</param>
    /// <returns>
    /// <see langword="true"/> when every item fit.
    /// </returns>
    public bool TryAdd(T item, out int leftOver)
    {
        leftOver = 0;
        return true;
    }

    /// <summary>Finds the first item of type <typeparamref name="TItem"/>.</summary>
    /// <typeparam name="TItem">The item subtype to look for.</typeparam>
    public TItem? Find<TItem>(Predicate<TItem> match = null) where TItem : T => null;

    public void Clear() => slots.Clear();

    public IEnumerator<ItemStack<T>> GetEnumerator() => slots.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Merges two inventories into a new one.</summary>
    public static Inventory<T> operator +(Inventory<T> a, Inventory<T> b) => a;
}

/// <summary>Sorting helpers of <see cref="Inventory{T}"/>; the other half of the partial class.</summary>
public partial class Inventory<T>
{
    /// <summary>Sorts the slots by item id.</summary>
    /// <param name="descending">Sort Z to A instead.</param>
    public void Sort(bool descending = false)
    {
    }
}

/// <summary>What changed in an inventory.</summary>
/// <param name="Slot">The slot that changed.</param>
/// <param name="Delta">Items added (positive) or removed (negative).</param>
public record InventoryChangedEventArgs(int Slot, int Delta);

/// <summary>Extension methods for item collections.</summary>
public static class ItemExtensions
{
    /// <summary>The total number of items in <paramref name="stacks"/>.</summary>
    public static int TotalCount<T>(this IEnumerable<ItemStack<T>> stacks) where T : IItem
    {
        return 0;
    }

    internal static void Swap<T>(ref T a, ref T b)
    {
    }
}

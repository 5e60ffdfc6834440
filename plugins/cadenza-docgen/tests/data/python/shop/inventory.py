"""Inventory management for the shop.

Items are stored in :class:`Inventory` objects, which track stock levels
and reorder points. Everything here is synchronous except
:func:`fetch_prices`.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
from collections.abc import Iterable, Iterator
from typing import ClassVar, Final

__all__ = ["DEFAULT_CAPACITY", "Category", "Inventory", "Item", "fetch_prices", "restock"]

DEFAULT_CAPACITY: Final[int] = 100
"""How many items a new inventory holds."""

MAX_PRICE = 10_000

_registry: dict[str, Item] = {}


class Category(enum.Enum):
    """What kind of goods an item is."""

    FOOD = "food"
    TOOLS = "tools"
    TOYS = "toys"


@dataclasses.dataclass(frozen=True)
class Item:
    """One kind of product.

    Attributes:
        sku: The stock-keeping unit, unique per item.
        name: Display name.
    """

    sku: str
    name: str
    price: float = 0.0
    category: Category = Category.FOOD
    tags: list[str] = dataclasses.field(default_factory=list)
    unit: ClassVar[str] = "piece"

    @property
    def label(self) -> str:
        """The name with the price, as shown on shelf labels."""
        return f"{self.name} ({self.price:.2f})"


class Inventory:
    """Stock levels of many items.

    The inventory never holds more than ``capacity`` items in total.

    Args:
        capacity: Maximum number of items.
        name: A name for log messages.
    """

    kind: ClassVar[str] = "store"

    def __init__(self, capacity: int = DEFAULT_CAPACITY, *, name: str = "main") -> None:
        self.capacity = capacity
        self.name = name
        self._stock: dict[str, int] = {}

    def __len__(self) -> int:
        return sum(self._stock.values())

    def __iter__(self) -> Iterator[str]:
        return iter(self._stock)

    @property
    def free(self) -> int:
        """Room left, in items."""
        return self.capacity - len(self)

    @free.setter
    def free(self, value: int) -> None:
        self.capacity = len(self) + value

    @functools.cached_property
    def report(self) -> str:
        return f"{self.name}: {len(self)} items"

    def add(self, item: Item, count: int = 1) -> int:
        """Add ``count`` units of ``item``.

        Args:
            item: The item to add.
            count (int): How many units. Must be positive; values
                above the free room are clipped.

        Returns:
            The number of units actually added.

        Raises:
            ValueError: If ``count`` is not positive.
        """
        if count <= 0:
            raise ValueError("count must be positive")
        added = min(count, self.free)
        self._stock[item.sku] = self._stock.get(item.sku, 0) + added
        return added

    def remove(
        self, sku: str, /, count: int = 1, *args: str, strict: bool = False, **kwargs: object
    ) -> None:
        # A plain comment, not a docstring.
        self._stock[sku] -= count

    @classmethod
    def from_items(cls, items: Iterable[Item]) -> Inventory:
        """Build an inventory holding one unit of each item."""
        inv = cls()
        for item in items:
            inv.add(item)
        return inv

    @staticmethod
    def validate_sku(sku: str) -> bool:
        """Whether ``sku`` looks like a valid stock-keeping unit."""
        return sku.isalnum()

    def _rebalance(self) -> None:
        """Private helper: not documented by default."""

    class Snapshot:
        """A frozen copy of the stock levels."""

        def __init__(self, levels: dict[str, int]) -> None:
            self.levels = dict(levels)


async def fetch_prices(skus: Iterable[str], *, retries: int = 3) -> dict[str, float]:
    """Fetch current prices from the pricing service.

    Args:
        skus: Which items to price.
        retries: How often to retry a failed request.

    Returns:
        dict[str, float]: Prices by SKU.
    """
    return {}


def restock(inventory: Inventory, items: list[Item] | None = None, threshold: int = 5) -> list[str]:
    return []


def _internal_helper() -> None:
    """Not exported."""


def unexported() -> None:
    """Public name, but not in __all__."""

"""Python (ast) to the model, on realistic modules."""

from __future__ import annotations

from pathlib import Path

import pytest

from cadenza_docgen._model import Member, Module, Type
from cadenza_docgen._python import parse_python

SHOP = Path(__file__).parent / "data" / "python" / "shop"


def find_type(module: Module, name: str) -> Type:
    return next(t for t in module.types if t.name == name)


def find(members: tuple[Member, ...], name: str) -> Member:
    return next(m for m in members if m.name == name)


@pytest.fixture(scope="module")
def inventory() -> Module:
    return parse_python((SHOP / "inventory.py").read_bytes(), "shop/inventory.py")


def test_module_docstring_and_exports(inventory: Module) -> None:
    """The module docstring's first paragraph is the summary; ``__all__`` is read."""
    assert inventory.doc.summary == "Inventory management for the shop."
    assert inventory.doc.details.startswith("Items are stored in `Inventory` objects")
    assert inventory.exports == (
        "DEFAULT_CAPACITY",
        "Category",
        "Inventory",
        "Item",
        "fetch_prices",
        "restock",
    )


def test_module_constants_and_visibility(inventory: Module) -> None:
    """Annotated and UPPER_CASE names; names missing from ``__all__`` are unexported."""
    capacity = find(inventory.members, "DEFAULT_CAPACITY")
    assert (capacity.kind, capacity.type, capacity.value) == ("constant", "Final[int]", "100")
    assert capacity.doc.summary == "How many items a new inventory holds."
    assert find(inventory.members, "MAX_PRICE").visibility == "unexported"
    assert find(inventory.members, "_registry").visibility == "private"
    assert find(inventory.members, "unexported").visibility == "unexported"
    assert find(inventory.members, "_internal_helper").visibility == "private"


def test_function_signatures(inventory: Module) -> None:
    """Async functions, keyword-only markers, annotations and defaults rebuilt from the tree."""
    fetch = find(inventory.members, "fetch_prices")
    assert fetch.kind == "function"
    assert fetch.modifiers == ("async",)
    assert fetch.signature == (
        "async def fetch_prices(skus: Iterable[str], *, retries: int = 3) -> dict[str, float]"
    )
    assert fetch.doc.params == (
        ("skus", "Which items to price."),
        ("retries", "How often to retry a failed request."),
    )
    assert fetch.doc.returns == "`dict[str, float]`: Prices by SKU."
    restock = find(inventory.members, "restock")
    assert restock.doc.empty
    assert [p.default for p in restock.parameters] == [None, "None", "5"]


def test_class_with_init_properties_and_methods(inventory: Module) -> None:
    """``__init__`` gives the class signature; setters make properties settable; self is hidden."""
    cls = find_type(inventory, "Inventory")
    assert cls.kind == "class"
    assert (
        cls.signature == "class Inventory(capacity: int = DEFAULT_CAPACITY, *, name: str = 'main')"
    )
    assert cls.doc.params == (
        ("capacity", "Maximum number of items."),
        ("name", "A name for log messages."),
    )
    members = cls.members
    assert [m.name for m in members] == [
        "kind",
        "__len__",
        "__iter__",
        "free",
        "report",
        "add",
        "remove",
        "from_items",
        "validate_sku",
        "_rebalance",
    ]
    free = find(members, "free")
    assert (free.kind, free.type, free.modifiers) == ("property", "int", ("settable",))
    assert find(members, "report").kind == "property"  # functools.cached_property
    remove = find(members, "remove")
    assert remove.signature == (
        "def remove(sku: str, /, count: int = 1, *args: str, strict: bool = False, "
        "**kwargs: object) -> None"
    )
    assert find(members, "from_items").modifiers == ("classmethod",)
    assert find(members, "from_items").attributes == ("classmethod",)
    assert find(members, "validate_sku").signature == "def validate_sku(sku: str) -> bool"
    assert find(members, "__len__").visibility == "special"
    assert find(members, "_rebalance").visibility == "private"
    assert find(members, "kind").modifiers == ("class variable",)


def test_dataclass_fields(inventory: Module) -> None:
    """Fields in order, ``field()`` defaults, ClassVars apart, docs from ``Attributes:``."""
    item = find_type(inventory, "Item")
    assert item.kind == "dataclass"
    assert item.attributes == ("dataclasses.dataclass(frozen=True)",)
    assert item.signature == (
        "class Item(sku: str, name: str, price: float = 0.0, "
        "category: Category = Category.FOOD, tags: list[str] = <factory>)"
    )
    fields = [(m.name, m.type, m.value) for m in item.members if m.kind == "field"]
    assert fields == [
        ("sku", "str", None),
        ("name", "str", None),
        ("price", "float", "0.0"),
        ("category", "Category", "Category.FOOD"),
        ("tags", "list[str]", "<factory>"),
    ]
    assert find(item.members, "sku").doc.summary == "The stock-keeping unit, unique per item."
    assert find(item.members, "unit").kind == "attribute"
    assert find(item.members, "label").doc.summary == (
        "The name with the price, as shown on shelf labels."
    )


def test_enums_and_nested_classes(inventory: Module) -> None:
    """Enum members are values; a nested class is ``Outer.Inner``."""
    category = find_type(inventory, "Category")
    assert category.kind == "enum"
    assert [(m.kind, m.name, m.value) for m in category.members] == [
        ("enum member", "FOOD", "'food'"),
        ("enum member", "TOOLS", "'tools'"),
        ("enum member", "TOYS", "'toys'"),
    ]
    snapshot = find_type(inventory, "Inventory.Snapshot")
    assert snapshot.signature == "class Snapshot(levels: dict[str, int])"


def test_numpy_docstrings_and_untyped_code() -> None:
    """Signatures stay as written; NumPy types are kept for the parameter table."""
    module = parse_python((SHOP / "pricing.py").read_bytes(), "shop/pricing.py")
    discount = find(module.members, "discount")
    assert discount.signature == "def discount(price, rate=0.1, minimum=None)"
    assert discount.doc.param_type("rate") == "float, optional"
    assert discount.doc.returns == "`float`: The discounted price."
    rule = find_type(module, "PriceRule")
    assert rule.doc.params == (("name", "Rule name."),)


def test_syntax_error_is_a_fatal_problem_with_its_line() -> None:
    """No crash: the module is marked fatal with the error's line."""
    module = parse_python(b'"""Doc."""\n\ndef broken(:\n    pass\n', "broken.py")
    assert module.fatal
    assert [(p.line, p.message) for p in module.problems] == [(3, "syntax error: invalid syntax")]

"""Python docstrings (Google, NumPy, plain) to Doc."""

from __future__ import annotations

from cadenza_docgen._docstrings import parse_docstring


def test_google_style_sections() -> None:
    """Args (with and without types), Returns with a type, Raises and free text."""
    parsed = parse_docstring(
        """Add units.

        More text about ``count``, see :class:`shop.Item`.

        Args:
            item: The item to add.
            count (int): How many units. Values
                above the room are clipped.

        Returns:
            dict[str, int]: Stock by SKU.

        Raises:
            ValueError: If ``count`` is not positive.
        """
    )
    doc = parsed.doc
    assert doc.summary == "Add units."
    assert doc.details == "More text about `count`, see `Item`."
    assert doc.params == (
        ("item", "The item to add."),
        ("count", "How many units. Values above the room are clipped."),
    )
    assert doc.param_type("count") == "int"
    assert doc.returns == "`dict[str, int]`: Stock by SKU."
    assert doc.raises == (("ValueError", "If `count` is not positive."),)


def test_numpy_style_sections() -> None:
    """Underlined headings; ``name : type`` entries with the text indented below."""
    doc = parse_docstring(
        """
        Apply a discount.

        Parameters
        ----------
        price : float
            The original price.
        minimum : float or None
            Floor.

        Returns
        -------
        float
            The discounted price.
        """
    ).doc
    assert doc.summary == "Apply a discount."
    assert doc.params == (("price", "The original price."), ("minimum", "Floor."))
    assert doc.param_type("minimum") == "float or None"
    assert doc.returns == "`float`: The discounted price."


def test_attributes_and_unknown_sections() -> None:
    """Attributes feed class fields; an unknown section stays in the details, labelled."""
    parsed = parse_docstring(
        """A product.

        Attributes:
            sku: Unique id.

        Note:
            Immutable.
        """
    )
    assert parsed.attributes == (("sku", "Unique id."),)
    assert parsed.doc.details == "**Note:** Immutable."


def test_summary_is_the_first_paragraph_joined() -> None:
    """A summary wrapped over lines is one line; the rest is details."""
    doc = parse_docstring("First line\ncontinued.\n\nSecond paragraph.").doc
    assert doc.summary == "First line continued."
    assert doc.details == "Second paragraph."


def test_no_docstring() -> None:
    """None and blank docstrings are empty docs."""
    assert parse_docstring(None).doc.empty
    assert parse_docstring("   ").doc.empty

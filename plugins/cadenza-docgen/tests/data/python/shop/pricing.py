"""Price calculations, documented in NumPy style."""

import math


def discount(price, rate=0.1, minimum=None):
    """
    Apply a discount to a price.

    Prices are rounded to cents after the discount.

    Parameters
    ----------
    price : float
        The original price.
    rate : float, optional
        Fraction taken off, between 0 and 1.
    minimum : float or None
        Never go below this price.

    Returns
    -------
    float
        The discounted price.
    """
    value = price * (1 - rate)
    if minimum is not None:
        value = max(value, minimum)
    return math.floor(value * 100) / 100


class PriceRule:
    """A named pricing rule.

    Parameters
    ----------
    name : str
        Rule name.
    """

    def __init__(self, name):
        self.name = name

    def apply(self, price):
        return price

    def __call__(self, price):
        """Apply the rule (same as :meth:`apply`)."""
        return self.apply(price)

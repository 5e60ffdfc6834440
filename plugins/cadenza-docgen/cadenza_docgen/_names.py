"""Matching type names as written in code against parsed declarations."""

from __future__ import annotations

import re

_GENERIC = re.compile(r"<.*>|\[.*\]")


def simple_name(name: str) -> str:
    """``UnityEngine.MonoBehaviour`` -> ``MonoBehaviour``; ``List<ItemStack<T>>`` -> ``List``."""
    return _GENERIC.sub("", name).strip().rsplit(".", 1)[-1]

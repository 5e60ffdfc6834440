"""Each run's drawing, made once: a small LRU of SVGs, one drawing at a time per run.

A run's DAG is drawn from the workflow source stored with it, which never
changes for the run (steps are coloured by the page's script, not in the
SVG), so a drawing stays right for as long as the run lives: the key is the
run id and its source hash. Drawing a big workflow takes seconds and much
memory, so concurrent views of one run wait for the first one's drawing,
drawings go one at a time, and the cache holds at most ``max_entries``
drawings of at most ``max_chars`` characters together.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable

import attrs
import trio

MAX_ENTRIES = 16
MAX_CHARS = 64 * 1024 * 1024

Key = tuple[str, str]


@attrs.define(eq=False)
class GraphCache:
    """Drawings by (run id, source hash); ``draws`` counts the drawings actually made."""

    max_entries: int = MAX_ENTRIES
    max_chars: int = MAX_CHARS
    draws: int = 0
    _entries: OrderedDict[Key, str | None] = attrs.field(factory=OrderedDict)
    _locks: dict[Key, trio.Lock] = attrs.field(factory=dict)

    def _size(self) -> int:
        return sum(len(v) for v in self._entries.values() if v)

    async def get(self, key: Key, draw: Callable[[], Awaitable[str | None]]) -> str | None:
        """The cached drawing for ``key``, else ``await draw()`` once and keep what it made."""
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        lock = self._locks.setdefault(key, trio.Lock())
        try:
            async with lock:
                if key in self._entries:  # drawn while this view waited
                    self._entries.move_to_end(key)
                    return self._entries[key]
                self.draws += 1
                svg = await draw()
                self._put(key, svg)
                return svg
        finally:
            if not lock.locked() and lock.statistics().tasks_waiting == 0:
                self._locks.pop(key, None)

    def _put(self, key: Key, svg: str | None) -> None:
        if svg is not None and len(svg) > self.max_chars:
            return  # too big to keep: drawn again next time, but never crowding out the rest
        self._entries[key] = svg
        while len(self._entries) > self.max_entries or self._size() > self.max_chars:
            self._entries.popitem(last=False)

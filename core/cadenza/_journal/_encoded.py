"""Events encoded once, on the trio thread, as the store that asked for it will keep them.

Why: the SQLite journal stores each event as its JSON text plus five columns.
Encoding that text in the writer thread put it on the critical path of every
durable commit (a layer of a layered workflow waited for its successes'
encoding, under the GIL, before the insert and the ``fsync``), and the event
dicts waiting in the queue were young containers that survived into the
older GC generations, so full collections of the whole heap came more often.
Encoding as the event is queued costs the trio thread what the copy and the
size check cost before (:func:`encode_event` replaces
``cap_event(event.to_dict())``), leaves the writer thread only the insert and
the commit, and the queue holds strings.

A store opts in with a true ``writes_encoded_events`` attribute (the SQLite
store does): its batches' ``events`` are then :class:`EncodedEvent` objects.
They are read-only mappings, so code that reads them as dicts (a test, a
wrapper) sees the event as it will read back from the store; every other
store keeps getting the plain, capped dicts of :meth:`~cadenza.events.Event.to_dict`.
"""

from __future__ import annotations

import json
import json.encoder
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from .. import _events as ev
from ._limits import JournalLimits, cap_event

ENCODER = json.JSONEncoder(separators=(",", ":"), default=str)
"""How the journal writes a value as JSON (compact, ASCII-only; ``str()`` for the unknown)."""


def _one_shot_encoder() -> Callable[[Any], str]:
    """``ENCODER.encode``, without building a C encoder per call where CPython has one.

    ``JSONEncoder.encode`` makes a new ``c_make_encoder`` object for every
    value: about a fifth of the cost of encoding a small event. This one is
    made once, with ``ENCODER``'s settings, so the text is the same. It skips
    the circular-reference check: a circular value never gets this far
    (``Event.to_dict`` copies values recursively and would not return).
    """
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # no C accelerator (another Python): the plain path
        return ENCODER.encode
    c_encode = make(
        None,  # markers: no circular-reference check
        ENCODER.default,
        json.encoder.encode_basestring_ascii,
        None,  # indent
        ENCODER.key_separator,
        ENCODER.item_separator,
        ENCODER.sort_keys,
        ENCODER.skipkeys,
        ENCODER.allow_nan,
    )
    join = "".join

    def encode(value: Any) -> str:
        return join(c_encode(value, 0))

    return encode


encode_json = _one_shot_encoder()
"""Encode one value exactly as ``ENCODER.encode`` does (see :func:`_one_shot_encoder`)."""


class EncodedEvent(Mapping[str, Any]):
    """One event as its stored JSON ``text`` and the columns the journal indexes.

    The mapping view decodes ``text`` on first use (``json.loads``): what
    :meth:`~cadenza.store.SqliteStore.read_events` would return for it.
    """

    __slots__ = ("_decoded", "at", "kind", "run_id", "seq", "step_id", "text")

    def __init__(
        self, *, run_id: str, seq: int, kind: str, step_id: str | None, at: float, text: str
    ) -> None:
        self.run_id = run_id
        self.seq = seq
        self.kind = kind
        self.step_id = step_id
        self.at = at
        self.text = text
        self._decoded: dict[str, Any] | None = None

    def _data(self) -> dict[str, Any]:
        if self._decoded is None:
            self._decoded = json.loads(self.text)
        return self._decoded

    def __getitem__(self, key: str) -> Any:
        return self._data()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data())

    def __len__(self) -> int:
        return len(self._data())

    def __repr__(self) -> str:
        return f"EncodedEvent({self.text[:200]})"


def encode_event(event: ev.Event, limits: JournalLimits) -> EncodedEvent | dict[str, Any]:
    """``event`` as the journal stores it: the JSON of ``cap_event(event.to_dict())``.

    An event whose whole JSON is within both limits has no field over either,
    so the common case is one copy and one encoding, without a per-field
    size check. An event the encoder refuses (a mapping with keys JSON cannot
    have) stays the capped dict, so the store reports it when it writes, as
    it did before events were encoded here.
    """
    data = event.to_dict()
    try:
        text = encode_json(data)
        if len(text) > min(limits.field_bytes, limits.output_bytes):
            capped = cap_event(data, limits)
            if capped is not data:
                data, text = capped, encode_json(capped)
    except (TypeError, ValueError):
        return cap_event(data, limits)
    return EncodedEvent(
        run_id=data["run_id"],
        seq=data["seq"],
        kind=data["kind"],
        step_id=data.get("step_id"),
        at=data["at"],
        text=text,
    )

"""Reading a reply's JSON exactly as ``json.loads`` would, but faster, and without holding the
interpreter lock for long.

A busy account's order book is megabytes of JSON, read every half second on the poll lane.
``json.loads`` of a 3 MB book holds the interpreter lock for 70-150 ms in one C call, and for
that long no other thread -- the UI thread painting the window, the kill lane -- can run a line of
Python. :func:`loads` reads with ``orjson`` (2-4x faster), and cuts a large body's biggest array
of objects (the orders) into slices of about :data:`PIECE_BYTES`, each parsed on its own: the
lock changes hands between slices, so no single hold is longer than a millisecond or two.

The result is always what ``json.loads(raw)`` gives, or ``json.loads`` is what runs:

- ``orjson`` refuses NaN/Infinity, numbers too large for a float, lone surrogates, a byte order
  mark and UTF-16/32 text, all of which ``json.loads`` reads: any ``orjson`` error falls back to
  ``json.loads``, which then reads the body or raises its own error;
- ``orjson`` turns an integer beyond 64 bits into a float without an error, so a body with a run
  of 19 or more digits anywhere (which every such integer has) goes to ``json.loads``;
- a slice boundary that is not between two elements of that array (a ``},{`` inside a string or
  a nested list) makes a slice unreadable, and the whole body is read in one piece instead;
- ``orjson`` nests at most 1,024 levels deep, ``json.loads`` as deep as the recursion limit
  allows (about 1,000 levels); a body nested between the two may be read by one and refused by
  the other. No server sends that.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

SMALL_BODY_BYTES: Final = 16 * 1024
"""Bodies smaller than this are read by ``json.loads`` itself: at this size it takes a tenth of
a millisecond, and a command-line kill of a small book then never imports ``orjson`` (~5 ms,
with the ``uuid`` and ``platform`` modules it loads)."""

LARGE_BODY_BYTES: Final = 256 * 1024
"""Bodies at least this large are read in slices."""

PIECE_BYTES: Final = 128 * 1024
"""About how much of the big array one slice holds (~1 ms of ``orjson`` work)."""

# Every integer that orjson would turn into a float has at least 19 digits (2**63 has 19).
_DIGITS_TO_ZERO: Final = bytes.maketrans(b"123456789", b"000000000")
_LONG_DIGIT_RUN: Final = b"0" * 19

_ARRAY_OF_OBJECTS: Final = re.compile(rb"\[\s*\{")
_END_OF_ARRAY: Final = re.compile(rb"\}\s*\]")
_BETWEEN_OBJECTS: Final = re.compile(rb"\}\s*,\s*\{")

# Stands in for the big array while the rest of the body is read; a body that contains this
# text is read in one piece, so the stand-in can only be the one put there.
_HOLE: Final = "\u2063killswitch-array-read-in-slices\u2063"
_HOLE_JSON: Final = json.dumps(_HOLE).encode()
_HOLE_NAME: Final = b"killswitch-array-read-in-slices"


class _NotExactError(Exception):
    """orjson cannot be trusted to read this text as json.loads would."""


def loads(
    raw: bytes, *, small: int = SMALL_BODY_BYTES, large: int = LARGE_BODY_BYTES, piece: int = PIECE_BYTES
) -> Any:
    """``json.loads(raw)``: the same value, or the same exception types (ValueError,
    RecursionError), read faster and in short holds of the interpreter lock.

    Bodies under ``small`` bytes are read by ``json.loads``; of ``large`` bytes or more, in
    slices of about ``piece`` bytes.
    """
    if len(raw) < min(small, large):
        return json.loads(raw)
    try:
        if len(raw) >= large:
            return _read_in_slices(raw, piece)
        return _read_exactly(raw)
    except _NotExactError:
        return json.loads(raw)


def _read_exactly(text: bytes) -> Any:
    if _LONG_DIGIT_RUN in text.translate(_DIGITS_TO_ZERO):
        raise _NotExactError
    import orjson  # here, not at the top: see SMALL_BODY_BYTES

    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise _NotExactError from exc


def _read_in_slices(raw: bytes, piece_bytes: int) -> Any:
    opening = _ARRAY_OF_OBJECTS.search(raw)
    closing = _last_match(_END_OF_ARRAY, raw)
    if opening is None or closing is None or closing.start() <= opening.start():
        return _read_exactly(raw)
    first = opening.end() - 1  # the "{" of the first object
    last = closing.start()  # the "}" of the last object
    if _HOLE_NAME in raw:
        raise _NotExactError
    head = raw[: opening.start()] + _HOLE_JSON + raw[closing.end() :]
    outer = _read_exactly(head)
    holes = _holes(outer)
    if len(holes) != 1:
        raise _NotExactError
    items: list[Any] = []
    start = first
    while start <= last:
        cut = _BETWEEN_OBJECTS.search(raw, min(start + piece_bytes, last), last + 1)
        end = cut.start() + 1 if cut is not None else last + 1
        piece = _read_exactly(b"[" + raw[start:end] + b"]")
        if not isinstance(piece, list):  # cannot happen for "[...]", but never trust a cut
            raise _NotExactError
        items.extend(piece)
        if cut is None:
            break
        start = cut.end() - 1  # the "{" after the comma
    container, key = holes[0]
    if container is None:
        return items
    container[key] = items
    return outer


def _last_match(pattern: re.Pattern[bytes], raw: bytes) -> re.Match[bytes] | None:
    # The array's end is near the body's end: look at growing tails instead of scanning it all.
    size = 4096
    while True:
        start = max(0, len(raw) - size)
        found = None
        for match in pattern.finditer(raw, start):
            found = match
        if found is not None or start == 0:
            return found
        size *= 8


def _holes(value: Any) -> list[tuple[Any, Any]]:
    """Where the stand-in sits: (container, key) pairs; (None, None) when it is the whole value."""
    if value == _HOLE:
        return [(None, None)]
    found: list[tuple[Any, Any]] = []
    stack = [value]
    while stack:
        node = stack.pop()
        pairs = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
        for key, item in pairs:
            if isinstance(item, str):
                if item == _HOLE:
                    found.append((node, key))
            elif isinstance(item, dict | list):
                stack.append(item)
    return found

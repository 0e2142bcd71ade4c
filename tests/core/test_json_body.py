"""Replies are read exactly as ``json.loads`` reads them, whichever way ``core.json_body`` reads.

Large bodies are cut into slices (``large``/``piece`` are made tiny here so that every generated
book is cut many times); the slices' edges are put where they are most likely to go wrong:
``},{`` and ``}]`` inside strings, rows with nested lists of objects, two arrays of objects.
"""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import json_body

TRICKY_TEXT = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        [
            "},{",
            '"},{"',
            "}]",
            "[{",
            '\\"},{\\"',
            "}, {",
            "killswitch-array-read-in-slices",
            "\u2063killswitch-array-read-in-slices\u2063",
            "\ud800",  # a lone surrogate: json.dumps escapes it, orjson refuses it
            "1234567890123456789012",
        ]
    ),
)
SCALARS = st.one_of(
    TRICKY_TEXT,
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
)
ROWS = st.dictionaries(
    st.sampled_from(["orderid", "symbol", "price", "quantity", "status", "note", "legs"]),
    st.one_of(SCALARS, st.lists(st.dictionaries(st.sampled_from(["a", "b"]), SCALARS), max_size=3)),
    max_size=7,
)
BOOKS = st.builds(
    lambda rows, extra, shape: (
        {"status": "success", "data": {"orders": rows, "statistics": extra}, "mode": "analyze"}
        if shape == 0
        else {"status": "success", "data": rows}
        if shape == 1
        else rows
        if shape == 2
        else {"data": {"orders": rows}, "trades": [extra], "status": "success"}
    ),
    st.lists(ROWS, max_size=40),
    st.dictionaries(st.sampled_from(["total", "x"]), SCALARS, max_size=2),
    st.integers(min_value=0, max_value=3),
)
LAYOUTS = st.sampled_from([{}, {"separators": (",", ":")}, {"indent": 1}, {"indent": "\t"}])


def same(a: Any, b: Any) -> bool:
    """Equal values of equal types, NaN equal to NaN."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def outcome(read: Any, raw: bytes) -> tuple[str, Any]:
    try:
        return "value", read(raw)
    except (ValueError, RecursionError) as exc:
        return "error", type(exc).__mro__[-3]  # ValueError or RecursionError


@settings(max_examples=400, deadline=None)
@given(book=BOOKS, layout=LAYOUTS, piece=st.integers(min_value=1, max_value=400))
def test_any_book_in_slices_reads_exactly_as_json_loads_reads_it(
    book: Any, layout: dict[str, Any], piece: int
) -> None:
    raw = json.dumps(book, **layout).encode()

    got = json_body.loads(raw, small=0, large=0, piece=piece)

    assert same(got, json.loads(raw))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"orderid": 18446744073709551616}',  # past 64 bits: orjson would give a float
        b'{"orderid": -9223372036854775809}',
        b'{"price": NaN, "trigger_price": Infinity}',
        b'{"price": 1e400}',
        b'{"symbol": "\\ud800"}',
        b'\xef\xbb\xbf{"status": "success"}',
        '{"status": "success"}'.encode("utf-16"),
        b'{"a": 1, "a": 2}',
        b'{"status": "success"',
        b'{"symbol": "\xc3"}',
        b"",
        b"[" * 5000 + b"]" * 5000,
    ],
)
@pytest.mark.parametrize("large", [0, 1 << 30])
def test_bodies_orjson_reads_differently_read_as_json_loads_reads_them(raw: bytes, large: int) -> None:
    kind, value = outcome(lambda r: json_body.loads(r, small=0, large=large, piece=8), raw)
    expected_kind, expected = outcome(json.loads, raw)

    assert kind == expected_kind
    if kind == "value":
        assert same(value, expected)
    else:
        assert value is expected


def test_a_big_book_is_read_whole() -> None:
    rows = [{"orderid": str(26112500000000 + i), "symbol": "SBIN", "price": 812.5 + i} for i in range(20_000)]
    raw = json.dumps({"status": "success", "data": {"orders": rows}}).encode()
    assert len(raw) > json_body.LARGE_BODY_BYTES

    assert json_body.loads(raw) == json.loads(raw)

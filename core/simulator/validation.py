"""Request validation that answers exactly as OpenAlgo's marshmallow schemas do.

OpenAlgo rejects unknown fields, requires ``strategy`` on the cancel endpoints, and words its errors in
marshmallow's sentences ("Missing data for required field.", "Unknown field.", ...). The errors come
back as a field -> messages mapping, in the schema's field order, unknown fields last.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from core.simulator.market import VALID_EXCHANGES

MISSING = "Missing data for required field."
UNKNOWN = "Unknown field."
NULL = "Field may not be null."

Check = Callable[[Any], str | None]
"""A validator: the error sentence for a bad value, or ``None``."""


def one_of(*choices: str) -> Check:
    sentence = f"Must be one of: {', '.join(choices)}."
    return lambda value: None if value in choices else sentence


def length(low: int, high: int) -> Check:
    sentence = f"Length must be between {low} and {high}."
    return lambda value: None if low <= len(value) <= high else sentence


def above(low: float, sentence: str, *, inclusive: bool) -> Check:
    def check(value: Any) -> str | None:
        ok = value >= low if inclusive else value > low
        return None if ok else sentence

    return check


TRUTHY = frozenset(
    {"t", "T", "true", "True", "TRUE", "on", "On", "ON", "y", "Y", "yes", "Yes", "YES", "1", 1}
)
FALSY = frozenset(
    {"f", "F", "false", "False", "FALSE", "off", "Off", "OFF", "n", "N", "no", "No", "NO", "0", 0}
)
"""What marshmallow's ``fields.Bool`` takes for true and false (``True``/``False`` and ``1.0``/``0.0``
hash as ``1``/``0`` and so count too)."""


@dataclass(frozen=True)
class Field:
    kind: Literal["str", "float", "int", "bool"]
    required: bool = False
    default: Any = None
    check: Check | None = None
    allow_none: bool = False


Schema = Mapping[str, Field]


def _convert(field: Field, value: Any) -> tuple[Any, str | None]:
    if field.kind == "str":
        return (value, None) if isinstance(value, str) else (None, "Not a valid string.")
    if field.kind == "bool":
        try:
            if value in TRUTHY:
                return True, None
            if value in FALSY:
                return False, None
        except TypeError:  # unhashable: a list or an object
            pass
        return None, "Not a valid boolean."
    invalid = "Not a valid number." if field.kind == "float" else "Not a valid integer."
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None, invalid
    try:
        number: float | int = float(value) if field.kind == "float" else int(value)
    except (TypeError, ValueError, OverflowError):
        return None, invalid
    if isinstance(number, float) and not math.isfinite(number):
        return None, "Special numeric values (nan or infinity) are not permitted."
    return number, None


def load(schema: Schema, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Validate a request body: the loaded fields (defaults filled in) and the errors, if any."""
    loaded: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for name, field in schema.items():
        if name not in data:
            if field.required:
                errors[name] = [MISSING]
            elif field.default is not None or field.allow_none:
                loaded[name] = field.default
            continue
        value = data[name]
        if value is None:
            if field.allow_none:
                loaded[name] = None
            else:
                errors[name] = [NULL]
            continue
        converted, problem = _convert(field, value)
        if problem is None and field.check is not None:
            problem = field.check(converted)
        if problem is None:
            loaded[name] = converted
        else:
            errors[name] = [problem]
    for name in data:
        if name not in schema:
            errors[name] = [UNKNOWN]
    return loaded, errors


def _coerce_quantity(loaded: dict[str, Any]) -> dict[str, list[str]]:
    """OpenAlgo's post-load step: a whole-number quantity becomes an int, a fraction is refused."""
    quantity = loaded.get("quantity")
    if isinstance(quantity, float):
        if quantity != int(quantity):
            return {
                "quantity": [f"Fractional quantity ({quantity}) is not allowed for non-crypto exchanges."]
            }
        loaded["quantity"] = int(quantity)
    return {}


def load_order(schema: Schema, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    loaded, errors = load(schema, data)
    if not errors:
        errors = _coerce_quantity(loaded)
    return loaded, errors


_APIKEY_STRICT = Field("str", required=True, check=length(1, 256))
_APIKEY_PLAIN = Field("str", required=True)
_STRATEGY = Field("str", required=True)
_ACTION = Field("str", required=True, check=one_of("BUY", "SELL", "buy", "sell"))
_EXCHANGE = Field("str", required=True, check=one_of(*VALID_EXCHANGES))
_PRICETYPES: Sequence[str] = ("MARKET", "LIMIT", "SL", "SL-M")
_PRODUCTS: Sequence[str] = ("MIS", "NRML", "CNC")
_POSITIVE_QUANTITY = above(0, "Quantity must be a positive number.", inclusive=False)
_PRICE = above(0, "Price must be a non-negative number.", inclusive=True)
_TRIGGER = above(0, "Trigger price must be a non-negative number.", inclusive=True)
_DISCLOSED = above(0, "Disclosed quantity must be a non-negative integer.", inclusive=True)

ACCOUNT_SCHEMA: Schema = {"apikey": _APIKEY_PLAIN}
"""orderbook, positionbook, funds, ping: the key alone, no length check."""

ANALYZER_SCHEMA: Schema = {"apikey": _APIKEY_STRICT}
"""analyzer (OpenAlgo's ``AnalyzerSchema``: the key, 1 to 256 characters)."""

ANALYZER_TOGGLE_SCHEMA: Schema = {"apikey": _APIKEY_STRICT, "mode": Field("bool", required=True)}
"""analyzer/toggle: ``mode`` true for analyze (the sandbox), false for live."""

STRATEGY_SCHEMA: Schema = {"apikey": _APIKEY_STRICT, "strategy": _STRATEGY}
"""cancelallorder, closeposition."""

CANCEL_ORDER_SCHEMA: Schema = {
    "apikey": _APIKEY_STRICT,
    "strategy": _STRATEGY,
    "orderid": Field("str", required=True),
}

ORDER_STATUS_SCHEMA: Schema = {
    "apikey": _APIKEY_PLAIN,
    "strategy": _STRATEGY,
    "orderid": Field("str", required=True),
}

PLACE_ORDER_SCHEMA: Schema = {
    "apikey": _APIKEY_STRICT,
    "strategy": _STRATEGY,
    "exchange": _EXCHANGE,
    "symbol": Field("str", required=True),
    "action": _ACTION,
    "quantity": Field("float", required=True, check=_POSITIVE_QUANTITY),
    "pricetype": Field("str", default="MARKET", check=one_of(*_PRICETYPES)),
    "product": Field("str", default="MIS", check=one_of(*_PRODUCTS)),
    "price": Field("float", default=0.0, check=_PRICE),
    "trigger_price": Field("float", default=0.0, check=_TRIGGER),
    "disclosed_quantity": Field("int", default=0, check=_DISCLOSED),
    "underlying_ltp": Field("float", allow_none=True),
}

SMART_ORDER_SCHEMA: Schema = {
    "apikey": _APIKEY_STRICT,
    "strategy": _STRATEGY,
    "exchange": _EXCHANGE,
    "symbol": Field("str", required=True),
    "action": _ACTION,
    "quantity": Field(
        "float", required=True, check=above(0, "Quantity must be a non-negative number.", inclusive=True)
    ),
    "position_size": Field("float", required=True),
    "pricetype": Field("str", default="MARKET", check=one_of(*_PRICETYPES)),
    "product": Field("str", default="MIS", check=one_of(*_PRODUCTS)),
    "price": Field("float", default=0.0, check=_PRICE),
    "trigger_price": Field("float", default=0.0, check=_TRIGGER),
    "disclosed_quantity": Field("int", default=0, check=_DISCLOSED),
}
"""placesmartorder (OpenAlgo's ``SmartOrderSchema``): ``quantity`` may be 0, ``position_size`` is any
number, signed."""

MODIFY_ORDER_SCHEMA: Schema = {
    "apikey": _APIKEY_STRICT,
    "strategy": _STRATEGY,
    "exchange": _EXCHANGE,
    "symbol": Field("str", required=True),
    "orderid": Field("str", required=True),
    "action": _ACTION,
    "product": Field("str", required=True, check=one_of(*_PRODUCTS)),
    "pricetype": Field("str", required=True, check=one_of(*_PRICETYPES)),
    "price": Field("float", required=True, check=_PRICE),
    "quantity": Field("float", required=True, check=_POSITIVE_QUANTITY),
    "disclosed_quantity": Field("int", required=True, check=_DISCLOSED),
    "trigger_price": Field("float", required=True, check=_TRIGGER),
}

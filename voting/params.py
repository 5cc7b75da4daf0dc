"""Translation between a question's stored JSON and the engine: exact numbers, parameter names, messages.

Shared by the services that write questions and ballots and by the live tallies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

from aggregation.core import InvalidInput, to_fraction
from aggregation.jsonio import exact


def jsonable(value: Any) -> Any:
    """Make engine values storable as JSON: Fractions as ints or "p/q" strings, Decimals as floats
    when that is exact (else "p/q"), tuples as lists."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, float)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, Fraction):
        return exact(value)
    if isinstance(value, Decimal):
        number = to_fraction(value)
        as_float = float(value)
        return as_float if math.isfinite(as_float) and to_fraction(as_float) == number else exact(number)
    if isinstance(value, dict):
        return {str(key): jsonable(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(item) for item in value]
    return str(value)


def engine_params(params: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """A question's stored params in engine terms: ``tb_order`` names option keys, the engine wants indices."""
    converted = dict(params)
    order = converted.get("tb_order")
    if order is not None:
        if not isinstance(order, list):
            raise InvalidInput("tb_order must be a list of option keys")
        lookup = {key: index for index, key in enumerate(candidates)}
        indices = []
        for key in order:
            if key not in lookup:
                raise InvalidInput(f"tb_order names {key!r}, which is not an option")
            indices.append(lookup[key])
        converted["tb_order"] = indices
    return converted


def stored_params(normalized: dict[str, Any], candidates: Sequence[str]) -> dict[str, Any]:
    """Normalized engine params as JSON for the record, with ``tb_order`` back as option keys."""
    stored = jsonable(normalized)
    if isinstance(normalized.get("tb_order"), (list, tuple)):
        stored["tb_order"] = [candidates[index] for index in normalized["tb_order"]]
    return stored


def sentence(message: str) -> str:
    """An engine message as a sentence for people: capital first letter, full stop."""
    message = message.strip()
    if not message:
        return "The ballot is not valid."
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."

"""The engine's JSON forms: cases in, results out, with candidates named by string ids.

The command line and the platform speak this format, so one parser decides what a
well-formed ballot is. Numbers are read exactly (JSON decimals as ``Decimal``, "p/q"
strings as fractions) and written exactly (ints when integral, else "p/q" strings).
"""

from __future__ import annotations

import json
import numbers
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction
from typing import Any

import aggregation
from aggregation.core import UNBOUNDED, Ballot, InvalidInput, Result, Round, to_fraction, to_weight
from aggregation.registry import get_rule

BALLOT_KEYS = ("choice", "ranking", "scores", "value", "allocation")
CASE_KEYS = ("rule", "candidates", "ballots", "params")

# A number written as a string: an integer, a "p/q" fraction or a decimal with a short exponent.
# Long exponents are refused because converting 1e999999999 exactly would exhaust memory.
_NUMBER_TEXT = re.compile(r"\s*[+-]?(\d+\s*/\s*\d+|(\d+\.?\d*|\.\d+)([eE][+-]?\d{1,3})?)\s*")
_MAX_EXPONENT = 999
_MAX_TEXT = 1000
_LIMIT = 10**300


def loads(text: str) -> Any:
    """Parse JSON keeping decimals exact; NaN and Infinity become Decimals that the parser then refuses."""
    return json.loads(text, parse_float=Decimal, parse_constant=Decimal)


def parse_number(value: Any, what: str, index: int | None = None) -> Fraction:
    """Read a JSON number or a "p/q" string exactly; refuse NaN, infinities and absurd exponents."""
    if isinstance(value, Decimal) and value.is_finite() and abs(value.adjusted()) > _MAX_EXPONENT:
        raise InvalidInput(f"{what} {value} is too large or too small to handle exactly", index)
    if isinstance(value, str) and (len(value) > _MAX_TEXT or not _NUMBER_TEXT.fullmatch(value)):
        shown = value if len(value) <= 40 else value[:40] + "..."
        raise InvalidInput(f"{what} {shown!r} is not a number or a 'p/q' fraction", index)
    number = to_fraction(value, what, index)
    if abs(number) >= _LIMIT:
        raise InvalidInput(f"{what} is too large (the limit is 10^300, so results stay within floating point)", index)
    return number


def parse_weight(value: Any, index: int | None = None) -> Fraction:
    """Read a ballot weight: a non-negative integer or "p/q" string (decimals are refused, §0)."""
    if isinstance(value, str) and len(value) > _MAX_TEXT:
        raise InvalidInput("weight is too long", index)
    return to_weight(value, index)


def _lookup(candidate_ids: Sequence[str] | Mapping[str, int]) -> Mapping[str, int]:
    if isinstance(candidate_ids, Mapping):
        return candidate_ids
    return {candidate: position for position, candidate in enumerate(candidate_ids)}


def _candidate(lookup: Mapping[str, int], value: Any, what: str, index: int | None) -> int:
    if not isinstance(value, str):
        raise InvalidInput(f"{what} must be a candidate id (a string), not {json.dumps(plain(value))}", index)
    try:
        return lookup[value]
    except KeyError:
        raise InvalidInput(f"{what} {value!r} is not a candidate", index) from None


def _vector(lookup: Mapping[str, int], obj: Any, kind: str, index: int, *, complete: bool) -> tuple[Fraction, ...]:
    if not isinstance(obj, dict):
        raise InvalidInput(f"{kind} must be an object mapping candidate ids to numbers", index)
    vector: list[Fraction | None] = [None] * len(lookup)
    for key, amount in obj.items():
        position = _candidate(lookup, key, f"{kind} key", index)
        vector[position] = parse_number(amount, f"{kind}[{key!r}]", index)
    if complete:
        missing = [candidate for candidate, position in lookup.items() if vector[position] is None]
        if missing:
            raise InvalidInput(f"scores must give a number for every candidate; missing {missing[0]!r}", index)
    return tuple(Fraction(0) if amount is None else amount for amount in vector)


def parse_ballot(obj: Any, candidate_ids: Sequence[str] | Mapping[str, int], index: int) -> Ballot:
    """Turn one JSON ballot into an engine Ballot, raising InvalidInput that names ``index``.

    Exactly one content key (choice, ranking, scores, value, allocation) plus an optional
    weight. Scores must cover every candidate; allocation amounts left out count as 0.
    """
    if not isinstance(obj, dict):
        raise InvalidInput("a ballot must be a JSON object", index)
    unknown = sorted(set(obj) - set(BALLOT_KEYS) - {"weight"})
    if unknown:
        raise InvalidInput(
            f"unknown key {unknown[0]!r} in ballot; expected one of {', '.join(BALLOT_KEYS)} and weight", index
        )
    kinds = [key for key in BALLOT_KEYS if key in obj]
    if len(kinds) != 1:
        found = " and ".join(kinds) if kinds else "none"
        raise InvalidInput(f"a ballot needs exactly one of {', '.join(BALLOT_KEYS)}; found {found}", index)
    kind = kinds[0]
    content = obj[kind]
    weight = parse_weight(obj["weight"], index) if "weight" in obj else Fraction(1)
    lookup = _lookup(candidate_ids)
    if kind == "choice":
        chosen = None if content is None else _candidate(lookup, content, "choice", index)
        return Ballot(weight=weight, choice=chosen, is_choice=True)
    if kind == "ranking":
        if not isinstance(content, list):
            raise InvalidInput("ranking must be a list of candidate ids", index)
        order: list[int] = []
        for entry in content:
            position = _candidate(lookup, entry, "ranking entry", index)
            if position in order:
                raise InvalidInput(f"ranking names candidate {entry!r} twice", index)
            order.append(position)
        return Ballot(weight=weight, ranking=tuple(order))
    if kind == "scores":
        return Ballot(weight=weight, scores=_vector(lookup, content, "scores", index, complete=True))
    if kind == "value":
        return Ballot(weight=weight, value=parse_number(content, "value", index))
    return Ballot(weight=weight, allocation=_vector(lookup, content, "allocation", index, complete=False))


def _param_value(value: Any, name: str) -> Any:
    """Make JSON decimals in params exact: ints when integral, else "p/q" strings."""
    if isinstance(value, Decimal):
        return exact(parse_number(value, f"parameter {name}"))
    if isinstance(value, dict):
        return {key: _param_value(item, name) for key, item in value.items()}
    if isinstance(value, list):
        return [_param_value(item, name) for item in value]
    return value


def parse_case(obj: Any) -> tuple[str, list[str], list[Ballot], dict[str, Any]]:
    """Read a case {"rule", "candidates", "ballots", "params"} into engine terms.

    Candidates must be a non-empty list of unique strings; ``tb_order`` is given as
    candidate ids and becomes indices; other params pass through for the rule to check.
    """
    if not isinstance(obj, dict):
        raise InvalidInput("a case must be a JSON object with rule, candidates, ballots and params")
    unknown = sorted(set(obj) - set(CASE_KEYS))
    if unknown:
        raise InvalidInput(f"unknown key {unknown[0]!r} in case; expected {', '.join(CASE_KEYS)}")
    rule = obj.get("rule")
    if not isinstance(rule, str):
        raise InvalidInput("the case must name a rule (a string)")
    get_rule(rule)
    candidates = obj.get("candidates")
    if not isinstance(candidates, list) or not all(isinstance(candidate, str) for candidate in candidates):
        raise InvalidInput("candidates must be a list of candidate ids (strings)")
    if not candidates:
        raise InvalidInput("there are no candidates")
    lookup = _lookup(candidates)
    if len(lookup) != len(candidates):
        twice = next(candidate for position, candidate in enumerate(candidates) if candidate in candidates[:position])
        raise InvalidInput(f"candidate {twice!r} is listed twice")
    ballots_obj = obj.get("ballots", [])
    if not isinstance(ballots_obj, list):
        raise InvalidInput("ballots must be a list")
    ballots = [parse_ballot(ballot, lookup, index) for index, ballot in enumerate(ballots_obj)]
    params_obj = obj.get("params")
    if params_obj is None:
        params_obj = {}
    if not isinstance(params_obj, dict):
        raise InvalidInput("params must be an object")
    params = {name: _param_value(value, name) for name, value in params_obj.items()}
    if params.get("tb_order") is not None:
        order = params["tb_order"]
        if not isinstance(order, list):
            raise InvalidInput("parameter tb_order must be a list of candidate ids")
        params["tb_order"] = [_candidate(lookup, entry, "tb_order entry", None) for entry in order]
    return rule, list(candidates), ballots, params


def exact(value: Fraction | int) -> int | str:
    """An exact number for JSON: an int when integral, else a "p/q" string."""
    number = Fraction(value)
    return number.numerator if number.denominator == 1 else f"{number.numerator}/{number.denominator}"


def plain(value: Any) -> Any:
    """Make a details/extra value JSON-able: Fractions exact, tuples as lists, keys as strings."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, Fraction):
        return exact(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Decimal):
        return exact(Fraction(value))
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return [plain(item) for item in items]
    if hasattr(value, "tolist"):
        return plain(value.tolist())
    return str(value)


# Entries of ``details`` and round ``extra`` that refer to candidates by index; they are written
# with candidate ids like the rest of the result. Other entries are written as they are.
CANDIDATE_LIST_KEYS = frozenset({"leaders", "finalists", "tied_at_cutoff", "tb_order", "put_winners", "tied"})
CANDIDATE_KEYS = frozenset({"order_winner"})
PER_CANDIDATE_KEYS = frozenset({"beats", "mean"})  # one value per candidate (a list or an index-keyed dict)
CANDIDATE_MATRIX_KEYS = frozenset({"path_strength"})


def _is_index(value: Any, m: int) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool) and 0 <= int(value) < m


def _named(key: str, value: Any, ids: Sequence[str]) -> Any:
    """One details/extra entry, with candidate indices replaced by ids where the key says they are candidates."""
    m = len(ids)
    if key in CANDIDATE_KEYS and _is_index(value, m):
        return ids[int(value)]
    if key in CANDIDATE_LIST_KEYS and isinstance(value, (list, tuple)) and all(_is_index(v, m) for v in value):
        return [ids[int(v)] for v in value]
    if key in PER_CANDIDATE_KEYS:
        if isinstance(value, Mapping) and all(_is_index(k, m) for k in value):
            return {ids[int(k)]: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)) and len(value) == m:
            return {ids[c]: plain(v) for c, v in enumerate(value)}
    if key in CANDIDATE_MATRIX_KEYS and isinstance(value, (list, tuple)) and len(value) == m:
        if all(isinstance(row, (list, tuple)) and len(row) == m for row in value):
            return {ids[a]: {ids[b]: plain(cell) for b, cell in enumerate(row)} for a, row in enumerate(value)}
    return plain(value)


def _details(entries: Mapping[str, Any], ids: Sequence[str]) -> dict[str, Any]:
    return {str(key): _named(str(key), value, ids) for key, value in entries.items()}


def _by_id(candidate_ids: Sequence[str], tallies: Mapping[int, Any]) -> dict[str, Any]:
    return {candidate_ids[candidate]: plain(amount) for candidate, amount in tallies.items()}


def _round_to_json(step: Round, candidate_ids: Sequence[str]) -> dict[str, Any]:
    return {
        "name": step.name,
        "note": step.note,
        "tallies": _by_id(candidate_ids, step.tallies),
        "eliminated": [candidate_ids[c] for c in step.eliminated],
        "advanced": [candidate_ids[c] for c in step.advanced],
        "winners": [candidate_ids[c] for c in step.winners],
        "extra": _details(step.extra, candidate_ids),
    }


def _certificate(result: Result) -> dict[str, Any] | str | None:
    if result.certificate is None:
        return None
    if result.certificate == UNBOUNDED:
        return UNBOUNDED
    certificate: dict[str, Any] = {"changed_ballots": result.certificate}
    if result.plurality_certificate is not None:
        certificate["plurality"] = result.plurality_certificate
    return certificate


def _float(value: Fraction) -> float:
    """A float beside an exact figure; a figure beyond the float range is refused as input that is too large."""
    try:
        return float(value)
    except OverflowError:
        raise InvalidInput("a result is too large to write as a floating-point number; use smaller numbers") from None


def result_to_json(result: Result, candidate_ids: Sequence[str]) -> dict[str, Any]:
    """Write a Result in the engine's JSON output form, naming candidates by id."""
    ids = list(candidate_ids)
    allocation = None
    allocation_exact = None
    if result.allocation is not None:
        allocation = {ids[c]: _float(amount) for c, amount in enumerate(result.allocation)}
        allocation_exact = {ids[c]: exact(amount) for c, amount in enumerate(result.allocation)}
    pairwise = None
    if result.pairwise is not None:
        pairwise = {
            ids[a]: {ids[b]: exact(cell) for b, cell in enumerate(row)} for a, row in enumerate(result.pairwise)
        }
    return {
        "rule": result.rule,
        "status": result.status,
        "winners": [ids[c] for c in result.winners],
        "ranking": None if result.ranking is None else [ids[c] for c in result.ranking],
        "tie_break": result.tie_break,
        "tallies": _by_id(ids, result.tallies),
        "rounds": [_round_to_json(step, ids) for step in result.rounds],
        "certificate": _certificate(result),
        "outcome": None if result.outcome is None else _float(result.outcome),
        "outcome_exact": None if result.outcome is None else exact(result.outcome),
        "allocation": allocation,
        "allocation_exact": allocation_exact,
        "pairwise": pairwise,
        "details": _details(result.details, ids),
        "warnings": list(result.warnings),
    }


def run_case(obj: Any) -> dict[str, Any]:
    """Parse a case, tally it with its rule and return the JSON result."""
    rule, candidate_ids, ballots, params = parse_case(obj)
    result = aggregation.tally(rule, len(candidate_ids), ballots, params)
    return result_to_json(result, candidate_ids)


def dumps(result: dict[str, Any]) -> str:
    """Serialise a JSON result as one line (no NaN: the engine's numbers are exact or finite)."""
    return json.dumps(result, allow_nan=False, ensure_ascii=False)

"""The table of rules: names, accepted ballot forms, parameters, and how to run each.

Every rule module registers a :class:`RuleSpec` here; the command line, the platform's
question forms and the tests read this one table, so a rule exists in one place only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aggregation.core import Ballot, InvalidInput, Result


class Tally(Protocol):
    """Incremental, mergeable state of one question's ballots under one rule family.

    ``add``/``remove`` take one ballot (remove is how a replaced ballot leaves);
    ``merge`` returns a new tally of both shards; ``result`` equals the batch rule on the
    same ballots; ``to_state``/``from_state`` give a JSON-able snapshot for storage.
    Tallies compare equal when they hold the same ballots up to order.
    """

    def add(self, ballot: Ballot) -> None: ...

    def remove(self, ballot: Ballot) -> None: ...

    def merge(self, other: Tally) -> Tally: ...

    def result(self, params: dict[str, Any]) -> Result: ...

    def to_state(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class ParamSpec:
    """One rule parameter: its default and a sentence that explains it."""

    default: Any
    help: str


@dataclass(frozen=True)
class RuleSpec:
    """A rule as the rest of Plenum sees it.

    ``ballot_forms``: the ballot forms it accepts; ``normalize_params(params, m)`` fills
    defaults and raises InvalidInput on an unknown or impossible parameter;
    ``compute(m, ballots, params)`` is the batch rule on normalized params;
    ``new_tally(m)`` makes an empty incremental tally; ``tally_from_state`` restores one;
    ``check_ballot(ballot, m, params, index)`` raises InvalidInput for a ballot that is
    well formed but not acceptable under these params (a value outside [lo, hi] when the
    params reject, an allocation that does not sum to the total);
    ``tally_from_rankings(m, array)`` builds a tally straight from an (n, m) numpy array
    of complete strict rankings with unit weights (the fast path the benchmark times);
    ``tally_from_values(array)`` does the same for numeric reports.
    """

    name: str
    title: str
    description: str
    ballot_forms: tuple[str, ...]
    params: dict[str, ParamSpec]
    normalize_params: Callable[[dict[str, Any], int], dict[str, Any]]
    compute: Callable[[int, Sequence[Ballot], dict[str, Any]], Result]
    new_tally: Callable[[int], Tally]
    tally_from_state: Callable[[dict[str, Any]], Tally]
    check_ballot: Callable[[Ballot, int, dict[str, Any], int], None] | None = None
    tally_from_rankings: Callable[[int, Any], Tally] | None = None
    tally_from_values: Callable[[Any], Tally] | None = None


RULES: dict[str, RuleSpec] = {}


def register(spec: RuleSpec) -> RuleSpec:
    """Add a rule to the table (called once by each rule module at import)."""
    if spec.name in RULES:
        raise ValueError(f"rule {spec.name!r} registered twice")
    RULES[spec.name] = spec
    return spec


def get_rule(name: str) -> RuleSpec:
    """Look a rule up by name, with a clear error for an unknown one."""
    try:
        return RULES[name]
    except KeyError:
        known = ", ".join(sorted(RULES))
        raise InvalidInput(f"unknown rule {name!r}; known rules: {known}") from None


def check_known_params(rule: str, params: dict[str, Any], known: dict[str, ParamSpec]) -> dict[str, Any]:
    """Refuse unknown parameter names and return params with defaults filled in."""
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise InvalidInput(f"unknown parameter {unknown[0]!r} for rule {rule!r}; known: {', '.join(known) or 'none'}")
    filled = {name: spec.default for name, spec in known.items()}
    filled.update(params)
    return filled

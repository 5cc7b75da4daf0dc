"""Plenum's aggregation engine: social-choice rules over exact arithmetic, no Django.

Use :func:`tally` for a batch result, :func:`get_rule` for a rule's parameters and its
incremental tally, and ``python -m aggregation`` on the command line. The rules follow
``rules-spec.md``; candidates are indices and the index order is the tie-break order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aggregation import borda, irv, phantom, plurality, runoff, schulze  # noqa: F401  (registers the rules)
from aggregation.core import Ballot, InvalidInput, Result, validate_ballot
from aggregation.registry import RULES, RuleSpec, get_rule

__all__ = ["RULES", "Ballot", "InvalidInput", "Result", "RuleSpec", "get_rule", "tally", "check_ballots", "normalize"]


def normalize(rule: str, m: int, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate a rule's parameters for ``m`` candidates and fill in the defaults."""
    if m < 1:
        raise InvalidInput("there are no candidates")
    return get_rule(rule).normalize_params(dict(params or {}), m)


def check_ballots(rule: str, m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> None:
    """Raise InvalidInput, naming the ballot index, for the first ballot the rule cannot take."""
    spec = get_rule(rule)
    for index, ballot in enumerate(ballots):
        validate_ballot(ballot, m, spec.ballot_forms, index)
        if spec.check_ballot is not None:
            spec.check_ballot(ballot, m, params, index)


def tally(rule: str, m: int, ballots: Sequence[Ballot], params: dict[str, Any] | None = None) -> Result:
    """Compute a rule's result over ``m`` candidates from a batch of ballots."""
    normalized = normalize(rule, m, params)
    check_ballots(rule, m, ballots, normalized)
    return get_rule(rule).compute(m, ballots, normalized)

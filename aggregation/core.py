"""Shared vocabulary of the engine: ballots, exact numbers, results, errors.

Every rule module speaks in these types so that the command line, the platform
and the tests can treat all rules alike. Candidates are indices ``0..m-1``; the
index order is the canonical tie-break order (rules-spec §0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

STATUSES = (
    "winner",
    "winner_by_tiebreak",
    "tie",
    "threshold_not_met",
    "no_quorum",
    "no_valid_votes",
    "no_ballots",
    "no_reports",
    "no_samples",
    "empty_candidate_set",
)

UNBOUNDED = "unbounded"


class InvalidInput(ValueError):
    """Input the engine refuses; names the ballot index when one ballot is at fault."""

    def __init__(self, message: str, ballot_index: int | None = None) -> None:
        self.message = message
        self.ballot_index = ballot_index
        super().__init__(f"ballot {ballot_index}: {message}" if ballot_index is not None else message)


def to_fraction(value: Any, what: str = "number", ballot_index: int | None = None) -> Fraction:
    """Convert an int, a "p/q" or decimal string, a Decimal or a float exactly to a Fraction.

    Floats are taken from their shortest decimal representation (so 0.1 is 1/10), which
    is what a JSON document meant. NaN, infinities and booleans are refused.
    """
    if isinstance(value, bool):
        raise InvalidInput(f"{what} must be a number, not {value!r}", ballot_index)
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, Fraction):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{what} must be finite, got {value!r}", ballot_index)
        return Fraction(repr(value))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InvalidInput(f"{what} must be finite, got {value}", ballot_index)
        return Fraction(value)
    if isinstance(value, str):
        text = value.strip()
        try:
            result = Fraction(text)
        except (ValueError, ZeroDivisionError):
            raise InvalidInput(f"{what} {value!r} is not a number or a 'p/q' fraction", ballot_index) from None
        return result
    raise InvalidInput(f"{what} must be a number, not {type(value).__name__}", ballot_index)


def to_weight(value: Any, ballot_index: int | None = None) -> Fraction:
    """Parse a ballot weight: a non-negative int or "p/q" string; floats are refused (§0)."""
    if isinstance(value, (float, Decimal)):
        raise InvalidInput(f"weight must be an integer or a 'p/q' string, not the float {value}", ballot_index)
    if isinstance(value, str) and any(ch in value.lower() for ch in ".en"):
        raise InvalidInput(f"weight must be an integer or a 'p/q' string, not {value!r}", ballot_index)
    weight = to_fraction(value, "weight", ballot_index)
    if weight < 0:
        raise InvalidInput(f"weight must not be negative, got {value}", ballot_index)
    return weight


@dataclass(frozen=True, slots=True)
class Ballot:
    """One ballot in engine form: exactly one of the content fields is set.

    ``choice``: a candidate index or None (an explicit abstention) — set together with
    ``is_choice``; ``ranking``: candidate indices best first, possibly partial;
    ``scores``: one exact score per candidate (higher is better); ``value``: a number;
    ``allocation``: one exact amount per candidate.
    """

    weight: Fraction = Fraction(1)
    choice: int | None = None
    is_choice: bool = False
    ranking: tuple[int, ...] | None = None
    scores: tuple[Fraction, ...] | None = None
    value: Fraction | None = None
    allocation: tuple[Fraction, ...] | None = None

    @property
    def kind(self) -> str:
        """Which ballot form this is: choice, ranking, scores, value or allocation."""
        if self.is_choice:
            return "choice"
        for name in ("ranking", "scores", "value", "allocation"):
            if getattr(self, name) is not None:
                return name
        raise InvalidInput("empty ballot")

    def as_ranking(self) -> tuple[int, ...]:
        """The ballot as a (possibly empty or partial) ranking; a choice is a ranking of length one."""
        if self.is_choice:
            return () if self.choice is None else (self.choice,)
        if self.ranking is not None:
            return self.ranking
        raise InvalidInput(f"a {self.kind} ballot has no ranking")

    def top_choice(self) -> int | None:
        """First choice of a choice or ranking ballot; None when it abstains."""
        ranking = self.as_ranking()
        return ranking[0] if ranking else None


def common_weight(weights: Mapping[Fraction, int]) -> Fraction | None:
    """The weight every ballot carries when all held ballots weigh the same positive amount, else None.

    Certificates count changed ballots, so the rules that have one need equal weights.
    """
    if len(weights) == 1:
        (weight,) = weights
        if weight > 0:
            return weight
    return None


def choice(candidate: int | None, weight: Fraction | int = 1) -> Ballot:
    """A single-choice ballot (None abstains)."""
    return Ballot(weight=Fraction(weight), choice=candidate, is_choice=True)


def ranked(order: tuple[int, ...] | list[int], weight: Fraction | int = 1) -> Ballot:
    """A ranking ballot, best first."""
    return Ballot(weight=Fraction(weight), ranking=tuple(order))


def scored(scores: tuple[Fraction, ...] | list[Any], weight: Fraction | int = 1) -> Ballot:
    """A score-vector ballot, one score per candidate."""
    return Ballot(weight=Fraction(weight), scores=tuple(to_fraction(s, "score") for s in scores))


def valued(value: Any, weight: Fraction | int = 1) -> Ballot:
    """A numeric report."""
    return Ballot(weight=Fraction(weight), value=to_fraction(value, "value"))


def allocated(amounts: tuple[Any, ...] | list[Any], weight: Fraction | int = 1) -> Ballot:
    """A budget allocation, one amount per candidate."""
    return Ballot(weight=Fraction(weight), allocation=tuple(to_fraction(a, "amount") for a in amounts))


@dataclass
class Round:
    """One step of a rule, told so that a results page can explain it.

    ``tallies`` maps candidate index to the count shown for this step; ``note`` says in
    plain words what happened; ``extra`` carries non-candidate figures (active weight,
    exhausted weight, bases) as exact numbers or strings.
    """

    name: str
    note: str
    tallies: dict[int, Fraction] = field(default_factory=dict)
    eliminated: list[int] = field(default_factory=list)
    advanced: list[int] = field(default_factory=list)
    winners: list[int] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """What a rule returns: status, sorted winners, tallies, rounds, tie-break and certificate.

    ``certificate`` is an int R ("stands even if any R ballots are changed"), the string
    ``"unbounded"``, or None where the spec defines none. ``plurality_certificate`` is set
    by the run-off rule only. ``ranking`` orders all candidates where the rule does.
    ``pairwise`` is the weighted head-to-head matrix where the rule uses one.
    """

    rule: str
    status: str
    winners: list[int]
    tallies: dict[int, Fraction] = field(default_factory=dict)
    rounds: list[Round] = field(default_factory=list)
    ranking: list[int] | None = None
    tie_break: str | None = None
    certificate: int | str | None = None
    plurality_certificate: int | str | None = None
    outcome: Fraction | None = None
    allocation: list[Fraction] | None = None
    pairwise: list[list[Fraction]] | None = None
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r}")
        self.winners = sorted(self.winners)


def validate_ballot(ballot: Ballot, m: int, forms: tuple[str, ...], index: int) -> None:
    """Check a ballot's form and candidate indices against ``m`` candidates; raise InvalidInput.

    Shared by every rule so that a ballot is judged by the same code whichever way it
    arrives (command line, web form, API, agent).
    """
    kind = ballot.kind
    if kind not in forms:
        raise InvalidInput(f"a {kind} ballot is not accepted here; expected {' or '.join(forms)}", index)
    if ballot.weight < 0:
        raise InvalidInput("weight must not be negative", index)
    if kind == "choice":
        if ballot.choice is not None and not 0 <= ballot.choice < m:
            raise InvalidInput(f"choice {ballot.choice} is not a candidate", index)
    elif kind == "ranking":
        seen: set[int] = set()
        for candidate in ballot.ranking or ():
            if not 0 <= candidate < m:
                raise InvalidInput(f"ranking names {candidate}, which is not a candidate", index)
            if candidate in seen:
                raise InvalidInput(f"ranking names candidate {candidate} twice", index)
            seen.add(candidate)
    elif kind in ("scores", "allocation"):
        vector = ballot.scores if kind == "scores" else ballot.allocation
        if vector is None or len(vector) != m:
            raise InvalidInput(f"{kind} must give one number per candidate ({m})", index)
        if kind == "allocation" and any(amount < 0 for amount in vector):
            raise InvalidInput("allocation amounts must not be negative", index)

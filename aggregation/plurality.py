"""Plurality and majority over single choices, with quorum, thresholds and the DPA certificate.

Rules-spec §1. A ballot is a choice or a ranking (only its top choice counts); a null choice
or an empty ranking is an explicit abstention: it is cast (it counts toward ``W_cast`` and a
quorum) but not valid. Two rules share one tally:

* ``plurality``: the candidates with the most weight lead; ties are reported or broken by
  index. Reports the §2.4 plurality (DPA) certificate when every ballot weighs the same.
* ``majority``: a candidate wins only past a threshold (absolute majority by default, or a
  supermajority) of a base (valid, cast or eligible weight); no certificate (none in the spec).

Every comparison that decides a tie, a threshold or a quorum is exact (Fractions).

The certificate R ("the winners stand even if any R ballots are changed, added or removed")
follows §2.4 where the spec's model holds and is made sound where a ballot here can do more
than in DPA, where every voter names a class: with one candidate, blanking every ballot that
names it leaves no valid vote, so R = (its ballots) - 1 instead of "unbounded"; with
tie_break "none" a tie for first is already a different result, so rivals count one ballot
nearer; with a quorum, R is capped by how many ballots may leave before the quorum fails; a
tie itself has R = 0.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from fractions import Fraction
from functools import partial
from typing import Any, Self

import numpy as np

from aggregation.core import UNBOUNDED, Ballot, InvalidInput, Result, Round, common_weight, to_fraction, validate_ballot
from aggregation.pairwise import check_indices, exact_number
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

CHOICE_FORMS = ("choice", "ranking")
TIE_BREAKS = ("none", "lowest_index")
BASES = ("valid", "cast", "eligible")
QUORUM_TYPES = ("count", "fraction_of_eligible")

_TIE_BREAK = ParamSpec(
    "none",
    'What to do when candidates share the highest count: "none" (default) reports a tie; '
    '"lowest_index" gives it to the candidate listed first.',
)
_QUORUM = ParamSpec(
    None,
    'Minimum turnout, checked before anything else: null (default, no quorum), {"type": "count", '
    '"value": W} for a total weight (the number of ballots when all weigh 1), or {"type": '
    '"fraction_of_eligible", "value": f} for f (0 to 1) times eligible_weight.',
)
_QUORUM_COUNTS_ABSTENTIONS = ParamSpec(
    True,
    "Whether abstentions (blank ballots) count toward the quorum (default true); if false only valid votes do.",
)
_ELIGIBLE_WEIGHT = ParamSpec(
    None,
    "Total weight of everyone entitled to vote (default null); needed for base=eligible and a "
    "fraction_of_eligible quorum, and must be at least the weight actually cast.",
)

PLURALITY_PARAMS = {
    "tie_break": _TIE_BREAK,
    "quorum": _QUORUM,
    "quorum_counts_abstentions": _QUORUM_COUNTS_ABSTENTIONS,
    "eligible_weight": _ELIGIBLE_WEIGHT,
}

MAJORITY_PARAMS = {
    "threshold": ParamSpec(
        "absolute_majority",
        'What a winner needs: "absolute_majority" (default; strictly more than half of the base, '
        'so exactly half is not enough), {"supermajority": q} with 1/2 < q <= 1 (at least q of the '
        'base, e.g. "2/3"), or "plurality" (the most votes, no threshold).',
    ),
    "base": ParamSpec(
        "valid",
        'What the threshold is a share of: "valid" (default; abstentions do not count), "cast" '
        '(abstentions count against every candidate) or "eligible" (eligible_weight; not voting counts against).',
    ),
    "strict_supermajority": ParamSpec(
        False,
        "If true a supermajority must be strictly more than q of the base; default false (at least q).",
    ),
    **PLURALITY_PARAMS,
}


def _number(value: Any, what: str) -> Fraction:
    if value is None:
        raise InvalidInput(f"{what} must be a number")
    return to_fraction(value, what)


def _flag(filled: dict[str, Any], name: str) -> None:
    if not isinstance(filled[name], bool):
        raise InvalidInput(f"{name} must be true or false, not {filled[name]!r}")


def _normalize(rule: str, known: dict[str, ParamSpec], params: dict[str, Any]) -> dict[str, Any]:
    """Check every parameter of ``known`` and write numbers exactly (ints or "p/q" strings)."""
    filled = check_known_params(rule, params, known)
    if filled["tie_break"] not in TIE_BREAKS:
        raise InvalidInput(f"tie_break must be one of {', '.join(TIE_BREAKS)}, not {filled['tie_break']!r}")
    _flag(filled, "quorum_counts_abstentions")
    if filled["eligible_weight"] is not None:
        eligible = _number(filled["eligible_weight"], "eligible_weight")
        if eligible <= 0:
            raise InvalidInput(f"eligible_weight must be positive, not {filled['eligible_weight']}")
        filled["eligible_weight"] = exact_number(eligible)
    quorum = filled["quorum"]
    if quorum is not None:
        if not isinstance(quorum, dict) or set(quorum) != {"type", "value"}:
            raise InvalidInput('quorum must be null or {"type": "count" | "fraction_of_eligible", "value": number}')
        if quorum["type"] not in QUORUM_TYPES:
            raise InvalidInput(f"quorum type must be one of {', '.join(QUORUM_TYPES)}, not {quorum['type']!r}")
        value = _number(quorum["value"], "quorum value")
        if value < 0:
            raise InvalidInput(f"quorum value must not be negative, not {quorum['value']}")
        if quorum["type"] == "fraction_of_eligible":
            if value > 1:
                raise InvalidInput(f"a fraction_of_eligible quorum must be between 0 and 1, not {quorum['value']}")
            if filled["eligible_weight"] is None:
                raise InvalidInput("a fraction_of_eligible quorum needs eligible_weight")
        filled["quorum"] = {"type": quorum["type"], "value": exact_number(value)}
    if "threshold" in known:
        filled["threshold"] = _normalize_threshold(filled["threshold"])
        _flag(filled, "strict_supermajority")
        if filled["base"] not in BASES:
            raise InvalidInput(f"base must be one of {', '.join(BASES)}, not {filled['base']!r}")
        if filled["base"] == "eligible" and filled["eligible_weight"] is None:
            raise InvalidInput("base eligible needs eligible_weight")
    return filled


def _normalize_threshold(threshold: Any) -> str | dict[str, int | str]:
    if threshold in ("plurality", "absolute_majority"):
        return threshold
    if isinstance(threshold, dict) and set(threshold) == {"supermajority"}:
        q = _number(threshold["supermajority"], "supermajority")
        if not Fraction(1, 2) < q <= 1:
            raise InvalidInput(f"supermajority must be more than 1/2 and at most 1, not {threshold['supermajority']}")
        return {"supermajority": exact_number(q)}
    raise InvalidInput(
        f'threshold must be "plurality", "absolute_majority" or {{"supermajority": q}}, not {threshold!r}'
    )


def normalize_plurality(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill defaults for ``plurality`` and refuse unknown or impossible parameters."""
    return _normalize("plurality", PLURALITY_PARAMS, params)


def normalize_majority(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill defaults for ``majority`` and refuse unknown or impossible parameters."""
    return _normalize("majority", MAJORITY_PARAMS, params)


def plurality_certificate(counts: Sequence[int], winner: int, *, strict: bool = False) -> int | str:
    """The §2.4 plurality (DPA) certificate: changed ballots the plurality winner survives.

    ``counts`` are first-place ballot counts and ``winner`` the plurality winner under the
    lowest-index tie rule: ``floor((N[w] - max_{c != w} (N[c] + [c < w])) / 2)``. With
    ``strict`` a tie for first is itself a different outcome (tie_break none), so every
    rival needs one ballot less. One candidate: "unbounded".
    """
    if len(counts) == 1:
        return UNBOUNDED
    runner_up = max(counts[c] + (1 if strict or c < winner else 0) for c in range(len(counts)) if c != winner)
    return (counts[winner] - runner_up) // 2


class ChoiceTally:
    """Incremental tally of single choices: weight per candidate, abstentions, weights held.

    ``rule`` ("plurality" or "majority") decides how :meth:`result` reads it.
    """

    def __init__(self, m: int, rule: str = "plurality") -> None:
        if m < 1:
            raise InvalidInput("there are no candidates")
        self.m = m
        self.rule = rule
        self.counts: list[Fraction] = [Fraction(0)] * m
        self.abstained = Fraction(0)
        self.weights: Counter[Fraction] = Counter()

    @property
    def common_weight(self) -> Fraction | None:
        """The weight every ballot carries when all weights are equal and positive, else None."""
        return common_weight(self.weights)

    def add(self, ballot: Ballot) -> None:
        """Count one ballot."""
        self._apply(ballot, 1)

    def remove(self, ballot: Ballot) -> None:
        """Take back one ballot counted earlier."""
        self._apply(ballot, -1)

    def _apply(self, ballot: Ballot, times: int) -> None:
        validate_ballot(ballot, self.m, CHOICE_FORMS, None)  # type: ignore[arg-type]
        weight = ballot.weight
        top = ballot.top_choice()
        held = self.abstained if top is None else self.counts[top]
        if times < 0 and (self.weights[weight] < -times or held < weight * -times):
            raise InvalidInput("cannot remove a ballot that is not in the tally")
        if top is None:
            self.abstained += weight * times
        else:
            self.counts[top] += weight * times
        self.weights[weight] += times
        if self.weights[weight] == 0:
            del self.weights[weight]

    def merge(self, other: ChoiceTally) -> ChoiceTally:
        """A new tally holding the ballots of both."""
        if not isinstance(other, ChoiceTally) or other.m != self.m:
            raise InvalidInput("can only merge tallies of the same kind over the same candidates")
        merged = ChoiceTally(self.m, self.rule)
        merged.counts = [a + b for a, b in zip(self.counts, other.counts, strict=True)]
        merged.abstained = self.abstained + other.abstained
        merged.weights = self.weights + other.weights
        return merged

    def result(self, params: dict[str, Any]) -> Result:
        """The rule's result from the tally alone (O(m), independent of the ballot count)."""
        normalize = normalize_majority if self.rule == "majority" else normalize_plurality
        return choice_result(self, normalize(dict(params), self.m))

    def to_state(self) -> dict[str, Any]:
        """A JSON-able snapshot; equal ballots give equal snapshots whatever the order."""
        return {
            "m": self.m,
            "weights": [[exact_number(weight), count] for weight, count in sorted(self.weights.items())],
            "counts": [exact_number(value) for value in self.counts],
            "abstained": exact_number(self.abstained),
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], rule: str = "plurality") -> Self:
        """Restore a tally from :meth:`to_state`'s snapshot."""
        try:
            tally = cls(int(state["m"]), rule)
            tally.weights = Counter({to_fraction(weight, "weight"): int(count) for weight, count in state["weights"]})
            tally.counts = [to_fraction(value, "tally") for value in state["counts"]]
            tally.abstained = to_fraction(state["abstained"], "tally")
        except (KeyError, TypeError, ValueError) as error:
            raise InvalidInput(f"not a choice tally snapshot: {error}") from None
        if len(tally.counts) != tally.m:
            raise InvalidInput("not a choice tally snapshot: counts do not match m")
        return tally

    @classmethod
    def from_ballots(cls, m: int, ballots: Iterable[Ballot], rule: str = "plurality") -> Self:
        """Tally a batch of ballots, counting equal ballots together."""
        tally = cls(m, rule)
        for ballot, times in Counter(ballots).items():
            tally._apply(ballot, times)
        return tally

    @classmethod
    def from_rankings(cls, m: int, rankings: Any, rule: str = "plurality") -> Self:
        """Tally the top choices of an (n, m) integer array of rankings (best first), unit weights.

        Only the first column is read (and checked); the rest of a row cannot change the count.
        """
        array = np.asarray(rankings)
        if array.ndim != 2 or array.shape[1] != m:
            raise InvalidInput(f"rankings must be an (n, {m}) array, got shape {array.shape}")
        if array.shape[0] and not np.issubdtype(array.dtype, np.integer):
            raise InvalidInput(f"rankings must hold candidate indices (integers), got {array.dtype}")
        tally = cls(m, rule)
        if array.shape[0] == 0:
            return tally
        tops = array[:, 0]
        check_indices(tops, m)
        tally.counts = [Fraction(int(count)) for count in np.bincount(tops, minlength=m)]
        tally.weights = Counter({Fraction(1): array.shape[0]})
        return tally

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ChoiceTally):
            return NotImplemented
        return self.to_state() == other.to_state()

    __hash__ = None  # type: ignore[assignment]


def choice_result(tally: ChoiceTally, params: dict[str, Any]) -> Result:
    """Apply rules-spec §1 to a choice tally with normalized params."""
    rule = tally.rule
    m = tally.m
    counts = list(tally.counts)
    valid = sum(counts, Fraction(0))
    cast = valid + tally.abstained
    threshold = params.get("threshold", "plurality")
    base = params.get("base", "valid")
    strict = params.get("strict_supermajority", False)
    eligible = None if params["eligible_weight"] is None else Fraction(params["eligible_weight"])
    quorum = params["quorum"]
    ballots = sum(tally.weights.values())
    details: dict[str, Any] = {"ballots": ballots, "W_cast": cast, "W_valid": valid, "abstained": tally.abstained}
    tallies = dict(enumerate(counts))
    turnout = f"{ballots} ballot{'s' if ballots != 1 else ''} cast (weight {cast}): valid weight {valid}, abstentions {tally.abstained}."

    uses_eligible = (threshold != "plurality" and base == "eligible") or (
        quorum is not None and quorum["type"] == "fraction_of_eligible"
    )
    if uses_eligible and eligible is not None and cast > eligible:
        raise InvalidInput(f"eligible_weight {eligible} is less than the weight cast, {cast}")

    present = None
    required_quorum = None
    if quorum is not None:
        required_quorum = Fraction(quorum["value"]) * (eligible if quorum["type"] == "fraction_of_eligible" else 1)
        present = cast if params["quorum_counts_abstentions"] else valid
        details.update({"quorum_required": required_quorum, "quorum_present": present})
        if present < required_quorum:
            note = f"{turnout} The quorum needs weight {required_quorum} present and only {present} is, so there is no result."
            return _result(rule, "no_quorum", [], tallies, note, details)
        turnout += f" The quorum of {required_quorum} is met ({present} present)."
    if valid == 0:
        note = f"{turnout} No valid vote was cast, so there is no result."
        return _result(rule, "no_valid_votes", [], tallies, note, details)

    top = max(counts)
    leaders = [c for c in range(m) if counts[c] == top]
    ranking = sorted(range(m), key=lambda c: (-counts[c], c))
    details["leaders"] = leaders
    lead = f"The highest count is {top}" + (f", shared by {len(leaders)} candidates" if len(leaders) > 1 else "") + "."

    if threshold == "plurality":
        if len(leaders) == 1:
            status, winners, outcome = "winner", leaders, "It wins."
        elif params["tie_break"] == "lowest_index":
            status, winners, outcome = "winner_by_tiebreak", [leaders[0]], "The tie goes to the one listed first."
        else:
            status, winners, outcome = "tie", leaders, "They are tied."
    else:
        base_weight = {"valid": valid, "cast": cast, "eligible": eligible}[base]
        details.update({"threshold": threshold, "base": base, "base_weight": base_weight})
        if threshold == "absolute_majority":
            details["required_more_than"] = base_weight / 2
            qualifies = [c for c in range(m) if 2 * counts[c] > base_weight]
            need = f"more than half of the {base} weight {base_weight}, i.e. more than {base_weight / 2}"
        else:
            bar = Fraction(threshold["supermajority"]) * base_weight
            details["required_more_than" if strict else "required_at_least"] = bar
            qualifies = [c for c in range(m) if (counts[c] > bar if strict else counts[c] >= bar)]
            need = f"{'more than' if strict else 'at least'} {threshold['supermajority']} of the {base} weight {base_weight}, i.e. {bar}"
        if qualifies:
            status, winners, outcome = "winner", qualifies, f"Winning needs {need}; the leader has it and wins."
        else:
            status, winners = "threshold_not_met", []
            outcome = f"Winning needs {need}; no candidate reaches it, so nobody wins."

    note = f"{turnout} {lead} {outcome}"
    result = _result(rule, status, winners, tallies, note, details, ranking=ranking)
    if status == "winner_by_tiebreak":
        result.tie_break = "lowest_index"
    if rule == "plurality":
        _certify(result, tally, leaders, params["tie_break"], present, required_quorum)
    return result


def _result(
    rule: str,
    status: str,
    winners: list[int],
    tallies: dict[int, Fraction],
    note: str,
    details: dict[str, Any],
    ranking: list[int] | None = None,
) -> Result:
    count = Round("Count", note, tallies=dict(tallies), winners=list(winners), extra=dict(details))
    return Result(rule, status, winners, tallies=tallies, rounds=[count], ranking=ranking, details=details)


def _certify(
    result: Result,
    tally: ChoiceTally,
    leaders: list[int],
    tie_break: str,
    present: Fraction | None,
    required_quorum: Fraction | None,
) -> None:
    """Set the §2.4 certificate (in ballots) when all ballots weigh the same.

    Beyond the spec's formula (module docstring): one candidate falls only when every ballot
    naming it is blanked, a tie_break of "none" makes a tie for first a change, and a quorum
    falls once enough ballots leave the present weight.
    """
    weight = tally.common_weight
    if weight is None:
        result.details["certificate_rule"] = "none: ballots carry different weights, so there is no ballot count"
        return
    counts = [int(value / weight) for value in tally.counts]
    if result.status == "tie":
        certificate = 0
    elif tally.m == 1:
        certificate = counts[0] - 1
    else:
        certificate = int(plurality_certificate(counts, leaders[0], strict=tie_break == "none"))
    if present is not None and required_quorum is not None:
        certificate = min(certificate, math.floor((present - required_quorum) / weight))
    result.certificate = certificate
    result.details["certificate_rule"] = "plurality (DPA, rules-spec §2.4), in changed ballots"


def _compute(rule: str, m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    return ChoiceTally.from_ballots(m, ballots, rule).result(params)


def _register(rule: str, title: str, description: str, params: dict[str, ParamSpec], normalize: Any) -> RuleSpec:
    return register(
        RuleSpec(
            name=rule,
            title=title,
            description=description,
            ballot_forms=CHOICE_FORMS,
            params=params,
            normalize_params=normalize,
            compute=partial(_compute, rule),
            new_tally=partial(ChoiceTally, rule=rule),
            tally_from_state=partial(ChoiceTally.from_state, rule=rule),
            tally_from_rankings=partial(ChoiceTally.from_rankings, rule=rule),
        )
    )


PLURALITY = _register(
    "plurality",
    "Plurality",
    "The option with the most votes wins; a blank ballot abstains. Reports how many changed "
    "ballots the result survives when every ballot weighs the same.",
    PLURALITY_PARAMS,
    normalize_plurality,
)

MAJORITY = _register(
    "majority",
    "Majority",
    "An option wins only with more than half of the votes (or a chosen supermajority) of the "
    "valid, cast or eligible weight; otherwise nobody wins.",
    MAJORITY_PARAMS,
    normalize_majority,
)

"""Borda / rank-sum over possibly truncated, weighted rankings (rules-spec §3.2).

A ballot ranking ``k`` of the ``m`` candidates gives the candidate in position ``p``
(0 = best) ``m - 1 - p`` points and each candidate it leaves unranked ``(m - 1 - k) / 2``
points, the average of the unused ones ([SPEC CHOICE]; ``2·score - (m - 1)·n`` is then
pref-voting's symmetric Borda score). Scores are weighted sums in exact arithmetic.
Winners are all maximisers; ``tie_break = "lowest_index"`` keeps the lowest index
(status ``winner_by_tiebreak`` when it did break a tie). ``ranking`` orders candidates
by ``(-score, index)``; ``tallies`` are the scores; one round lists them. Zero ballots,
or none that ranks anyone (weight > 0), give ``no_ballots``. No certificate.

The tally keeps position counts: ``positions[c][p]`` = weight of ballots ranking ``c`` in
position ``p``, and, for truncated ballots, ``unranked[c][k]`` = weight of ballots of
length ``k`` that leave ``c`` unranked (plus ``lengths[k]``, the weight of ballots of length
``k``). That is all any positional score needs, and an update is O(m).
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from aggregation.core import Ballot, InvalidInput, Result, Round
from aggregation.irv import (
    FORMS,
    Weight,
    compress_rankings,
    parse_weight_text,
    plain_weight,
    ranking_of,
    weight_text,
    weighted_bincount,
)
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

TIE_BREAKS = ("none", "lowest_index")


class BordaTally:
    """Incremental Borda tally: position counts per candidate, unranked weight per ballot length."""

    def __init__(self, m: int) -> None:
        self.m = m
        self.positions: list[list[Weight]] = [[0] * m for _ in range(m)]
        self.unranked: list[list[Weight]] = [[0] * (m + 1) for _ in range(m)]
        self.lengths: list[Weight] = [0] * (m + 1)

    @classmethod
    def from_rankings(cls, m: int, array: Any) -> BordaTally:
        """A tally of an (n, m) array of complete strict rankings with unit weights (the fast path)."""
        distinct, counts = compress_rankings(m, array)
        tally = cls(m)
        n = int(counts.sum())
        if n:
            cells = distinct.astype(np.intp) + np.arange(m, dtype=np.intp) * m  # position * m + candidate
            sums = weighted_bincount(cells.ravel(), np.repeat(counts, m), n * m, m * m)
            tally.positions = [sums[candidate::m] for candidate in range(m)]
            tally.lengths[m] = n
        return tally

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> BordaTally:
        """Restore a tally from :meth:`to_state` output; InvalidInput on a malformed state."""
        if not isinstance(state, dict) or not isinstance(state.get("m"), int) or state["m"] < 1:
            raise InvalidInput("tally state must be an object with a positive candidate count m")
        m = state["m"]
        tally = cls(m)
        tally.positions = _matrix(state.get("positions"), m, m, "positions")
        tally.unranked = _matrix(state.get("unranked"), m, m + 1, "unranked")
        tally.lengths = _matrix([state.get("lengths")], 1, m + 1, "lengths")[0]
        for p in range(m):
            if sum(row[p] for row in tally.positions) != sum(tally.lengths[p + 1 :]):
                raise InvalidInput(f"tally state: position {p} counts do not match the ballot lengths")
        for k in range(m + 1):
            if sum(row[k] for row in tally.unranked) != (m - k) * tally.lengths[k]:
                raise InvalidInput(f"tally state: unranked weights of length-{k} ballots do not match their count")
        return tally

    def to_state(self) -> dict[str, Any]:
        """JSON-able snapshot: m, the position counts, unranked weights and length weights as exact strings."""
        return {
            "m": self.m,
            "positions": [[weight_text(w) for w in row] for row in self.positions],
            "unranked": [[weight_text(w) for w in row] for row in self.unranked],
            "lengths": [weight_text(w) for w in self.lengths],
        }

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BordaTally):
            return NotImplemented
        return (self.m, self.positions, self.unranked, self.lengths) == (
            other.m,
            other.positions,
            other.unranked,
            other.lengths,
        )

    __hash__ = None  # type: ignore[assignment]

    def add(self, ballot: Ballot) -> None:
        """Count one more ballot."""
        self._change(ranking_of(ballot, self.m), plain_weight(ballot.weight))

    def remove(self, ballot: Ballot) -> None:
        """Take back a ballot counted before; InvalidInput if the counts show it cannot be held."""
        key = ranking_of(ballot, self.m)
        weight = plain_weight(ballot.weight)
        if weight:
            k = len(key)
            short = self.lengths[k] < weight or any(self.positions[c][p] < weight for p, c in enumerate(key))
            if short or any(self.unranked[c][k] < weight for c in set(range(self.m)) - set(key)):
                raise InvalidInput("cannot remove a ballot that this tally does not hold")
        self._change(key, -weight)

    def merge(self, other: BordaTally) -> BordaTally:
        """A new tally holding both tallies' ballots."""
        if not isinstance(other, BordaTally) or other.m != self.m:
            raise InvalidInput("can only merge Borda tallies over the same candidates")
        merged = BordaTally(self.m)
        merged.positions = [
            [a + b for a, b in zip(x, y, strict=True)] for x, y in zip(self.positions, other.positions, strict=True)
        ]
        merged.unranked = [
            [a + b for a, b in zip(x, y, strict=True)] for x, y in zip(self.unranked, other.unranked, strict=True)
        ]
        merged.lengths = [a + b for a, b in zip(self.lengths, other.lengths, strict=True)]
        return merged

    def _change(self, key: tuple[int, ...], change: Weight) -> None:
        if change == 0:
            return
        k = len(key)
        for position, candidate in enumerate(key):
            self.positions[candidate][position] += change
        if k < self.m:
            ranked = set(key)
            for candidate in range(self.m):
                if candidate not in ranked:
                    self.unranked[candidate][k] += change
        self.lengths[k] += change

    def scores(self) -> list[Fraction]:
        """Each candidate's exact Borda score."""
        m = self.m
        doubled_points = [2 * (m - 1 - p) for p in range(m)]
        shared_points = [m - 1 - k for k in range(m + 1)]
        scores = []
        for candidate in range(m):
            doubled = sum(points * w for points, w in zip(doubled_points, self.positions[candidate], strict=True) if w)
            doubled += sum(points * w for points, w in zip(shared_points, self.unranked[candidate], strict=True) if w)
            scores.append(Fraction(doubled, 2) if isinstance(doubled, int) else doubled / 2)
        return scores

    def result(self, params: dict[str, Any]) -> Result:
        """The Borda result of the ballots held, under (normalized or raw) ``params``."""
        params = normalize_params(params, self.m)
        m = self.m
        details: dict[str, Any] = {"tie_break": params["tie_break"]}
        ballots = sum(self.lengths[1:])
        if not ballots:
            note = "No ballot ranks any candidate." if self.lengths[0] else "No ballots."
            return Result("borda", "no_ballots", [], rounds=[Round("No ballots", note)], details=details)
        scores = self.scores()
        tallies = dict(enumerate(scores))
        best = max(scores)
        tied = [c for c in range(m) if scores[c] == best]
        ranking = sorted(range(m), key=lambda c: (-scores[c], c))
        truncated = sum(self.lengths[1:m])
        note = (
            f"Each ballot gives {m - 1} points to its first choice, {max(m - 2, 0)} to its second, and so on "
            "down to 0; candidates a ballot leaves unranked share its unused points equally. "
            f"Highest score: {plain_weight(best)}."
        )
        extra = {"ballots": Fraction(ballots), "truncated": Fraction(truncated), "empty": Fraction(self.lengths[0])}
        status = "winner"
        tie_break = None
        winners = tied
        if len(tied) > 1 and params["tie_break"] == "lowest_index":
            winners, status, tie_break = [tied[0]], "winner_by_tiebreak", "lowest_index"
            details["tied"] = tied
            note += f" {len(tied)} candidates share it; the one listed first wins."
        elif len(tied) > 1:
            status = "tie"
            note += f" {len(tied)} candidates share it: a tie."
        rounds = [Round("Borda scores", note, tallies, winners=winners, extra=extra)]
        return Result(
            "borda",
            status,
            winners,
            tallies=tallies,
            rounds=rounds,
            ranking=ranking,
            tie_break=tie_break,
            details=details,
        )


def _matrix(rows: Any, height: int, width: int, what: str) -> list[list[Weight]]:
    if not isinstance(rows, list) or len(rows) != height:
        raise InvalidInput(f"tally state: {what} must be a list of {height} rows")
    matrix = []
    for row in rows:
        if not isinstance(row, list) or len(row) != width:
            raise InvalidInput(f"tally state: each row of {what} must hold {width} numbers")
        matrix.append([parse_weight_text(cell, what) for cell in row])
    return matrix


PARAMS = {
    "tie_break": ParamSpec(
        "none",
        "What to do when several options share the highest score: 'none' reports a tie; "
        "'lowest_index' picks the one listed first.",
    ),
}


def normalize_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill defaults and check tie_break; InvalidInput on an unknown or bad parameter."""
    filled = check_known_params("borda", params, PARAMS)
    if filled["tie_break"] not in TIE_BREAKS:
        raise InvalidInput(f"parameter tie_break must be one of {', '.join(TIE_BREAKS)}; got {filled['tie_break']!r}")
    return filled


def compute(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch Borda: tally the ballots, then score."""
    tally = BordaTally(m)
    for ballot in ballots:
        tally.add(ballot)
    return tally.result(params)


SPEC = register(
    RuleSpec(
        name="borda",
        title="Borda count",
        description=(
            "Voters rank the options. With m options, a first choice earns m-1 points, a second m-2, "
            "and so on; options a ballot leaves unranked share the unused points. Most points wins."
        ),
        ballot_forms=FORMS,
        params=PARAMS,
        normalize_params=normalize_params,
        compute=compute,
        new_tally=BordaTally,
        tally_from_state=BordaTally.from_state,
        tally_from_rankings=BordaTally.from_rankings,
    )
)

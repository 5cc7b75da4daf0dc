"""The Schulze method (beat-path) over rankings, with winning-votes path strengths.

``d[a][b]`` is the weight of ballots that rank ``a`` above ``b`` (unranked candidates tie
below every ranked one; a choice is a ranking of length one; an empty ballot prefers
nothing). ``a`` defeats ``b`` directly with strength ``d[a][b]`` when ``d[a][b] > d[b][a]``;
a path is as strong as its weakest defeat, and the strongest paths ``p`` come from
Floyd–Warshall. ``a`` beats ``b`` when ``p[a][b] > p[b][a]``; the winners are the candidates
nobody beats. The full ranking orders candidates by how many rivals they beat, then by index
(beat-path is transitive, so this is its order with ties listed by index).

For complete rankings this is exactly pref-voting's ``beat_path`` (which measures paths by
margin ``d[a][b] - d[b][a]``, a monotone function of ``d[a][b]`` when every ballot ranks
every pair); with truncated ballots winning votes is Schulze's own recommendation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from aggregation.core import Ballot, InvalidInput, Result, Round
from aggregation.pairwise import PairwiseTally
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

RULE = "schulze"
FORMS = ("ranking", "choice")
TIE_BREAKS = ("none", "lowest_index")

PARAMS = {
    "tie_break": ParamSpec(
        "none",
        'What to do when several candidates are beaten by nobody: "none" (default) reports a tie; '
        '"lowest_index" gives it to the one listed first.',
    ),
}


def normalize_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill the default and refuse unknown parameters or an unknown tie_break."""
    filled = check_known_params(RULE, params, PARAMS)
    if filled["tie_break"] not in TIE_BREAKS:
        raise InvalidInput(f"tie_break must be one of {', '.join(TIE_BREAKS)}, not {filled['tie_break']!r}")
    return filled


def strongest_paths(wins: Sequence[Sequence[Fraction]]) -> list[list[Fraction]]:
    """Strongest-path strengths ``p[a][b]`` (0 = no path) from the win matrix, by Floyd–Warshall.

    Runs on integers (the matrix scaled by the common denominator), so it stays O(m^3) cheap.
    """
    m = len(wins)
    scale = math.lcm(*(Fraction(value).denominator for row in wins for value in row)) if m else 1
    d = [[int(Fraction(value) * scale) for value in row] for row in wins]
    p = [[d[a][b] if a != b and d[a][b] > d[b][a] else 0 for b in range(m)] for a in range(m)]
    for i in range(m):
        row_i = p[i]
        for j in range(m):
            through = p[j][i]
            if j == i or through == 0:
                continue
            row_j = p[j]
            for k in range(m):
                if k != i and k != j:
                    strength = through if through < row_i[k] else row_i[k]
                    if strength > row_j[k]:
                        row_j[k] = strength
    return [[Fraction(value, scale) for value in row] for row in p]


class SchulzeTally(PairwiseTally):
    """Incremental Schulze tally; ``result`` equals the batch rule on the same ballots."""

    forms = FORMS

    def result(self, params: dict[str, Any]) -> Result:
        """The Schulze result from the tally alone (O(m^3), independent of the ballot count)."""
        return schulze_result(self, normalize_params(dict(params), self.m))


def schulze_result(tally: PairwiseTally, params: dict[str, Any]) -> Result:
    """Apply the Schulze method to a pairwise tally with normalized params."""
    m = tally.m
    wins = tally.win_matrix()
    total = tally.total_weight
    valid = sum(tally.first_counts(), Fraction(0))
    details: dict[str, Any] = {"ballots": tally.ballot_count, "total_weight": total, "ranked_weight": valid}
    if tally.ballot_count == 0:
        return Result(RULE, "no_ballots", [], rounds=[Round("No ballots", "No ballots were cast.")], details=details)
    if valid == 0:
        note = "Every ballot is empty or has zero weight, so no candidate has any support."
        return Result(RULE, "no_valid_votes", [], rounds=[Round("No votes", note)], pairwise=wins, details=details)

    paths = strongest_paths(wins)
    beats = [[a != b and paths[a][b] > paths[b][a] for b in range(m)] for a in range(m)]
    beaten_count = {a: Fraction(sum(beats[a])) for a in range(m)}
    unbeaten = [a for a in range(m) if not any(beats[b][a] for b in range(m))]
    ranking = sorted(range(m), key=lambda c: (-beaten_count[c], c))
    details.update({"path_strength": paths, "beats": beaten_count})

    if len(unbeaten) == 1:
        status, winners, outcome = "winner", unbeaten, "One candidate is beaten by nobody and wins."
    elif params["tie_break"] == "lowest_index":
        status, winners = "winner_by_tiebreak", unbeaten[:1]
        outcome = f"{len(unbeaten)} candidates are beaten by nobody; the tie goes to the one listed first."
    else:
        status, winners = "tie", unbeaten
        outcome = f"{len(unbeaten)} candidates are beaten by nobody, so they are tied."
    note = (
        f"Each ballot counts for every pair it orders (weight {valid} of {total} ranks someone). "
        "A candidate preferred over a rival by more weight than the reverse defeats it with that "
        "weight; a chain of defeats is as strong as its weakest link, and a candidate beats a rival "
        f"when its strongest chain to it is stronger than the reverse. {outcome}"
    )
    pairs = Round(
        "Pairwise comparisons and strongest paths",
        note,
        tallies=dict(beaten_count),
        winners=list(winners),
        extra={"path_strength": paths},
    )
    return Result(
        RULE,
        status,
        winners,
        tallies=dict(beaten_count),
        rounds=[pairs],
        ranking=ranking,
        tie_break="lowest_index" if status == "winner_by_tiebreak" else None,
        pairwise=wins,
        details=details,
    )


def compute(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch Schulze: tally equal ballots together, then read the result."""
    return SchulzeTally.from_ballots(m, ballots).result(params)


SPEC = register(
    RuleSpec(
        name=RULE,
        title="Schulze (beat-path)",
        description=(
            "Compares every pair of options; an option wins if no rival beats it through a stronger "
            "chain of head-to-head majorities. Finds the Condorcet winner whenever there is one."
        ),
        ballot_forms=FORMS,
        params=PARAMS,
        normalize_params=normalize_params,
        compute=compute,
        new_tally=SchulzeTally,
        tally_from_state=SchulzeTally.from_state,
        tally_from_rankings=SchulzeTally.from_rankings,
    )
)

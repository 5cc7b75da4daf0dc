"""Two-round run-off over full preferences, as in ROE (Rezaei et al.), with both certificates.

Rules-spec §2. Round 1 counts top choices and advances the two leaders by ``(-N[c], c)``;
round 2 pits them head to head on every ballot's full preference. Ballots are rankings
(best first, unranked candidates tied at the bottom with score 0), choices (a ranking of
length one) or score vectors. An empty ranking or a null choice is an empty ballot: it has
no top choice, so it counts for nobody in round 1, and it prefers neither finalist in
round 2 (under ``roe_code`` it counts against both, like any equal pair of scores).

The rule is deterministic (lowest index wins every tie, as in the ROE code), but the status
says when that mattered: ``winner_by_tiebreak`` when a round-2 tie, or a round-1 tie for a
place in the final whose other orderings would have produced another winner, was settled by
index; ``tie_break`` is also set when score ballots with equal top scores were counted for
their lowest-index top candidate (``details["index_decided_top_choices"]``).

Weights are exact; an integer weight counts like that many copies of the ballot. The
certificates (§2.4) count changed ballots, so they are reported only when every ballot
carries the same positive weight (counts are then weight / common weight): ``certificate``
is R_roe and ``plurality_certificate`` the DPA certificate of the round-1 leader. With one
candidate both are (ballots naming it) - 1 rather than "unbounded": emptying all of them
leaves no vote.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from typing import Any

from aggregation.core import UNBOUNDED, Ballot, InvalidInput, Result, Round
from aggregation.pairwise import PAIRWISE_FORMS, PairwiseTally
from aggregation.plurality import plurality_certificate
from aggregation.registry import ParamSpec, RuleSpec, check_known_params, register

RULE = "runoff"
SCORE_TIES = ("abstain", "roe_code")

PARAMS = {
    "score_tie": ParamSpec(
        "abstain",
        'How round 2 treats a ballot that scores both finalists equally: "abstain" (default; it '
        'counts for neither) or "roe_code" (margin 2·#prefer − n as in the ROE code, so it counts '
        "against both; kept for reproducing ROE, whose certificate can then fail).",
    ),
}


def normalize_params(params: dict[str, Any], m: int) -> dict[str, Any]:
    """Fill the default and refuse unknown parameters or an unknown score_tie convention."""
    filled = check_known_params(RULE, params, PARAMS)
    if filled["score_tie"] not in SCORE_TIES:
        raise InvalidInput(f"score_tie must be one of {', '.join(SCORE_TIES)}, not {filled['score_tie']!r}")
    return filled


def _half_up(x: int) -> int:
    """``ceil(max(x, 0) / 2)``, the repository's ``ceil`` helper."""
    return (max(x, 0) + 1) // 2


def pair_cost(i: int, j: int) -> int:
    """D(i, j): fewest changed ballots closing two round-1 gaps at once (closed form, §2.4)."""
    i, j = max(i, 0), max(j, 0)
    return max(-(-i // 2), -(-j // 2), -(-(i + j) // 3))


def roe_certificate_parts(
    counts: list[int], margins: list[list[int]], winner: int, loser: int
) -> tuple[int | None, int]:
    """CertR1 (None when m <= 2, i.e. infinite) and CertR2 of §2.4, on ballot counts.

    ``counts[c]`` is the number of ballots with top choice ``c``; ``margins[a][b]`` the
    round-2 margin P(a, b) in ballots under the chosen score_tie convention.
    """
    m = len(counts)

    def gap(a: int, b: int) -> int:
        return max(counts[a] - counts[b] + (1 if b > a else 0), 0)

    rivals = [c for c in range(m) if c != winner]
    cert_r1 = None
    if m > 2:
        cert_r1 = min(
            pair_cost(gap(winner, c1), gap(winner, c2)) for k, c1 in enumerate(rivals) for c2 in rivals[k + 1 :]
        )
    cert_r2 = min(max(_half_up(gap(loser, c)), _half_up(margins[winner][c] + (1 if c > winner else 0))) for c in rivals)
    return cert_r1, cert_r2


class RunoffTally(PairwiseTally):
    """Incremental run-off tally; ``result`` equals the batch rule on the same ballots."""

    def result(self, params: dict[str, Any]) -> Result:
        """The run-off result from the tally alone (O(m^2), independent of the ballot count)."""
        return runoff_result(self, normalize_params(dict(params), self.m))


def _margins(tally: PairwiseTally, score_tie: str) -> list[list[Fraction]]:
    wins = tally.win_matrix()
    m = tally.m
    if score_tie == "roe_code":
        total = tally.total_weight
        return [[2 * wins[a][b] - total for b in range(m)] for a in range(m)]
    return [[wins[a][b] - wins[b][a] for b in range(m)] for a in range(m)]


def runoff_result(tally: PairwiseTally, params: dict[str, Any]) -> Result:
    """Apply rules-spec §2 to a pairwise tally with normalized params."""
    m = tally.m
    score_tie = params["score_tie"]
    first = tally.first_counts()
    total = tally.total_weight
    valid = sum(first, Fraction(0))
    details: dict[str, Any] = {
        "ballots": tally.ballot_count,
        "total_weight": total,
        "first_choice_weight": valid,
        "empty_weight": total - valid,
        "score_tie": score_tie,
    }
    if tally.ballot_count == 0:
        note = "No ballots were cast."
        return Result(RULE, "no_ballots", [], rounds=[Round("No ballots", note)], details=details)
    if valid == 0:
        note = "Every ballot is empty or has zero weight, so no candidate has any support."
        return Result(
            RULE,
            "no_valid_votes",
            [],
            tallies=dict(enumerate(first)),
            rounds=[Round("No votes", note)],
            details=details,
        )

    order = sorted(range(m), key=lambda c: (-first[c], c))
    tallies = dict(enumerate(first))
    if m == 1:
        note = f"Only one candidate stands; weight {valid} names it, so it wins without a second round."
        rounds = [Round("Round 1: first choices", note, tallies=tallies, advanced=[0], winners=[0])]
        certificate = _single_candidate_certificate(tally)
        details["certificate_rule"] = (
            "none: ballots carry different weights, so there is no ballot count"
            if certificate is None
            else "one candidate: the result changes only once every ballot naming it is emptied"
        )
        return Result(
            RULE,
            "winner",
            [0],
            tallies=tallies,
            rounds=rounds,
            ranking=[0],
            certificate=certificate,
            plurality_certificate=certificate,
            details=details,
        )

    m1, m2 = order[0], order[1]
    margins = _margins(tally, score_tie)
    margin = margins[m1][m2]
    if margin > 0:
        winner, loser = m1, m2
    elif margin < 0:
        winner, loser = m2, m1
    else:
        winner, loser = min(m1, m2), max(m1, m2)
    by_index = any(_neutral_outcome(first, margins, a, b) != winner for a, b in _finalist_pairs(order, first))
    status = "winner_by_tiebreak" if by_index else "winner"
    cutoff_tie = [c for c in order[2:] if first[c] == first[m2]]
    details.update({"finalists": [m1, m2], "margin": margin})
    if cutoff_tie:
        details["tied_at_cutoff"] = [m2, *cutoff_tie]
    if tally.index_tops:
        details["index_decided_top_choices"] = tally.index_tops

    rounds = [
        _round_one(order, first, valid, total, cutoff_tie),
        _round_two(tally, m1, m2, margin, winner, score_tie),
    ]
    result = Result(
        RULE,
        status,
        [winner],
        tallies=tallies,
        rounds=rounds,
        ranking=[winner, loser, *order[2:]],
        tie_break="lowest_index" if by_index or tally.index_tops else None,
        details=details,
    )
    _certify(result, tally, first, margins, m1, winner, loser)
    return result


def _finalist_pairs(order: list[int], first: list[Fraction]) -> list[tuple[int, int]]:
    """Every pair of finalists some ordering of the round-1 ties could advance, ahead first."""
    top, second = first[order[0]], first[order[1]]
    if top == second:
        group = [c for c in order if first[c] == top]
        return [(a, b) for k, a in enumerate(group) for b in group[k + 1 :]]
    return [(order[0], c) for c in order[1:] if first[c] == second]


def _neutral_outcome(first: list[Fraction], margins: list[list[Fraction]], a: int, b: int) -> int | None:
    """Round-2 winner between ``a`` (not behind in round 1) and ``b``, or None when it rests on
    the index order: a zero margin, or (roe_code, tied in round 1) the two orientations disagree."""
    orientations = [(a, b)] if first[a] > first[b] else [(a, b), (b, a)]
    outcomes = {x if margins[x][y] > 0 else y if margins[x][y] < 0 else None for x, y in orientations}
    return outcomes.pop() if len(outcomes) == 1 else None


def _single_candidate_certificate(tally: PairwiseTally) -> int | None:
    """With one candidate only emptying every ballot that names it changes the outcome."""
    weight = tally.common_weight
    if weight is None:
        return None
    return int(Fraction(tally.first[0]) / weight) - 1


def _certify(
    result: Result,
    tally: PairwiseTally,
    first: list[Fraction],
    margins: list[list[Fraction]],
    leader: int,
    winner: int,
    loser: int,
) -> None:
    """Set R_roe and R_plurality when all ballots weigh the same, with the §2.4 warning if R_roe < 0."""
    weight = tally.common_weight
    if weight is None:
        result.details["certificate_rule"] = "none: ballots carry different weights, so there is no ballot count"
        return
    counts = [int(value / weight) for value in first]
    in_ballots = [[int(value / weight) for value in row] for row in margins]
    cert_r1, cert_r2 = roe_certificate_parts(counts, in_ballots, winner, loser)
    certificate = min(cert_r2, cert_r1 if cert_r1 is not None else cert_r2) - 1
    result.certificate = certificate
    result.plurality_certificate = plurality_certificate(counts, leader)
    result.details.update({"cert_r1": UNBOUNDED if cert_r1 is None else cert_r1, "cert_r2": cert_r2})
    result.details["certificate_rule"] = "ROE (rules-spec §2.4): min(CertR1, CertR2) - 1 changed ballots"
    if certificate < 0:
        result.warnings.append(
            "certificate_warning: under score_tie=roe_code a ballot scoring both finalists equally counts "
            "against both, so the margins are not antisymmetric and the ROE certificate fails (R = -1); "
            "use score_tie=abstain for a meaningful certificate"
        )


def _round_one(
    order: list[int], first: list[Fraction], valid: Fraction, total: Fraction, cutoff_tie: list[int]
) -> Round:
    m1, m2 = order[0], order[1]
    note = (
        f"Each ballot counts for its top choice: weight {valid} of {total} names one"
        + (f" ({total - valid} is empty)" if total != valid else "")
        + f". The two highest advance, with {first[m1]} and {first[m2]}."
    )
    if cutoff_tie:
        note += (
            f" {len(cutoff_tie) + 1} candidates tied at {first[m2]} for a place in the final;"
            " the lowest index decides who advances."
        )
    return Round(
        "Round 1: first choices",
        note,
        tallies=dict(enumerate(first)),
        eliminated=sorted(order[2:]),
        advanced=[m1, m2],
        extra={"first_choice_weight": valid, "empty_weight": total - valid},
    )


def _round_two(tally: PairwiseTally, m1: int, m2: int, margin: Fraction, winner: int, score_tie: str) -> Round:
    wins = tally.win_matrix()
    prefer_1, prefer_2 = wins[m1][m2], wins[m2][m1]
    neither = tally.total_weight - prefer_1 - prefer_2
    if score_tie == "roe_code":
        how = f"margin 2·{prefer_1} − {tally.total_weight} = {margin} (ROE code: equal scores count against the first finalist)"
    else:
        how = f"margin {margin}; weight {neither} prefers neither (equal or unranked, or empty)"
    outcome = (
        "the round-1 leader wins"
        if margin > 0
        else "the runner-up wins"
        if margin < 0
        else "a tie, so the lower-index finalist wins"
    )
    note = (
        f"Head to head on full preferences: weight {prefer_1} prefers the round-1 leader, "
        f"{prefer_2} the runner-up; {how}: {outcome}."
    )
    return Round(
        "Round 2: head-to-head",
        note,
        tallies={m1: prefer_1, m2: prefer_2},
        winners=[winner],
        extra={"margin": margin, "prefer_neither": neither, "score_tie": score_tie},
    )


def compute(m: int, ballots: Sequence[Ballot], params: dict[str, Any]) -> Result:
    """Batch run-off: tally equal ballots together, then read the result."""
    return RunoffTally.from_ballots(m, ballots).result(params)


SPEC = register(
    RuleSpec(
        name=RULE,
        title="Two-round run-off (ROE)",
        description=(
            "Round 1 counts each ballot's top choice; the two leaders meet in round 2, where every "
            "ballot counts for the finalist it prefers. Ties go to the lower-index candidate. Reports "
            "how many changed ballots the result survives (ROE and plurality certificates)."
        ),
        ballot_forms=PAIRWISE_FORMS,
        params=PARAMS,
        normalize_params=normalize_params,
        compute=compute,
        new_tally=RunoffTally,
        tally_from_state=RunoffTally.from_state,
        tally_from_rankings=RunoffTally.from_rankings,
    )
)

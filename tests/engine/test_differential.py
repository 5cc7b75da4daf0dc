"""The engine against pref-voting 1.18.2 on seeded random profiles (rules-spec §3.4).

pref-voting is an independent implementation; where it returns a set (parallel-universe
tie-breaking) and the engine breaks a tie by candidate index, the engine's winner must be
in the set, and equal to it when the set has one element.
"""

from __future__ import annotations

import numpy as np
import pytest
from pref_voting.iterative_methods import (
    instant_runoff,
    instant_runoff_for_truncated_linear_orders,
    instant_runoff_put,
    instant_runoff_tb,
    plurality_with_runoff_put,
)
from pref_voting.margin_based_methods import beat_path
from pref_voting.other_methods import absolute_majority
from pref_voting.profiles import Profile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import borda, borda_for_profile_with_ties, plurality, symmetric_borda_scores

import aggregation
from aggregation.core import Ballot, ranked

pytestmark = pytest.mark.slow

PROFILES = 150


def random_profile(rng: np.random.Generator) -> tuple[int, list[list[int]], list[int]]:
    """m candidates, distinct-ish complete rankings and their integer counts; small so ties are common."""
    m = int(rng.integers(2, 6))
    kinds = int(rng.integers(1, 7))
    rankings = [list(map(int, rng.permutation(m))) for _ in range(kinds)]
    counts = [int(c) for c in rng.integers(1, 5, size=kinds)]
    return m, rankings, counts


def engine_ballots(rankings: list[list[int]], counts: list[int], *, weighted: bool) -> list[Ballot]:
    """The same profile as engine ballots: one ballot per voter, or one weighted ballot per ranking."""
    if weighted:
        return [ranked(order, weight=count) for order, count in zip(rankings, counts, strict=True)]
    return [ranked(order) for order, count in zip(rankings, counts, strict=True) for _ in range(count)]


def cases(seed: int):
    """Seeded profiles, each once with unit ballots and once with integer weights (pref-voting's rcounts)."""
    rng = np.random.default_rng(seed)
    for number in range(PROFILES):
        m, rankings, counts = random_profile(rng)
        yield number, m, Profile(rankings, rcounts=counts), engine_ballots(rankings, counts, weighted=number % 2 == 1)


def winners(rule: str, m: int, ballots: list[Ballot], params: dict) -> tuple[str, list[int]]:
    result = aggregation.tally(rule, m, ballots, params)
    return result.status, result.winners


def test_plurality():
    for number, m, profile, ballots in cases(1):
        status, ours = winners("plurality", m, ballots, {"tie_break": "none"})
        assert ours == plurality(profile), number
        assert status == ("winner" if len(ours) == 1 else "tie"), number


def test_absolute_majority():
    for number, m, profile, ballots in cases(2):
        status, ours = winners("majority", m, ballots, {"threshold": "absolute_majority", "base": "valid"})
        theirs = absolute_majority(profile)
        if theirs:
            assert (status, ours) == ("winner", theirs), number
        else:
            assert status == "threshold_not_met", number


def test_runoff_against_plurality_with_runoff_put():
    for number, m, profile, ballots in cases(3):
        _, ours = winners("runoff", m, ballots, {})
        theirs = plurality_with_runoff_put(profile)
        assert len(ours) == 1, number
        if len(theirs) == 1:
            assert ours == theirs, number
        else:
            assert ours[0] in theirs, number


@pytest.mark.parametrize(
    ("tie_rule", "reference"),
    [("simultaneous", instant_runoff), ("order", instant_runoff_tb), ("put", instant_runoff_put)],
)
def test_irv(tie_rule, reference):
    for number, m, profile, ballots in cases(4):
        status, ours = winners("irv", m, ballots, {"tie_rule": tie_rule})
        assert ours == reference(profile), (number, status)
        if tie_rule == "order":
            assert len(ours) == 1, number


def test_borda():
    for number, m, profile, ballots in cases(5):
        status, ours = winners("borda", m, ballots, {"tie_break": "none"})
        assert ours == borda(profile), number
        assert status == ("winner" if len(ours) == 1 else "tie"), number


def test_schulze_against_beat_path():
    params = {"tie_break": "none"} if "tie_break" in aggregation.get_rule("schulze").params else {}
    for number, m, profile, ballots in cases(6):
        status, ours = winners("schulze", m, ballots, params)
        theirs = beat_path(profile)
        if status == "winner_by_tiebreak":
            assert set(ours) <= set(theirs), number
        else:
            assert ours == theirs, number


def truncated_cases(seed: int):
    """Seeded profiles of truncated rankings (possibly empty), as engine ballots and a ProfileWithTies."""
    rng = np.random.default_rng(seed)
    for number in range(PROFILES):
        m = int(rng.integers(2, 6))
        orders = []
        for _ in range(int(rng.integers(1, 12))):
            full = list(map(int, rng.permutation(m)))
            orders.append(full[: int(rng.integers(1, m + 1))])
        profile = ProfileWithTies(
            [{c: rank + 1 for rank, c in enumerate(order)} for order in orders], candidates=list(range(m))
        )
        yield number, m, profile, [ranked(order) for order in orders]


def test_irv_truncated_ballots():
    # §3.1: the majority is of the active (non-exhausted) ballots, as in
    # instant_runoff_for_truncated_linear_orders; both eliminate all tied-last candidates together.
    for number, m, profile, ballots in truncated_cases(7):
        _, ours = winners("irv", m, ballots, {"tie_rule": "simultaneous"})
        assert ours == instant_runoff_for_truncated_linear_orders(profile), number


def test_borda_truncated_ballots_match_symmetric_borda():
    # §3.2: unranked candidates share the unused points, so 2*score - (m - 1) is the symmetric Borda score.
    for number, m, profile, ballots in truncated_cases(8):
        result = aggregation.tally("borda", m, ballots, {"tie_break": "none"})
        assert result.winners == borda_for_profile_with_ties(profile), number
        symmetric = symmetric_borda_scores(profile)
        n = len(ballots)
        assert {c: 2 * result.tallies[c] - n * (m - 1) for c in range(m)} == symmetric, number

"""Borda / rank-sum (rules-spec §3.2): hand-worked cases, bad input, pref-voting 1.18.2, tally properties.

Candidates are indices; the expected figures are worked out in the comments.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregation
from aggregation.core import Ballot, InvalidInput, choice, ranked
from aggregation.registry import get_rule

from .helpers import as_json, many

SPEC = get_rule("borda")


def borda(m: int, ballots: list[Ballot], **params):
    return aggregation.tally("borda", m, ballots, params)


# --- hand-worked cases ----------------------------------------------------------------------------


def test_zero_and_empty_ballots_are_no_ballots():
    assert borda(3, []).status == "no_ballots"
    result = borda(3, [choice(None), ranked([]), ranked([1], weight=0)])
    assert (result.status, result.winners) == ("no_ballots", [])


def test_one_candidate_wins():
    result = borda(1, [ranked([0]), choice(0)])
    assert (result.status, result.winners, result.tallies, result.ranking) == ("winner", [0], {0: 0}, [0])


def test_complete_rankings():
    # 2 x [0, 1, 2], 2 x [1, 2, 0], 1 x [2, 0, 1]: 0 = 2*2 + 0*2 + 1 = 5, 1 = 2 + 4 + 0 = 6, 2 = 0 + 2 + 2 = 4.
    ballots = many(2, [0, 1, 2]) + many(2, [1, 2, 0]) + many(1, [2, 0, 1])
    result = borda(3, ballots)
    assert (result.status, result.winners) == ("winner", [1])
    assert result.tallies == {0: 5, 1: 6, 2: 4}
    assert result.ranking == [1, 0, 2]
    assert result.certificate is None
    assert len(result.rounds) == 1 and result.rounds[0].tallies == result.tallies


def test_truncated_ballots_share_the_unused_points():
    # As above plus [0]: 0 gets 2, and 1 and 2 share the unused 1 + 0 points: 1/2 each.
    # 0 7, 1 13/2, 2 9/2. A choice ballot is a ranking of length one.
    ballots = many(2, [0, 1, 2]) + many(2, [1, 2, 0]) + many(1, [2, 0, 1])
    for extra in (ranked([0]), choice(0)):
        result = borda(3, [*ballots, extra])
        assert result.winners == [0]
        assert result.tallies == {0: 7, 1: Fraction(13, 2), 2: Fraction(9, 2)}
        assert result.rounds[0].extra == {"ballots": 6, "truncated": 1, "empty": 0}
    # An empty ballot gives every candidate (m - 1) / 2 = 1: the winner is unchanged.
    assert borda(3, [*ballots, ranked([])]).tallies == {0: 6, 1: 7, 2: 5}


def test_r3_13_truncated_borda_is_symmetric_borda():
    # m = 4; [0, 1] gives 0 3, 1 2, 2 and 3 (0 + 1) / 2 = 1/2 each; [2] gives 2 3 and 0, 1, 3 1 each;
    # [3, 2, 1] gives 3 3, 2 2, 1 1, 0 0. Scores: 0 4, 1 4, 2 11/2, 3 9/2.
    # Symmetric Borda (#below - #above): [0, 1]: 0 +3, 1 +1, 2 -2, 3 -2; [2]: 2 +3, others -1;
    # [3, 2, 1]: 3 +3, 2 +1, 1 -1, 0 -3. Totals 0 -1, 1 -1, 2 2, 3 0 = 2*score - 3*3.
    ballots = [ranked([0, 1]), ranked([2]), ranked([3, 2, 1])]
    result = borda(4, ballots)
    assert result.tallies == {0: 4, 1: 4, 2: Fraction(11, 2), 3: Fraction(9, 2)}
    assert {c: 2 * s - 3 * 3 for c, s in result.tallies.items()} == {0: -1, 1: -1, 2: 2, 3: 0}
    assert result.winners == [2]
    assert result.ranking == [2, 3, 0, 1]


def test_exact_weights_and_tie_break():
    # R1-16: 0 gets 1*(1/10) + 1*(2/10) = 3/10, 1 gets 3/10: an exact tie.
    ballots = [ranked([0, 1], Fraction(1, 10)), ranked([0, 1], Fraction(2, 10)), ranked([1, 0], Fraction(3, 10))]
    tie = borda(2, ballots)
    assert (tie.status, tie.winners, tie.tie_break) == ("tie", [0, 1], None)
    assert tie.tallies == {0: Fraction(3, 10), 1: Fraction(3, 10)}
    broken = borda(2, ballots, tie_break="lowest_index")
    assert (broken.status, broken.winners, broken.tie_break) == ("winner_by_tiebreak", [0], "lowest_index")
    assert broken.details["tied"] == [0, 1]
    assert broken.ranking == [0, 1]
    # lowest_index leaves a clear winner alone.
    clear = borda(2, [*ballots, ranked([1], 1)], tie_break="lowest_index")
    assert (clear.status, clear.winners, clear.tie_break) == ("winner", [1], None)


def test_all_tied():
    result = borda(3, [ranked([0, 1, 2]), ranked([1, 2, 0]), ranked([2, 0, 1])])
    assert (result.status, result.winners) == ("tie", [0, 1, 2])
    assert result.ranking == [0, 1, 2]


def test_a_weight_counts_like_that_many_ballots():
    unit = many(3, [0, 2]) + many(2, [1, 2, 0])
    weighted = [ranked([0, 2], 3), ranked([1, 2, 0], 2)]
    assert as_json(borda(3, unit), 3) == as_json(borda(3, weighted), 3)


# --- bad input ---------------------------------------------------------------------------------------


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput, match="tie_break"):
        aggregation.normalize("borda", 3, {"tie_break": "random"})
    with pytest.raises(InvalidInput, match="unknown parameter 'tb_order'"):
        aggregation.normalize("borda", 3, {"tb_order": [0, 1, 2]})
    with pytest.raises(InvalidInput, match="twice"):
        borda(3, [ranked([1, 1])])
    with pytest.raises(InvalidInput, match="does not hold"):
        SPEC.new_tally(3).remove(ranked([0, 1]))
    tally = SPEC.new_tally(3)
    tally.add(ranked([0, 1, 2]))
    with pytest.raises(InvalidInput, match="does not hold"):
        tally.remove(ranked([0, 1]))
    assert tally.to_state()["lengths"] == ["0", "0", "0", "1"]
    with pytest.raises(InvalidInput, match="permutation"):
        SPEC.tally_from_rankings(3, np.array([[0, 1, 2], [2, 2, 1]]))
    consistent = tally.to_state()
    inconsistent = {**consistent, "lengths": ["0", "0", "0", "2"]}
    assert SPEC.tally_from_state(consistent) == tally
    for state in [{"m": 2}, {"m": 2, "positions": [["1", "0"]], "unranked": [], "lengths": []}, inconsistent]:
        with pytest.raises(InvalidInput):
            SPEC.tally_from_state(state)


# --- the fast path and the incremental tally ---------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(0, 150), seed=st.integers(0, 2**32 - 1))
def test_from_rankings_equals_tally_of_ballots(m, n, seed):
    rows = np.random.default_rng(seed).permuted(np.tile(np.arange(m), (n, 1)), axis=1)
    fast = SPEC.tally_from_rankings(m, rows)
    slow = SPEC.new_tally(m)
    for row in rows.tolist():
        slow.add(ranked(row))
    assert fast == slow
    assert as_json(fast.result({}), m) == as_json(slow.result({}), m)


ballots_st = st.integers(1, 6).flatmap(
    lambda m: st.tuples(
        st.just(m),
        st.lists(
            st.tuples(
                st.permutations(range(m)).flatmap(lambda p: st.integers(0, m).map(lambda k: tuple(p[:k]))),
                st.sampled_from([1, 2, 0, Fraction(1, 2), Fraction(2, 3)]),
            ),
            max_size=30,
        ),
    )
)


@settings(max_examples=60, deadline=None)
@given(case=ballots_st, cut=st.integers(0, 30), data=st.data())
def test_incremental_merge_state_equal_batch(case, cut, data):
    m, pairs = case
    ballots = [ranked(order, weight) for order, weight in pairs]
    left, right, whole = SPEC.new_tally(m), SPEC.new_tally(m), SPEC.new_tally(m)
    for index, ballot in enumerate(ballots):
        (left if index < cut else right).add(ballot)
        whole.add(ballot)
    batch = as_json(borda(m, ballots, tie_break="lowest_index"), m)
    assert left.merge(right) == whole
    assert as_json(left.merge(right).result({"tie_break": "lowest_index"}), m) == batch
    restored = SPEC.tally_from_state(json.loads(json.dumps(whole.to_state())))
    assert restored == whole
    assert as_json(restored.result({"tie_break": "lowest_index"}), m) == batch
    if ballots:
        gone = data.draw(st.integers(0, len(ballots) - 1))
        restored.remove(ballots[gone])
        rest = ballots[:gone] + ballots[gone + 1 :]
        assert as_json(restored.result({}), m) == as_json(borda(m, rest), m)


# --- pref-voting 1.18.2 ----------------------------------------------------------------------------------


@pytest.mark.slow
def test_complete_rankings_against_pref_voting():
    from pref_voting.profiles import Profile
    from pref_voting.scoring_methods import borda as pv_borda

    rng = np.random.default_rng(21)
    for number in range(120):
        m = int(rng.integers(1, 6))
        rankings = [[int(c) for c in rng.permutation(m)] for _ in range(int(rng.integers(1, 7)))]
        counts = [int(c) for c in rng.integers(1, 5, size=len(rankings))]
        profile = Profile(rankings, rcounts=counts)
        ballots = [ranked(order, count) for order, count in zip(rankings, counts, strict=True)]
        result = borda(m, ballots)
        assert result.winners == pv_borda(profile), number
        assert result.tallies == profile.borda_scores(), number


@pytest.mark.slow
def test_truncated_rankings_against_symmetric_borda():
    from pref_voting.profiles_with_ties import ProfileWithTies
    from pref_voting.scoring_methods import borda_for_profile_with_ties, symmetric_borda_scores

    rng = np.random.default_rng(22)
    for number in range(150):
        m = int(rng.integers(1, 6))
        orders = []
        for _ in range(int(rng.integers(1, 10))):
            full = [int(c) for c in rng.permutation(m)]
            orders.append(full[: int(rng.integers(0, m + 1))])
        counts = [int(c) for c in rng.integers(1, 4, size=len(orders))]
        profile = ProfileWithTies(
            [{c: rank + 1 for rank, c in enumerate(order)} for order in orders],
            rcounts=counts,
            candidates=list(range(m)),
        )
        result = borda(m, [ranked(order, count) for order, count in zip(orders, counts, strict=True)])
        if not any(orders):
            assert result.status == "no_ballots", number
            continue
        assert result.winners == borda_for_profile_with_ties(profile), number
        n = sum(counts)
        assert {c: 2 * s - n * (m - 1) for c, s in result.tallies.items()} == symmetric_borda_scores(profile), number

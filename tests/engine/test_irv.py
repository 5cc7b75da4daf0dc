"""Instant run-off (rules-spec §3.1): hand-worked cases, bad input, pref-voting 1.18.2, tally properties.

Candidates are indices; the expected figures are worked out in the comments.
"""

from __future__ import annotations

import json
from fractions import Fraction
from itertools import permutations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aggregation
from aggregation import irv as irv_module
from aggregation.core import Ballot, InvalidInput, choice, ranked
from aggregation.irv import IrvTally, compress_rankings, put_winners
from aggregation.registry import get_rule

from .helpers import as_json, many

TIE_RULES = ("simultaneous", "order", "put")
SPEC = get_rule("irv")


def irv(m: int, ballots: list[Ballot], **params):
    return aggregation.tally("irv", m, ballots, params)


# --- hand-worked cases ----------------------------------------------------------------------------


@pytest.mark.parametrize("tie_rule", TIE_RULES)
def test_zero_ballots_and_empty_ballots_are_no_ballots(tie_rule):
    assert irv(3, [], tie_rule=tie_rule).status == "no_ballots"
    empty = [choice(None), ranked([]), ranked([0], weight=0)]
    result = irv(3, empty, tie_rule=tie_rule)
    assert (result.status, result.winners) == ("no_ballots", [])
    assert "No ballot ranks any candidate" in result.rounds[0].note


@pytest.mark.parametrize("tie_rule", TIE_RULES)
def test_one_candidate_wins(tie_rule):
    result = irv(1, [ranked([0]), choice(0)], tie_rule=tie_rule)
    assert (result.status, result.winners) == ("winner", [0])
    assert result.tallies == {0: 2}
    assert result.certificate is None


def test_all_tied_under_each_tie_rule():
    # 0, 1, 2 have one first choice each, second choices in a cycle.
    ballots = [ranked([0, 1]), ranked([1, 2]), ranked([2, 0])]
    simultaneous = irv(3, ballots, tie_rule="simultaneous")
    assert (simultaneous.status, simultaneous.winners) == ("tie", [0, 1, 2])
    assert len(simultaneous.rounds) == 1 and simultaneous.rounds[0].winners == [0, 1, 2]
    # order: 0 goes first, its ballot moves to 1, which then has 2 of 3 votes. Eliminating 1 first
    # would elect 2, eliminating 2 first would elect 0: the tie-break decided.
    order = irv(3, ballots, tie_rule="order")
    assert (order.status, order.winners, order.tie_break) == ("winner_by_tiebreak", [1], "order")
    assert order.rounds[0].eliminated == [0]
    assert order.details["put_winners"] == [0, 1, 2]
    # tb_order [2, 0, 1]: 2 goes first, its ballot moves to 0: 0 wins.
    assert irv(3, ballots, tie_rule="order", tb_order=[2, 0, 1]).winners == [0]
    put = irv(3, ballots, tie_rule="put")
    assert (put.status, put.winners, put.tie_break) == ("tie", [0, 1, 2], None)
    assert put.details["order_winner"] == 1
    assert put.rounds[-1].winners == [0, 1, 2]


def test_put_differs_from_simultaneous_and_order():
    # R3-03 style. First choices: 0 4, 1 5, 2 3, 3 3 (15 ballots, majority 8); 2 and 3 tie for last.
    # Eliminating 2 alone (order) or 2 and 3 together (simultaneous) moves 2's ballots to 1: 8 of 15.
    # Eliminating 3 alone moves its ballots to 2 (6); then 0 (4) goes and its ballots go to 2: 10 of 15.
    ballots = many(4, [0, 2]) + many(5, [1]) + many(3, [2, 1]) + many(3, [3, 2, 0])
    simultaneous = irv(4, ballots, tie_rule="simultaneous")
    assert (simultaneous.status, simultaneous.winners) == ("winner", [1])
    assert simultaneous.rounds[0].eliminated == [2, 3]
    assert simultaneous.rounds[1].tallies == {0: 7, 1: 8}
    order = irv(4, ballots, tie_rule="order")
    assert (order.status, order.winners) == ("winner_by_tiebreak", [1])
    assert order.rounds[0].eliminated == [2]
    assert order.rounds[1].tallies == {0: 4, 1: 8, 3: 3}
    # With tb_order putting 3 first, order follows the other universe.
    assert irv(4, ballots, tie_rule="order", tb_order=[3, 0, 1, 2]).winners == [2]
    put = irv(4, ballots, tie_rule="put")
    assert (put.status, put.winners) == ("tie", [1, 2])
    assert put.details["order_winner"] == 1
    assert put.details["put_winners"] == [1, 2]
    assert put.rounds[-1].name == "Parallel universes"
    # The default tie rule is put.
    assert as_json(irv(4, ballots), 4) == as_json(put, 4)


def test_a_tie_that_cannot_change_the_winner_is_not_a_tiebreak_win():
    # 0 3, 1 2, 2 2, 3 0 of 7: 3 goes (alone), then 1 and 2 tie; either way 0 has 3 of 5 active.
    ballots = many(3, [0]) + many(2, [1]) + many(2, [2])
    for tie_rule in ("order", "put"):
        result = irv(4, ballots, tie_rule=tie_rule)
        assert (result.status, result.winners, result.tie_break) == ("winner", [0], None), tie_rule
        assert result.details["put_winners"] == [0]
        assert result.rounds[1].eliminated == [1]


def test_transfers_and_exhausted_ballots_majority_of_active():
    # 0 9, 1 8, 2 5 (ballots [2]: exhausted once 2 goes), plus 2 empty ballots. 22 non-empty ballots.
    # Round 2: 0 9 of 17 active is a majority of the active ballots though not of all 22.
    ballots = many(9, [0]) + many(8, [1, 2]) + many(5, [2]) + [ranked([]), choice(None)]
    for tie_rule in TIE_RULES:
        result = irv(3, ballots, tie_rule=tie_rule)
        assert (result.status, result.winners) == ("winner", [0]), tie_rule
        assert result.tallies == {0: 9, 1: 8, 2: 5}
        first, second = result.rounds
        assert first.eliminated == [2]
        assert first.extra == {"active": 22, "exhausted": 0, "continuing": 3}
        assert second.tallies == {0: 9, 1: 8}
        assert second.extra == {"active": 17, "exhausted": 5, "continuing": 2}
        assert second.winners == [0]
        assert "9 votes of 17 active" in second.note


def test_truncated_ballots_transfer_in_order():
    # Round 1: 0 8, 1 7, 2 4, 3 2 -> 3 goes, its ballots move to 2 (6); round 2: 0 8, 1 7, 2 6 -> 2 goes;
    # [2, 1] ballots move to 1, [3, 2] ballots are exhausted: 1 has 11 of 19 active.
    ballots = many(8, [0]) + many(7, [1, 2]) + many(4, [2, 1]) + many(2, [3, 2])
    result = irv(4, ballots, tie_rule="simultaneous")
    assert result.winners == [1]
    assert [r.eliminated for r in result.rounds] == [[3], [2], []]
    assert result.rounds[2].tallies == {0: 8, 1: 11}
    assert result.rounds[2].extra["exhausted"] == 2
    assert "eliminated" in result.rounds[0].note


def test_exact_weights():
    # R1-16: 1/10 + 2/10 for 0 against 3/10 for 1 is an exact tie.
    ballots = [ranked([0], Fraction(1, 10)), ranked([0], Fraction(2, 10)), ranked([1], Fraction(3, 10))]
    assert irv(2, ballots, tie_rule="simultaneous").status == "tie"
    assert irv(2, ballots, tie_rule="put").winners == [0, 1]
    # 0 1/2, 1 1/3, 2 1/4 of 13/12: 2 goes, its ballot moves to 1: 7/12 > 13/24.
    weighted = [ranked([0], Fraction(1, 2)), ranked([1, 0], Fraction(1, 3)), ranked([2, 1], Fraction(1, 4))]
    result = irv(3, weighted, tie_rule="order")
    assert (result.status, result.winners) == ("winner", [1])
    assert result.tallies == {0: Fraction(1, 2), 1: Fraction(1, 3), 2: Fraction(1, 4)}
    assert result.rounds[1].tallies == {0: Fraction(1, 2), 1: Fraction(7, 12)}
    assert as_json(result, 3)["rounds"][1]["tallies"] == {"c0": "1/2", "c1": "7/12"}


def test_a_weight_counts_like_that_many_ballots():
    unit = many(3, [0, 1]) + many(2, [1, 2]) + many(2, [2, 1])
    weighted = [ranked([0, 1], 3), ranked([1, 2], 2), ranked([2, 1], 2)]
    for tie_rule in TIE_RULES:
        assert as_json(irv(3, unit, tie_rule=tie_rule), 3) == as_json(irv(3, weighted, tie_rule=tie_rule), 3)


def test_put_skips_candidates_without_votes():
    # Ten candidates, four with one first choice each and no later preferences, six with none:
    # every order of eliminations ends with one of the four winning. The six are dropped at
    # once and the four found without visiting their 2**4 subsets: the counts asked for are
    # all candidates, then the four without each one of them.
    ballots = [ranked([c]) for c in range(4)]
    result = irv(10, ballots, tie_rule="put")
    assert (result.status, result.winners) == ("tie", [0, 1, 2, 3])
    tally = SPEC.new_tally(10)
    for ballot in ballots:
        tally.add(ballot)
    asked = []

    def counting(mask):
        asked.append(mask)
        return tally.count(mask)

    assert put_winners(counting, 10) == 0b1111
    assert asked == [0b1111111111, 0b1110, 0b1101, 0b1011, 0b0111]


def test_put_jumps_over_ties_among_weak_candidates():
    # 0 10, 1 9 and fourteen candidates with one bullet vote each (33 active). Eliminating the
    # fourteen in any of 14! orders moves no vote, so PUT goes straight to {0, 1}: 0 has 10 of 19.
    ballots = many(10, [0]) + many(9, [1]) + [ranked([c]) for c in range(2, 16)]
    tally = SPEC.new_tally(16)
    for ballot in ballots:
        tally.add(ballot)
    assert put_winners(tally.count, 16, limit=3) == 0b1
    for tie_rule in ("order", "put"):
        result = irv(16, ballots, tie_rule=tie_rule)
        assert (result.status, result.winners, result.tie_break) == ("winner", [0], None), tie_rule
    # With nobody else left, each of the tied candidates can be the last one standing.
    assert put_winners(SPEC.tally_from_state({"m": 3, "profile": [[[c], "2"] for c in range(3)]}).count, 3) == 0b111


def test_put_gives_up_past_its_state_limit(monkeypatch):
    # With a limit of one continuing set the all-tied case cannot be explored: the tb_order winner
    # is reported as a tie-break win, with a warning.
    monkeypatch.setattr(irv_module, "PUT_STATE_LIMIT", 1)
    ballots = [ranked([0, 1]), ranked([1, 2]), ranked([2, 0])]
    result = irv(3, ballots, tie_rule="put")
    assert (result.status, result.winners, result.tie_break) == ("winner_by_tiebreak", [1], "order")
    assert "put_winners" not in result.details and result.details["order_winner"] == 1
    assert "Parallel-universe tie-breaking stopped" in result.warnings[0]


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"tb_order": [0, 0, 1]}, "exactly once"),
        ({"tb_order": [0, 1]}, "exactly once"),
        ({"tb_order": [0, 1, 3]}, "exactly once"),
        ({"tb_order": ["a", "b", "c"]}, "list of candidates"),
        ({"tb_order": [True, 0, 1]}, "list of candidates"),
        ({"tb_order": "012"}, "list of candidates"),
        ({"tie_rule": "random"}, "tie_rule"),
        ({"colour": "red"}, "unknown parameter 'colour'"),
    ],
)
def test_bad_params_are_refused(params, fragment):
    with pytest.raises(InvalidInput, match=fragment):
        aggregation.normalize("irv", 3, params)


def test_bad_ballots_and_arrays_are_refused():
    with pytest.raises(InvalidInput, match="twice"):
        irv(3, [ranked([0, 0])])
    with pytest.raises(InvalidInput, match="not a candidate"):
        SPEC.new_tally(3).add(ranked([3]))
    with pytest.raises(InvalidInput, match="does not hold"):
        SPEC.new_tally(3).remove(ranked([0]))
    for array, fragment in [
        (np.array([[0, 1, 2], [0, 0, 2]]), "permutation"),
        (np.array([[0, 1, 3]]), "indices"),
        (np.array([[0, 1]]), "shape"),
        (np.array([[0.0, 1.0, 2.0]]), "integer"),
    ]:
        with pytest.raises(InvalidInput, match=fragment):
            SPEC.tally_from_rankings(3, array)
    for state in [{"m": 0, "profile": []}, {"m": 2, "profile": [[[0, 5], "1"]]}, {"m": 2, "profile": [[[0], "-1"]]}]:
        with pytest.raises(InvalidInput):
            SPEC.tally_from_state(state)


# --- the fast path and the incremental tally ---------------------------------------------------------


def test_compress_rankings_counts_each_permutation():
    rows = np.array([list(p) for p in permutations(range(4))] * 2 + [[3, 2, 1, 0]], dtype=np.int8)
    distinct, counts = compress_rankings(4, rows)
    assert len(distinct) == 24
    found = {tuple(row): int(count) for row, count in zip(distinct.tolist(), counts.tolist(), strict=True)}
    assert found[(3, 2, 1, 0)] == 3 and sum(found.values()) == 49
    # m above the bincount table and above the int64 code range take other paths to the same counts.
    for m in (9, 21):
        rng = np.random.default_rng(m)
        sample = np.array([rng.permutation(m) for _ in range(50)] * 2)
        distinct, counts = compress_rankings(m, sample)
        assert sorted(map(tuple, distinct.tolist())) == sorted(set(map(tuple, sample.tolist())))
        assert counts.tolist() == [2] * len(distinct)


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 6), n=st.integers(0, 150), seed=st.integers(0, 2**32 - 1))
def test_from_rankings_equals_tally_of_ballots(m, n, seed):
    rows = np.random.default_rng(seed).permuted(np.tile(np.arange(m), (n, 1)), axis=1)
    fast = SPEC.tally_from_rankings(m, rows)
    slow = SPEC.new_tally(m)
    for row in rows.tolist():
        slow.add(ranked(row))
    assert fast == slow
    for tie_rule in TIE_RULES:
        assert as_json(fast.result({"tie_rule": tie_rule}), m) == as_json(slow.result({"tie_rule": tie_rule}), m)


def reference_count(ballots: list[Ballot], m: int, mask: int) -> list:
    """Votes per candidate and active weight for a continuing set, straight from the ballots."""
    votes = [Fraction(0)] * m
    for ballot in ballots:
        top = next((c for c in ballot.as_ranking() if mask >> c & 1), None)
        if top is not None:
            votes[top] += ballot.weight
    return [votes, sum(votes)]


@pytest.mark.parametrize(
    "weights",
    [[1, 2, 5], [Fraction(1, 3), Fraction(2, 7), 1], [2**55 + 1, 2**55 + 3, 1], [Fraction(1, 2**61 + 1), 1, 3]],
    ids=["ints", "fractions", "beyond-float", "beyond-int64"],
)
def test_vectorised_counts_are_exact(weights):
    # Enough distinct rankings for the numpy path; weights that make float or int64 sums inexact.
    rng = np.random.default_rng(7)
    m = 6
    ballots = []
    for index in range(120):
        order = [int(c) for c in rng.permutation(m)][: int(rng.integers(0, m + 1))]
        ballots.append(ranked(order, weights[index % len(weights)]))
    tally = SPEC.new_tally(m)
    for ballot in ballots:
        tally.add(ballot)
    assert len(tally.profile) > 32
    for mask in [0b111111, 0b101010, 0b000001, 0b110011]:
        assert tally.count(mask) == reference_count(ballots, m, mask)


rankings_st = st.integers(2, 6).flatmap(
    lambda m: st.tuples(
        st.just(m),
        st.lists(
            st.tuples(
                st.permutations(range(m)).flatmap(lambda p: st.integers(0, m).map(lambda k: tuple(p[:k]))),
                st.sampled_from([1, 1, 2, 0, Fraction(1, 2), Fraction(2, 3)]),
            ),
            max_size=40,
        ),
    )
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=rankings_st, data=st.data())
def test_cached_counts_stay_current_through_adds_and_removes(case, data):
    # result() caches per-round counts; later adds and removes must keep them equal to a fresh tally's.
    m, pairs = case
    base = np.random.default_rng(m).permuted(np.tile(np.arange(m), (60, 1)), axis=1)
    tally = SPEC.tally_from_rankings(m, base)  # starts on the numpy path
    held = [ranked(row) for row in base.tolist()]
    for order, weight in pairs:
        for tie_rule in TIE_RULES:
            tally.result({"tie_rule": tie_rule})
        ballot = ranked(order, weight)
        if held and data.draw(st.booleans()):
            victim = held.pop(data.draw(st.integers(0, len(held) - 1)))
            tally.remove(victim)
        else:
            tally.add(ballot)
            held.append(ballot)
        fresh = SPEC.new_tally(m)
        for kept in held:
            fresh.add(kept)
        assert tally == fresh
        for tie_rule in TIE_RULES:
            assert as_json(tally.result({"tie_rule": tie_rule}), m) == as_json(fresh.result({"tie_rule": tie_rule}), m)


@settings(max_examples=40, deadline=None)
@given(case=rankings_st, cut=st.integers(0, 40))
def test_merge_and_state_round_trip(case, cut):
    m, pairs = case
    ballots = [ranked(order, weight) for order, weight in pairs]
    left, right, whole = SPEC.new_tally(m), SPEC.new_tally(m), SPEC.new_tally(m)
    for index, ballot in enumerate(ballots):
        (left if index < cut else right).add(ballot)
        whole.add(ballot)
    assert left.merge(right) == whole
    restored = SPEC.tally_from_state(json.loads(json.dumps(whole.to_state())))
    assert restored == whole
    assert isinstance(restored, IrvTally)
    for tie_rule in TIE_RULES:
        batch = as_json(aggregation.tally("irv", m, ballots, {"tie_rule": tie_rule}), m)
        assert as_json(restored.result({"tie_rule": tie_rule}), m) == batch
        assert as_json(left.merge(right).result({"tie_rule": tie_rule}), m) == batch


# --- pref-voting 1.18.2 ----------------------------------------------------------------------------------


def complete_profiles(seed: int, count: int = 120):
    """Small random profiles (ties common): m, rankings, integer counts."""
    rng = np.random.default_rng(seed)
    for number in range(count):
        m = int(rng.integers(1, 6))
        kinds = int(rng.integers(1, 7))
        rankings = [[int(c) for c in rng.permutation(m)] for _ in range(kinds)]
        counts = [int(c) for c in rng.integers(1, 5, size=kinds)]
        yield number, m, rankings, counts


def engine_ballots(rankings, counts, weighted: bool) -> list[Ballot]:
    if weighted:
        return [ranked(order, count) for order, count in zip(rankings, counts, strict=True)]
    return [ranked(order) for order, count in zip(rankings, counts, strict=True) for _ in range(count)]


@pytest.mark.slow
def test_complete_rankings_against_pref_voting():
    from pref_voting.iterative_methods import instant_runoff, instant_runoff_put, instant_runoff_tb
    from pref_voting.profiles import Profile

    for number, m, rankings, counts in complete_profiles(11):
        profile = Profile(rankings, rcounts=counts)
        ballots = engine_ballots(rankings, counts, weighted=number % 2 == 1)
        assert irv(m, ballots, tie_rule="simultaneous").winners == instant_runoff(profile), number
        assert irv(m, ballots, tie_rule="order").winners == instant_runoff_tb(profile), number
        tb_order = [int(c) for c in np.random.default_rng(number).permutation(m)]
        ours = irv(m, ballots, tie_rule="order", tb_order=tb_order).winners
        assert ours == instant_runoff_tb(profile, tie_breaker=tb_order), number
        put = irv(m, ballots, tie_rule="put")
        assert put.winners == instant_runoff_put(profile), number
        assert put.status == ("winner" if len(put.winners) == 1 else "tie"), number


@pytest.mark.slow
def test_truncated_rankings_against_pref_voting():
    from pref_voting.iterative_methods import (
        instant_runoff_for_truncated_linear_orders,
        instant_runoff_put,
        instant_runoff_tb,
    )
    from pref_voting.profiles_with_ties import ProfileWithTies

    rng = np.random.default_rng(12)
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
        ballots = [ranked(order, count) for order, count in zip(orders, counts, strict=True)]
        simultaneous = irv(m, ballots, tie_rule="simultaneous")
        if not any(orders):
            # pref-voting calls every candidate a winner when no ballot ranks anyone; the engine says no_ballots.
            assert simultaneous.status == "no_ballots", number
            continue
        assert simultaneous.winners == instant_runoff_for_truncated_linear_orders(profile), number
        # pref-voting's ProfileWithTies variants have no majority stop; a majority of the active
        # ballots wins every continuation anyway, so the winners must agree.
        assert irv(m, ballots, tie_rule="order").winners == instant_runoff_tb(profile), number
        assert irv(m, ballots, tie_rule="put").winners == instant_runoff_put(profile), number


@pytest.mark.slow
def test_short_ballots_put_against_pref_voting():
    # Mostly bullet votes over up to 7 candidates: many ties for last place, some moving no votes
    # (the PUT shortcut) and some moving votes between the tied candidates (full branching).
    from pref_voting.iterative_methods import instant_runoff_put
    from pref_voting.profiles_with_ties import ProfileWithTies

    rng = np.random.default_rng(13)
    for number in range(80):
        m = int(rng.integers(3, 8))
        orders = [[int(c) for c in rng.permutation(m)][: int(rng.choice([1, 1, 1, 2]))] for _ in range(m + 2)]
        counts = [int(c) for c in rng.integers(1, 3, size=len(orders))]
        profile = ProfileWithTies(
            [{c: rank + 1 for rank, c in enumerate(order)} for order in orders],
            rcounts=counts,
            candidates=list(range(m)),
        )
        ballots = [ranked(order, count) for order, count in zip(orders, counts, strict=True)]
        assert irv(m, ballots, tie_rule="put").winners == instant_runoff_put(profile), number


@pytest.mark.slow
def test_large_profile_against_pref_voting():
    from pref_voting.iterative_methods import instant_runoff, instant_runoff_put, instant_runoff_tb
    from pref_voting.profiles import Profile

    rows = np.random.default_rng(5).permuted(np.tile(np.arange(6, dtype=np.int8), (20_000, 1)), axis=1)
    distinct, counts = np.unique(rows, axis=0, return_counts=True)
    profile = Profile(distinct.tolist(), rcounts=counts.tolist())
    tally = SPEC.tally_from_rankings(6, rows)
    assert tally.result({"tie_rule": "simultaneous"}).winners == instant_runoff(profile)
    assert tally.result({"tie_rule": "order"}).winners == instant_runoff_tb(profile)
    assert tally.result({"tie_rule": "put"}).winners == instant_runoff_put(profile)

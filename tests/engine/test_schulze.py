"""The Schulze method: hand-worked examples, agreement with pref-voting 1.18.2's ``beat_path``,
and the incremental tally against the batch rule."""

from __future__ import annotations

import itertools
import random
import warnings
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregation
from aggregation.core import Ballot, InvalidInput, choice, ranked, scored
from aggregation.schulze import SchulzeTally, strongest_paths

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pref_voting.margin_based_methods import beat_path
    from pref_voting.profiles import Profile
    from pref_voting.profiles_with_ties import ProfileWithTies

F = Fraction
A, B, C, D, E = range(5)


def run(m: int, ballots: list[Ballot], **params: Any) -> aggregation.Result:
    return aggregation.tally("schulze", m, ballots, params)


def wikipedia_example() -> list[Ballot]:
    """The 45-voter example of the Schulze method's Wikipedia article (winner E)."""
    groups = [
        (5, (A, C, B, E, D)),
        (5, (A, D, E, C, B)),
        (8, (B, E, D, A, C)),
        (3, (C, A, B, E, D)),
        (7, (C, A, E, B, D)),
        (2, (C, B, A, D, E)),
        (7, (D, C, E, B, A)),
        (8, (E, B, A, D, C)),
    ]
    return [ranked(order) for count, order in groups for _ in range(count)]


def test_wikipedia_example() -> None:
    result = run(5, wikipedia_example())
    assert result.pairwise == [
        [0, 20, 26, 30, 22],
        [25, 0, 16, 33, 18],
        [19, 29, 0, 17, 24],
        [15, 12, 28, 0, 14],
        [23, 27, 21, 31, 0],
    ]
    assert result.details["path_strength"] == [
        [0, 28, 28, 30, 24],
        [25, 0, 28, 33, 24],
        [25, 29, 0, 29, 24],
        [25, 28, 28, 0, 24],
        [25, 28, 28, 31, 0],
    ]
    assert (result.status, result.winners) == ("winner", [E])
    assert result.ranking == [E, A, C, B, D]
    assert result.tallies == {A: 3, B: 1, C: 2, D: 0, E: 4}
    assert result.certificate is None and len(result.rounds) == 1


def test_condorcet_cycle_with_equal_strengths_is_a_tie() -> None:
    ballots = [ranked((0, 1, 2)), ranked((1, 2, 0)), ranked((2, 0, 1))]
    result = run(3, ballots)
    assert (result.status, result.winners, result.ranking) == ("tie", [0, 1, 2], [0, 1, 2])
    broken = run(3, ballots, tie_break="lowest_index")
    assert (broken.status, broken.winners, broken.tie_break) == ("winner_by_tiebreak", [0], "lowest_index")


def test_cycle_broken_at_its_weakest_defeat() -> None:
    # d = [[0, 4, 3], [3, 0, 5], [4, 2, 0]]: a cycle of defeats 0->1 (4), 1->2 (5), 2->0 (4).
    # p[0][2] = min(4, 5) = 4 vs p[2][0] = 4: tie; p[1][0] = min(5, 4) = 4 vs p[0][1] = 4: tie;
    # p[1][2] = 5 vs p[2][1] = min(4, 4) = 4: 1 beats 2. Unbeaten: 0 and 1.
    ballots = [ranked((0, 1, 2))] * 2 + [ranked((1, 2, 0))] * 2 + [ranked((2, 0, 1))] * 2 + [ranked((1, 0, 2))]
    result = run(3, ballots)
    assert result.pairwise == [[0, 4, 3], [3, 0, 5], [4, 2, 0]]
    assert (result.status, result.winners) == ("tie", [0, 1])
    assert result.ranking == [1, 0, 2]


def test_zero_ballots_one_candidate_and_empty_ballots() -> None:
    assert run(3, []).status == "no_ballots"
    assert run(3, [ranked(()), choice(None)]).status == "no_valid_votes"
    single = run(1, [ranked((0,))])
    assert (single.status, single.winners) == ("winner", [0])
    # truncated and choice ballots: unranked candidates tie at the bottom
    result = run(3, [choice(2), ranked((1,)), ranked((1, 2)), ranked(())])
    assert result.pairwise == [[0, 0, 0], [2, 0, 2], [2, 1, 0]]
    assert result.winners == [1]


def test_exact_weights() -> None:
    # 1/10 + 2/10 for 0 over 1 against 3/10 for 1 over 0: an exact tie, both unbeaten
    ballots = [ranked((0, 1), F(1, 10)), ranked((0, 1), F(2, 10)), ranked((1, 0), F(3, 10))]
    assert run(2, ballots).winners == [0, 1]
    assert run(2, [*ballots, ranked((0, 1), F(1, 10**9))]).winners == [0]


def test_strongest_paths_scales_fractions_exactly() -> None:
    # defeats 0->1 (1/3), 1->2 (1/2), 2->0 (1/5): p[0][2] = min(1/3, 1/2), p[1][0] = min(1/2, 1/5),
    # p[2][1] = min(1/5, 1/3)
    assert strongest_paths([[0, F(1, 3), 0], [F(1, 4), 0, F(1, 2)], [F(1, 5), 0, 0]]) == [
        [0, F(1, 3), F(1, 3)],
        [F(1, 5), 0, F(1, 2)],
        [F(1, 5), F(1, 5), 0],
    ]


def test_bad_params_and_ballots() -> None:
    with pytest.raises(InvalidInput, match="tie_break"):
        aggregation.normalize("schulze", 3, {"tie_break": "random"})
    with pytest.raises(InvalidInput, match="unknown parameter"):
        aggregation.normalize("schulze", 3, {"score_tie": "abstain"})
    with pytest.raises(InvalidInput) as error:
        run(3, [ranked((0, 1, 2)), scored([1, 2, 3])])
    assert error.value.ballot_index == 1
    with pytest.raises(InvalidInput):
        run(3, [ranked((0, 1, 1))])


def test_from_rankings_and_state() -> None:
    rankings = np.argsort(np.random.default_rng(7).random((200, 6)), axis=1)
    fast = SchulzeTally.from_rankings(6, rankings)
    ballots = [ranked(row) for row in rankings.tolist()]
    assert fast == SchulzeTally.from_ballots(6, ballots)
    params = aggregation.normalize("schulze", 6)
    assert fast.result(params) == run(6, ballots)
    assert SchulzeTally.from_state(fast.to_state()).result(params) == fast.result(params)


# -- agreement with pref-voting ------------------------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_matches_pref_voting_beat_path_on_complete_rankings(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(60):
        m, n = rng.randint(2, 6), rng.randint(1, 15)
        orders = [rng.sample(range(m), m) for _ in range(n)]
        counts = [rng.randint(1, 3) for _ in orders]
        expected = beat_path(Profile(orders, rcounts=counts))
        ballots = [ranked(order, count) for order, count in zip(orders, counts, strict=True)]
        assert run(m, ballots).winners == sorted(expected), orders


@pytest.mark.parametrize("seed", range(4))
def test_matches_pref_voting_winning_votes_on_truncated_rankings(seed: int) -> None:
    # pref-voting's beat_path measures paths by margin; with truncated ballots winning votes
    # (ours) is beat_path with the support (d[a][b]) as strength function.
    rng = random.Random(100 + seed)
    for _ in range(60):
        m, n = rng.randint(2, 5), rng.randint(1, 12)
        orders = [rng.sample(range(m), m)[: rng.randint(1, m)] for _ in range(n)]
        profile = ProfileWithTies(
            [{c: rank for rank, c in enumerate(order)} for order in orders], candidates=list(range(m))
        )
        profile.use_extended_strict_preference()
        expected = beat_path(profile, strength_function=profile.support)
        assert run(m, [ranked(order) for order in orders]).winners == sorted(expected), orders


# -- properties ----------------------------------------------------------------------------


@st.composite
def ranking_ballots(draw: st.DrawFn, m: int) -> Ballot:
    weight = draw(st.sampled_from([F(1), F(1), F(3), F(1, 2), F(0)]))
    if draw(st.booleans()):
        return choice(draw(st.one_of(st.none(), st.integers(0, m - 1))), weight)
    return ranked(draw(st.permutations(range(m)))[: draw(st.integers(0, m))], weight)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.integers(1, 5), tie_break=st.sampled_from(["none", "lowest_index"]))
def test_incremental_tally_equals_batch(data: st.DataObject, m: int, tie_break: str) -> None:
    params = aggregation.normalize("schulze", m, {"tie_break": tie_break})
    ballots = data.draw(st.lists(ranking_ballots(m), max_size=12))
    shards = [SchulzeTally(m), SchulzeTally(m)]
    for ballot in ballots:
        shards[data.draw(st.integers(0, 1))].add(ballot)
    merged = shards[1].merge(shards[0])
    kept = list(ballots)
    for _ in range(data.draw(st.integers(0, len(kept)))):
        merged.remove(kept.pop(data.draw(st.integers(0, len(kept) - 1))))
    batch = aggregation.tally("schulze", m, kept, params)
    assert merged.result(params) == batch
    assert SchulzeTally.from_state(merged.to_state()) == merged
    assert merged == SchulzeTally.from_ballots(m, kept[::-1])


@settings(max_examples=40, deadline=None)
@given(m=st.integers(2, 6), n=st.integers(1, 25), seed=st.integers(0, 2**32 - 1))
def test_condorcet_winner_wins(m: int, n: int, seed: int) -> None:
    rankings = np.argsort(np.random.default_rng(seed).random((n, m)), axis=1)
    result = SchulzeTally.from_rankings(m, rankings).result(aggregation.normalize("schulze", m))
    wins = result.pairwise
    condorcet = [a for a in range(m) if all(wins[a][b] > wins[b][a] for b in range(m) if b != a)]
    if condorcet:
        assert result.winners == condorcet
    # the ranking follows the beat relation: nobody beats a candidate listed above it
    paths = result.details["path_strength"]
    for high, low in itertools.combinations(result.ranking, 2):
        assert not paths[low][high] > paths[high][low]


def test_tally_refuses_score_ballots() -> None:
    with pytest.raises(InvalidInput, match="scores"):
        SchulzeTally(3).add(scored([1, 2, 3]))

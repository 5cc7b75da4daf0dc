"""Two-round run-off as in ROE (rules-spec §2), its certificates (§2.4) and the pairwise tally.

Hand-computed cases name the spec's corner cases (R2-04, R2-07, R2-09, R_roe > R_plurality);
property tests check the certificates by brute force over every change of R ballots, and
the incremental tally (add, remove, merge, snapshots, the numpy fast path) against batch.
"""

from __future__ import annotations

import itertools
from collections import Counter
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregation
from aggregation.core import UNBOUNDED, Ballot, InvalidInput, choice, ranked, scored
from aggregation.pairwise import PairwiseTally
from aggregation.registry import get_rule
from aggregation.runoff import RunoffTally, pair_cost

from .helpers import sub_multisets

F = Fraction


def run(m: int, ballots: list[Ballot], **params: Any) -> aggregation.Result:
    return aggregation.tally("runoff", m, ballots, params)


def copies(order: tuple[int, ...] | list[int], count: int) -> list[Ballot]:
    return [ranked(order) for _ in range(count)]


# -- the rule ------------------------------------------------------------------------------


def test_two_rounds_with_both_certificates_r_roe_above_r_plurality() -> None:
    # N = [2, 1, 1]: finalists 0 and 1 (1 beats 2 on index). Round 2: 0 over 1 on ballots
    # 0>2>1 x2 and 2>0>1, 1 over 0 on 1>0>2: margin 3 - 1 = 2, so 0 wins.
    # R_plurality = ceil((2 - 1 + [1 > 0]) / 2) - 1 = 0.
    # gap(0,1) = gap(0,2) = 2 - 1 + 1 = 2, CertR1 = D(2, 2) = max(1, 1, ceil(4/3)) = 2.
    # CertR2: c=1: max(0, ceil((2 + 1) / 2)) = 2; c=2: gap(1,2) = 0 + 1 = 1 -> 1, P(0,2) = 3 - 1 = 2
    # -> ceil(3/2) = 2, so 2. R_roe = min(2, 2) - 1 = 1 > R_plurality = 0.
    ballots = copies((0, 2, 1), 2) + [ranked((1, 0, 2)), ranked((2, 0, 1))]
    result = run(3, ballots)
    assert (result.status, result.winners) == ("winner", [0])
    assert result.tallies == {0: 2, 1: 1, 2: 1}
    assert (result.certificate, result.plurality_certificate) == (1, 0)
    assert (result.details["cert_r1"], result.details["cert_r2"]) == (2, 2)
    assert result.details["finalists"] == [0, 1] and result.details["tied_at_cutoff"] == [1, 2]
    first, second = result.rounds
    assert first.advanced == [0, 1] and first.eliminated == [2]
    assert second.tallies == {0: 3, 1: 1} and second.extra["margin"] == 2 and second.winners == [0]
    assert result.ranking == [0, 1, 2]
    assert result.warnings == []


def test_runner_up_can_win_round_two() -> None:
    # N = [3, 2, 2]: 0 and 1 advance; the 2-voters rank 1 above 0, so 1 wins 4 to 3.
    ballots = copies((0, 1, 2), 3) + copies((1, 0, 2), 2) + copies((2, 1, 0), 2)
    result = run(3, ballots)
    assert result.winners == [1] and result.ranking == [1, 0, 2]
    assert result.rounds[1].tallies == {0: 3, 1: 4}
    # 2 tied with 1 for the final and would have lost to 0 (5 to 2): the index decided the winner
    assert (result.status, result.tie_break) == ("winner_by_tiebreak", "lowest_index")
    # w=1, s=0. gap(1,0) = 0, gap(1,2) = 0 + 1 = 1: CertR1 = D(0, 1) = 1.
    # CertR2: c=0: ceil((P(1,0) = 1 + 0) / 2) = 1. R_roe = 0; R_plurality(0) = ceil((3-2+1)/2) - 1 = 0.
    assert (result.certificate, result.plurality_certificate) == (0, 0)


def test_second_finalist_with_zero_first_places_r2_07() -> None:
    # Unanimous first choice 1: the runner-up is the lowest-index zero-vote candidate, 0.
    # R_plurality = ceil((3 - 0 + [0 > 1]) / 2) - 1 = 1. gap(1,0) = 3, gap(1,2) = 4: CertR1 =
    # D(3, 4) = max(2, 2, ceil(7/3)) = 3. CertR2: c=0: ceil(3/2) = 2; c=2: max(ceil(1/2),
    # ceil((3 + 1)/2)) = 2. R_roe = 2 - 1 = 1.
    result = run(3, copies((1, 2, 0), 3))
    assert result.details["finalists"] == [1, 0]
    assert (result.winners, result.certificate, result.plurality_certificate) == ([1], 1, 1)


def test_two_candidates_is_a_plain_majority_r2_04() -> None:
    # N = [1, 4]: finalists 1, 0; margin 4 - 1 = 3. CertR1 infinite (m = 2); CertR2 = ceil(3/2) = 2.
    # R_plurality = ceil((4 - 1 + [0 > 1]) / 2) - 1 = 1.
    result = run(2, copies((0, 1), 1) + copies((1, 0), 4))
    assert (result.winners, result.certificate, result.plurality_certificate) == ([1], 1, 1)
    assert result.details["cert_r1"] == UNBOUNDED and result.details["cert_r2"] == 2
    assert result.rounds[0].eliminated == []


def test_no_ballots_one_candidate_and_all_empty() -> None:
    result = run(3, [])
    assert (result.status, result.winners, result.certificate) == ("no_ballots", [], None)
    only = run(1, [ranked((0,)), ranked((0,)), ranked(())])
    assert (only.status, only.winners, len(only.rounds)) == ("winner", [0], 1)
    # [deviation from "unbounded"]: emptying both ballots that name it leaves no vote
    assert (only.certificate, only.plurality_certificate) == (1, 1)
    empty = run(3, [ranked(()), choice(None)])
    assert (empty.status, empty.winners) == ("no_valid_votes", [])
    assert run(2, [ranked((0, 1), 0)]).status == "no_valid_votes"


def test_round_two_tie_goes_to_the_lower_index() -> None:
    tie = run(2, [ranked((0, 1)), ranked((1, 0)), ranked((1, 0)), ranked((0, 1))])
    assert (tie.status, tie.winners, tie.tie_break) == ("winner_by_tiebreak", [0], "lowest_index")
    # tops 0, 1, 1, 0 (equal scores: lowest index) -> N = [2, 2]; 0 over 1 once, 1 over 0
    # twice, one ballot equal (abstains): margin -1, so 1 wins outright.
    ballots = [ranked((0, 1)), scored([0, 3]), ranked((1, 0)), scored([2, 2])]
    result = run(2, ballots)
    assert (result.status, result.winners, result.tallies) == ("winner", [1], {0: 2, 1: 2})


def test_choices_truncated_rankings_and_empty_ballots() -> None:
    # tops: 2, 2, 0, 0, 0, 1 and one empty ballot -> N = [3, 1, 2]: finalists 0 and 2.
    # 0 vs 2: choice 0 x2 and ranking (0,) prefer 0 (2 unranked); choice 2 and (2, 1) prefer 2;
    # (1, 2) prefers 2 (0 unranked); empty prefers neither: 3 to 3 -> tie -> 0 by index.
    ballots = [choice(2), ranked((2, 1)), choice(0), choice(0), ranked((0,)), ranked((1, 2)), choice(None)]
    result = run(3, ballots)
    assert result.tallies == {0: 3, 1: 1, 2: 2}
    assert result.rounds[1].tallies == {0: 3, 2: 3}
    assert result.rounds[1].extra["prefer_neither"] == 1
    assert (result.status, result.winners) == ("winner_by_tiebreak", [0])


def test_score_ballots_top_choice_and_exact_scores() -> None:
    # (0.1, 0.2, 0.3) vs exact thirds: scores are exact; ties for top go to the lower index.
    ballots = [scored(["1/10", "2/10", "3/10"]), scored([F(3, 10), F(3, 10), 0]), scored([0, 1, 1])]
    result = run(3, ballots)
    assert result.tallies == {0: 1, 1: 1, 2: 1}
    assert result.details["index_decided_top_choices"] == 2
    # finalists 0, 1: ballot 1 prefers 1, ballot 2 equal (abstains), ballot 3 prefers 1; but
    # 0 and 2 could have been the finalists (three-way tie), and 2 beats 0 two to one
    assert result.winners == [1] and result.rounds[1].tallies == {0: 0, 1: 2}
    assert (result.status, result.tie_break) == ("winner_by_tiebreak", "lowest_index")
    # one tied-top score ballot: the winner stands on its own, but the index picked a top choice
    clear = run(3, [scored([2, 2, 0]), ranked((0, 1, 2)), ranked((0, 2, 1))])
    assert (clear.status, clear.winners, clear.tie_break) == ("winner", [0], "lowest_index")


def test_roe_code_defect_r2_09() -> None:
    # Scores (1,0), (0,1), (0,0): tops 0, 1, 0 (tie -> index) so N = [2, 1].
    # roe_code: P(0,1) = 2*1 - 3 = -1 < 0 -> 1 wins, yet P(1,0) = 2*1 - 3 = -1 as well, so
    # CertR2 = max(0, ceil(-1/2)) = 0 and R_roe = -1, with the warning.
    ballots = [scored([1, 0]), scored([0, 1]), scored([0, 0])]
    result = run(2, ballots, score_tie="roe_code")
    assert (result.winners, result.certificate) == ([1], -1)
    assert result.plurality_certificate == 0
    assert len(result.warnings) == 1 and result.warnings[0].startswith("certificate_warning")
    # abstain: margin 1 - 1 = 0 -> 0 by index; CertR2 = ceil((0 + 1) / 2) = 1 -> R_roe = 0
    abstain = run(2, ballots)
    assert (abstain.status, abstain.winners, abstain.certificate, abstain.warnings) == (
        "winner_by_tiebreak",
        [0],
        0,
        [],
    )


def test_conventions_agree_on_strict_rankings() -> None:
    ballots = copies((0, 1, 2), 3) + copies((1, 2, 0), 2) + copies((2, 1, 0), 2)
    assert run(3, ballots) == run(3, ballots, score_tie="abstain")
    roe = run(3, ballots, score_tie="roe_code")
    assert (roe.winners, roe.certificate, roe.plurality_certificate) == (
        run(3, ballots).winners,
        run(3, ballots).certificate,
        run(3, ballots).plurality_certificate,
    )


def test_weights_are_exact_and_certificates_need_equal_weights() -> None:
    # 1/10 + 2/10 first places for 0 against 3/10 for 1: an exact round-1 tie; round 2 decides.
    ballots = [ranked((0, 1), F(1, 10)), ranked((0, 1), F(2, 10)), ranked((1, 0), F(3, 10))]
    result = run(2, ballots)
    assert result.tallies == {0: F(3, 10), 1: F(3, 10)}
    assert (result.status, result.winners) == ("winner_by_tiebreak", [0])
    assert (result.certificate, result.plurality_certificate) == (None, None)
    # integer weights are repeated ballots for the count, but a mix of weights has no certificate
    doubled = run(2, [ranked((0, 1), 2), ranked((1, 0))])
    assert (doubled.winners, doubled.tallies, doubled.certificate) == ([0], {0: 2, 1: 1}, None)
    # all weights equal: counted in ballots (weight / common weight)
    halves = run(2, [ranked((1, 0), F(1, 2))] * 4 + [ranked((0, 1), F(1, 2))])
    assert (halves.certificate, halves.plurality_certificate) == (1, 1)


def test_closed_form_pair_cost_matches_the_recurrence() -> None:
    size = 40
    table = [[0] * size for _ in range(size)]
    for i in range(size):
        for j in range(size):
            if i or j:
                table[i][j] = 1 + min(table[max(i - 2, 0)][max(j - 1, 0)], table[max(i - 1, 0)][max(j - 2, 0)])
    assert all(pair_cost(i, j) == table[i][j] for i in range(size) for j in range(size))


def test_bad_params_and_ballots() -> None:
    with pytest.raises(InvalidInput, match="score_tie"):
        aggregation.normalize("runoff", 3, {"score_tie": "count"})
    with pytest.raises(InvalidInput, match="unknown parameter 'tie_break'"):
        aggregation.normalize("runoff", 3, {"tie_break": "none"})
    with pytest.raises(InvalidInput) as error:
        run(3, [ranked((0, 1, 2)), scored([1, 2])])
    assert error.value.ballot_index == 1
    with pytest.raises(InvalidInput):
        run(3, [ranked((0, 3))])
    with pytest.raises(InvalidInput):
        run(3, [aggregation.core.valued(1)])
    assert aggregation.normalize("runoff", 3, {}) == {"score_tie": "abstain"}


# -- the pairwise tally --------------------------------------------------------------------


def test_tally_remove_refuses_unknown_ballots_and_switches_to_exact() -> None:
    tally = RunoffTally(3)
    tally.add(ranked((0, 1, 2)))
    with pytest.raises(InvalidInput):
        tally.remove(ranked((2, 1, 0)))
    with pytest.raises(InvalidInput):
        tally.remove(ranked((0, 1, 2), 3))
    assert not tally.exact
    tally.add(ranked((2, 1, 0), F(1, 3)))
    assert tally.exact and tally.win_matrix()[2][0] == F(1, 3)
    tally.remove(ranked((2, 1, 0), F(1, 3)))
    tally.remove(ranked((0, 1, 2)))
    assert tally == RunoffTally(3) and tally.ballot_count == 0
    with pytest.raises(InvalidInput):
        tally.merge(RunoffTally(4))


@pytest.mark.parametrize("m", [1, 2, 3, 5, 8, 9, 15, 16, 17])
def test_from_rankings_matches_ballots(m: int) -> None:
    rng = np.random.default_rng(m)
    rankings = np.argsort(rng.random((60, m)), axis=1)
    fast = RunoffTally.from_rankings(m, rankings)
    slow = RunoffTally.from_ballots(m, [ranked(row) for row in rankings.tolist()])
    assert fast == slow
    assert RunoffTally.from_rankings(m, np.asfortranarray(rankings.astype(np.int16))) == slow
    params = aggregation.normalize("runoff", m)
    assert fast.result(params) == slow.result(params)


def test_from_rankings_refuses_bad_arrays() -> None:
    for bad in ([[0, 0, 1]], [[0, 1, 3]], [[0, -1, 1]], [[0, 1]], [[0.0, 1.0, 2.0]], [0, 1, 2]):
        with pytest.raises(InvalidInput):
            RunoffTally.from_rankings(3, np.array(bad))
    with pytest.raises(InvalidInput, match="0..2"):
        RunoffTally.from_rankings(3, np.array([[0, -1, 1]], dtype=np.int8))
    with pytest.raises(InvalidInput, match="exactly once"):
        RunoffTally.from_rankings(17, np.array([list(range(16)) + [0]]))
    assert RunoffTally.from_rankings(3, np.zeros((0, 3), dtype=np.int64)) == RunoffTally(3)


def test_state_round_trip_in_both_number_modes() -> None:
    tally = RunoffTally.from_ballots(3, [ranked((0, 1, 2)), scored([1, 1, 0]), choice(None)])
    assert RunoffTally.from_state(tally.to_state()) == tally
    assert not RunoffTally.from_state(tally.to_state()).exact
    tally.add(ranked((2,), F(2, 3)))
    restored = RunoffTally.from_state(tally.to_state())
    assert restored.exact and restored == tally
    params = aggregation.normalize("runoff", 3)
    assert restored.result(params) == tally.result(params)
    with pytest.raises(InvalidInput):
        RunoffTally.from_state({"m": 3})


# -- properties ----------------------------------------------------------------------------

WEIGHTS = st.sampled_from([F(1), F(1), F(1), F(2), F(1, 2), F(2, 3), F(0)])


@st.composite
def pairwise_ballots(draw: st.DrawFn, m: int) -> Ballot:
    weight = draw(WEIGHTS)
    kind = draw(st.sampled_from(["ranking", "ranking", "choice", "scores"]))
    if kind == "choice":
        return choice(draw(st.one_of(st.none(), st.integers(0, m - 1))), weight)
    if kind == "scores":
        return scored(draw(st.lists(st.sampled_from([0, 1, "1/2", -2]), min_size=m, max_size=m)), weight)
    return ranked(draw(st.permutations(range(m)))[: draw(st.integers(0, m))], weight)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.integers(1, 5), score_tie=st.sampled_from(["abstain", "roe_code"]))
def test_incremental_tally_equals_batch(data: st.DataObject, m: int, score_tie: str) -> None:
    params = aggregation.normalize("runoff", m, {"score_tie": score_tie})
    ballots = data.draw(st.lists(pairwise_ballots(m), max_size=12))
    shards = [RunoffTally(m), RunoffTally(m)]
    for ballot in ballots:
        shards[data.draw(st.integers(0, 1))].add(ballot)
    merged = shards[0].merge(shards[1])
    kept = list(ballots)
    for _ in range(data.draw(st.integers(0, len(kept)))):
        merged.remove(kept.pop(data.draw(st.integers(0, len(kept) - 1))))
    batch = get_rule("runoff").compute(m, kept, params)
    assert merged.result(params) == batch
    assert merged == RunoffTally.from_ballots(m, list(reversed(kept)))
    assert RunoffTally.from_state(merged.to_state()).result(params) == batch


@settings(max_examples=25, deadline=None)
@given(m=st.integers(1, 9), n=st.integers(0, 50), seed=st.integers(0, 2**32 - 1))
def test_from_rankings_equals_ballots_property(m: int, n: int, seed: int) -> None:
    rankings = np.argsort(np.random.default_rng(seed).random((n, m)), axis=1)
    fast = RunoffTally.from_rankings(m, rankings)
    assert fast == PairwiseTally.from_ballots(m, [ranked(row) for row in rankings.tolist()])
    params = aggregation.normalize("runoff", m)
    assert fast.result(params) == aggregation.tally("runoff", m, [ranked(row) for row in rankings.tolist()])


def replacement_ballots(m: int, with_ties: bool) -> list[Ballot]:
    """Ballots an adversary may substitute: every strict ranking, every single choice, the
    empty ballot and, with ``with_ties``, score vectors for every weak order."""
    options = [ranked(order) for order in itertools.permutations(range(m))]
    options += [ranked((c,)) for c in range(m)] + [ranked(())]
    if with_ties:
        levels = {tuple(levels) for levels in itertools.product(range(m), repeat=m)}
        weak_orders = {tuple(sorted(set(levels)).index(x) for x in levels) for levels in levels}
        options += [scored(list(order)) for order in sorted(weak_orders) if len(set(order)) < m]
    return options


def assert_certificates_sound(m: int, ballots: list[Ballot], params: dict[str, Any], options: list[Ballot]) -> None:
    """No change of R ballots to any option (nor removal of R ballots) alters the winner, for
    R_roe (run-off winner) and R_plurality (the round-1 leader)."""
    tally = RunoffTally.from_ballots(m, ballots)
    base = tally.result(params)
    if base.certificate is None:
        return

    def runoff_winner(result: aggregation.Result) -> list[int]:
        return result.winners

    def round_one_leader(result: aggregation.Result) -> list[int]:
        return result.ranking[:1] if len(result.rounds) == 1 else result.details["finalists"][:1]

    for certificate, read in ((base.certificate, runoff_winner), (base.plurality_certificate, round_one_leader)):
        expected = read(base)
        budget = len(ballots) if certificate == UNBOUNDED else min(int(certificate), len(ballots))
        for removed in sub_multisets(Counter(ballots), budget):
            for ballot in removed:
                tally.remove(ballot)
            assert read(tally.result(params)) == expected, (ballots, "removed", removed)
            for added in itertools.combinations_with_replacement(options, budget):
                for ballot in added:
                    tally.add(ballot)
                assert read(tally.result(params)) == expected, (ballots, removed, added)
                for ballot in added:
                    tally.remove(ballot)
            for ballot in removed:
                tally.add(ballot)


@st.composite
def lopsided_profiles(draw: st.DrawFn, pool: list[Ballot], n_max: int) -> list[Ballot]:
    """Up to n_max ballots from ``pool``, often with one ballot repeated, so that certificates
    above 0 (the interesting ones) come up often."""
    favourite = draw(st.integers(0, n_max))
    rest = draw(st.lists(st.sampled_from(pool), max_size=n_max - favourite))
    return [draw(st.sampled_from(pool))] * favourite + rest


OPTIONS = {m: replacement_ballots(m, with_ties=m <= 3) for m in (1, 2, 3, 4)}


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.integers(1, 3), score_tie=st.sampled_from(["abstain", "roe_code"]))
def test_certificates_sound_three_candidates(data: st.DataObject, m: int, score_tie: str) -> None:
    strict = [ranked(order) for order in itertools.permutations(range(m))]
    pool = strict if score_tie == "roe_code" else OPTIONS[m]
    ballots = data.draw(lopsided_profiles(pool, 7))
    assert_certificates_sound(m, ballots, aggregation.normalize("runoff", m, {"score_tie": score_tie}), OPTIONS[m])


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_certificates_sound_four_candidates(data: st.DataObject) -> None:
    strict = [ranked(order) for order in itertools.permutations(range(4))]
    ballots = data.draw(lopsided_profiles(strict + [ranked((0,)), ranked(())], 5))
    assert_certificates_sound(4, ballots, aggregation.normalize("runoff", 4), OPTIONS[4])


@pytest.mark.parametrize(
    ("m", "orders"),
    [
        # N = [2, 2, 3]: 2 leads, but one ballot moved from 2 to 0 (N = [3, 2, 2]) knocks it out
        # of the final: gap(2,0) = gap(2,1) = 1, CertR1 = D(1, 1) = 1 < CertR2 = 2, R_roe = 0.
        (3, [(0, 2, 1)] * 2 + [(1, 2, 0)] * 2 + [(2, 0, 1)] * 2 + [(2, 1, 0)]),
        (3, [(0, 2, 1)] * 2 + [(1, 0, 2)] * 2 + [(2, 0, 1)] * 2),
        (4, [(0, 1, 2, 3), (1, 0, 2, 3), (2, 0, 1, 3), (3, 0, 2, 1)]),
    ],
)
def test_certificate_sound_where_round_one_binds(m: int, orders: list[tuple[int, ...]]) -> None:
    ballots = [ranked(order) for order in orders]
    result = run(m, ballots)
    assert (result.details["cert_r1"], result.details["cert_r2"], result.certificate) == (1, 2, 0)
    assert_certificates_sound(m, ballots, aggregation.normalize("runoff", m), OPTIONS[m])
    # and the bound is tight: some single changed ballot does change the winner
    tally = RunoffTally.from_ballots(m, ballots)
    params = aggregation.normalize("runoff", m)
    flips = []
    for old, new in itertools.product(set(ballots), OPTIONS[m]):
        tally.remove(old)
        tally.add(new)
        flips.append(tally.result(params).winners != result.winners)
        tally.remove(new)
        tally.add(old)
    assert any(flips)

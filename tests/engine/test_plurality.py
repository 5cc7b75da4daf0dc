"""Plurality and majority (rules-spec §1) and the plurality certificate (§2.4).

Expected values are worked out by hand in the comments; the property tests check the
certificate by brute force and the incremental tally against the batch rule.
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
from aggregation.core import UNBOUNDED, Ballot, InvalidInput, choice, ranked
from aggregation.plurality import ChoiceTally, plurality_certificate
from aggregation.registry import get_rule

from .helpers import sub_multisets

F = Fraction


def run(rule: str, m: int, ballots: list[Ballot], **params: Any) -> aggregation.Result:
    return aggregation.tally(rule, m, ballots, params)


def votes(*counts: int) -> list[Ballot]:
    """counts[c] unit ballots for candidate c, in candidate order."""
    return [choice(c) for c, count in enumerate(counts) for _ in range(count)]


# -- plurality -----------------------------------------------------------------------------


def test_plain_win_with_tallies_round_and_certificate() -> None:
    result = run("plurality", 3, votes(5, 3, 1))
    assert (result.status, result.winners) == ("winner", [0])
    assert result.tallies == {0: 5, 1: 3, 2: 1}
    assert result.ranking == [0, 1, 2]
    assert result.details["W_cast"] == 9 and result.details["W_valid"] == 9
    assert len(result.rounds) == 1 and result.rounds[0].winners == [0]
    # tie_break none: a tie is already a change, so floor((5 - (3 + 1)) / 2) = 0
    assert result.certificate == 0
    # lowest_index: floor((5 - max(3 + 0, 1 + 0)) / 2) = 1 (one change gives 4:4, still 0 by index)
    assert run("plurality", 3, votes(5, 3, 1), tie_break="lowest_index").certificate == 1


def test_certificate_formula_uses_index_order() -> None:
    # winner 1 with 5 against candidate 0 with 3: 0 wins ties, so floor((5 - (3 + 1)) / 2) = 0
    assert plurality_certificate([3, 5], 1) == 0
    assert plurality_certificate([3, 6], 1) == 1
    assert plurality_certificate([6, 3], 0) == 1
    assert plurality_certificate([6, 3], 0, strict=True) == 1
    assert plurality_certificate([7, 3, 3], 0, strict=True) == 1
    assert plurality_certificate([9], 0) == UNBOUNDED


def test_zero_ballots_is_no_valid_votes() -> None:
    result = run("plurality", 3, [])
    assert (result.status, result.winners, result.certificate) == ("no_valid_votes", [], None)
    assert result.ranking is None


def test_all_abstain_is_no_valid_votes_and_empty_ranking_abstains() -> None:
    result = run("plurality", 2, [choice(None), ranked([]), choice(None)])
    assert result.status == "no_valid_votes"
    assert result.details["W_cast"] == 3 and result.details["abstained"] == 3


def test_ranking_counts_only_its_top_choice() -> None:
    result = run("plurality", 3, [ranked([2, 0, 1]), ranked([2]), ranked([0, 2]), choice(None)])
    assert result.tallies == {0: 1, 1: 0, 2: 2}
    assert result.winners == [2]
    assert result.details["abstained"] == 1


def test_all_tied() -> None:
    tie = run("plurality", 3, votes(2, 2, 2))
    assert (tie.status, tie.winners, tie.certificate) == ("tie", [0, 1, 2], 0)
    broken = run("plurality", 3, votes(2, 2, 2), tie_break="lowest_index")
    assert (broken.status, broken.winners, broken.tie_break) == ("winner_by_tiebreak", [0], "lowest_index")
    assert broken.certificate == 0


def test_one_candidate_certificate_counts_its_ballots() -> None:
    # [deviation from "unbounded"]: blanking all 3 ballots for the only candidate leaves no
    # valid vote, so the result survives 2 changed ballots, not any number.
    result = run("plurality", 1, [choice(0), choice(0), choice(0), choice(None)])
    assert (result.status, result.winners, result.certificate) == ("winner", [0], 2)


def test_exact_weights_tie_r1_16() -> None:
    # 1/10 + 2/10 = 3/10 exactly; doubles would say 0.30000000000000004 > 0.3
    ballots = [choice(0, F(1, 10)), choice(0, F(2, 10)), choice(1, F(3, 10))]
    result = run("plurality", 2, ballots)
    assert (result.status, result.winners) == ("tie", [0, 1])
    assert result.tallies == {0: F(3, 10), 1: F(3, 10)}
    assert result.certificate is None  # unequal weights


def test_equal_weights_certificate_counts_ballots() -> None:
    ballots = [choice(c, F(1, 2)) for c in (0, 0, 0, 0, 0, 1)]
    # 5 against 1 ballots of weight 1/2: floor((5 - 2) / 2) = 1 with tie_break none
    assert run("plurality", 2, ballots).certificate == 1


def test_zero_weight_ballot_is_cast_but_carries_no_vote_r1_18() -> None:
    result = run("plurality", 2, [choice(0), choice(1, 0), choice(1, 0)])
    assert (result.status, result.winners) == ("winner", [0])
    assert result.details["ballots"] == 3 and result.details["W_cast"] == 1
    assert result.certificate is None  # weights 1 and 0 differ
    assert run("plurality", 2, [choice(1, 0)]).status == "no_valid_votes"


def test_out_of_range_choice_names_the_ballot_r1_19() -> None:
    with pytest.raises(InvalidInput) as error:
        aggregation.tally("plurality", 2, [choice(0), choice(2)])
    assert error.value.ballot_index == 1
    with pytest.raises(InvalidInput):
        aggregation.tally("plurality", 2, [ranked([0, 0])])
    with pytest.raises(InvalidInput):
        aggregation.tally("plurality", 2, [aggregation.core.valued(3)])


def test_quorum_is_checked_first() -> None:
    ballots = votes(2, 1) + [choice(None)]
    count = {"type": "count", "value": 4}
    assert run("plurality", 2, ballots, quorum=count).status == "winner"
    result = run("plurality", 2, ballots, quorum=count, quorum_counts_abstentions=False)
    assert (result.status, result.winners, result.certificate) == ("no_quorum", [], None)
    assert result.details["quorum_present"] == 3 and result.details["quorum_required"] == 4
    # zero ballots with a quorum is no_quorum, not no_valid_votes
    assert run("plurality", 2, [], quorum=count).status == "no_quorum"
    fraction = {"type": "fraction_of_eligible", "value": "1/2"}
    assert run("plurality", 2, ballots, quorum=fraction, eligible_weight=8).status == "winner"  # 4 >= 4
    assert run("plurality", 2, ballots, quorum=fraction, eligible_weight=9).status == "no_quorum"  # 4 < 9/2


def test_quorum_caps_the_certificate() -> None:
    # 9 to 1 would survive floor((9 - 2) / 2) = 3 changes, but only 1 ballot may leave a quorum of 9
    result = run("plurality", 2, votes(9, 1), quorum={"type": "count", "value": 9})
    assert result.certificate == 1


def test_eligible_weight_below_cast_weight_is_refused() -> None:
    with pytest.raises(InvalidInput, match="eligible_weight"):
        run("plurality", 2, votes(3, 2), quorum={"type": "fraction_of_eligible", "value": "1/2"}, eligible_weight=4)


# -- majority ------------------------------------------------------------------------------


def test_absolute_majority_exactly_half_is_not_a_majority_r1_08() -> None:
    result = run("majority", 2, votes(2, 2))
    assert (result.status, result.winners) == ("threshold_not_met", [])
    assert result.details["leaders"] == [0, 1] and result.details["required_more_than"] == 2
    result = run("majority", 3, votes(3, 2, 1))
    assert result.status == "threshold_not_met"  # 3 of 6 is exactly half
    assert run("majority", 3, votes(4, 2, 1)).winners == [0]  # 4 of 7
    assert run("majority", 2, votes(2, 2)).certificate is None


def test_one_candidate_base_cast_counts_abstentions_against_r1_06_07() -> None:
    ballots = votes(2) + [choice(None), choice(None)]
    assert run("majority", 1, ballots).winners == [0]  # 2 of 2 valid
    result = run("majority", 1, ballots, base="cast")  # 2 of 4 cast: exactly half
    assert (result.status, result.details["base_weight"]) == ("threshold_not_met", 4)
    assert run("majority", 1, [*ballots[:3]], base="cast").winners == [0]  # 2 of 3


def test_supermajority_is_inclusive_unless_strict() -> None:
    two_thirds = {"supermajority": "2/3"}
    result = run("majority", 2, votes(2, 1), threshold=two_thirds)
    assert (result.status, result.winners, result.details["required_at_least"]) == ("winner", [0], 2)
    strict = run("majority", 2, votes(2, 1), threshold=two_thirds, strict_supermajority=True)
    assert (strict.status, strict.details["required_more_than"]) == ("threshold_not_met", 2)
    unanimous = {"supermajority": 1}
    assert run("majority", 2, votes(3, 0), threshold=unanimous).winners == [0]
    assert run("majority", 2, votes(3, 1), threshold=unanimous).status == "threshold_not_met"


def test_supermajority_with_exact_fractional_weights() -> None:
    # 2/3 of 9/10 is 3/5; candidate 0 has 1/10 + 1/2 = 3/5 exactly
    ballots = [choice(0, F(1, 10)), choice(0, F(1, 2)), choice(1, F(3, 10))]
    assert run("majority", 2, ballots, threshold={"supermajority": "2/3"}).winners == [0]
    assert run("majority", 2, ballots, threshold={"supermajority": "2/3"}, strict_supermajority=True).winners == []


def test_base_eligible_counts_non_voters_against() -> None:
    result = run("majority", 2, votes(5, 1), base="eligible", eligible_weight=10)
    assert (result.status, result.details["base_weight"]) == ("threshold_not_met", 10)
    assert run("majority", 2, votes(6, 1), base="eligible", eligible_weight=10).winners == [0]


def test_majority_with_plurality_threshold_and_tie_break() -> None:
    result = run("majority", 3, votes(2, 2, 1), threshold="plurality")
    assert (result.status, result.winners) == ("tie", [0, 1])
    result = run("majority", 3, votes(2, 2, 1), threshold="plurality", tie_break="lowest_index")
    assert (result.status, result.winners, result.certificate) == ("winner_by_tiebreak", [0], None)


def test_majority_zero_ballots_and_abstentions() -> None:
    assert run("majority", 2, []).status == "no_valid_votes"
    result = run("majority", 2, votes(2, 1) + [choice(None)] * 2, base="cast")
    assert result.status == "threshold_not_met"  # 2 of 5 cast
    assert run("majority", 2, votes(2, 1) + [choice(None)] * 2).winners == [0]  # 2 of 3 valid


# -- parameters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "params", "message"),
    [
        ("plurality", {"threshold": "absolute_majority"}, "unknown parameter 'threshold'"),
        ("plurality", {"tie_break": "random"}, "tie_break"),
        ("plurality", {"quorum": {"type": "count"}}, "quorum"),
        ("plurality", {"quorum": {"type": "percent", "value": 3}}, "quorum type"),
        ("plurality", {"quorum": {"type": "count", "value": -1}}, "negative"),
        ("plurality", {"quorum": {"type": "count", "value": "x"}}, "quorum value"),
        ("plurality", {"quorum": {"type": "fraction_of_eligible", "value": "1/2"}}, "needs eligible_weight"),
        (
            "plurality",
            {"quorum": {"type": "fraction_of_eligible", "value": 2}, "eligible_weight": 3},
            "between 0 and 1",
        ),
        ("plurality", {"quorum_counts_abstentions": "yes"}, "true or false"),
        ("plurality", {"eligible_weight": 0}, "positive"),
        ("plurality", {"eligible_weight": True}, "eligible_weight"),
        ("majority", {"threshold": {"supermajority": "1/2"}}, "more than 1/2"),
        ("majority", {"threshold": {"supermajority": "11/10"}}, "at most 1"),
        ("majority", {"threshold": {"supermajority": "2/3", "strict": True}}, "threshold must be"),
        ("majority", {"threshold": "relative"}, "threshold must be"),
        ("majority", {"base": "eligible"}, "needs eligible_weight"),
        ("majority", {"base": "present"}, "base must be"),
        ("majority", {"strict_supermajority": 1}, "true or false"),
        ("majority", {"score_tie": "abstain"}, "unknown parameter"),
    ],
)
def test_bad_params_are_refused(rule: str, params: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        aggregation.normalize(rule, 2, params)


def test_params_are_normalized_exactly_and_idempotently() -> None:
    params = aggregation.normalize(
        "majority", 2, {"threshold": {"supermajority": 0.75}, "quorum": {"type": "count", "value": "6/4"}}
    )
    assert params["threshold"] == {"supermajority": "3/4"}
    assert params["quorum"] == {"type": "count", "value": "3/2"}
    assert params["base"] == "valid" and params["tie_break"] == "none" and params["strict_supermajority"] is False
    assert aggregation.normalize("majority", 2, params) == params
    assert set(get_rule("plurality").params) == {"tie_break", "quorum", "quorum_counts_abstentions", "eligible_weight"}


# -- tallies -------------------------------------------------------------------------------


def test_removing_a_ballot_that_was_never_added_is_refused() -> None:
    tally = ChoiceTally(2)
    tally.add(choice(0))
    with pytest.raises(InvalidInput):
        tally.remove(choice(1))
    with pytest.raises(InvalidInput):
        tally.remove(choice(0, 2))
    tally.remove(choice(0))
    assert tally == ChoiceTally(2)


def test_from_rankings_reads_top_choices_and_checks_the_array() -> None:
    rankings = np.array([[2, 0, 1], [2, 1, 0], [0, 1, 2]])
    spec = get_rule("plurality")
    tally = spec.tally_from_rankings(3, rankings)
    assert tally == ChoiceTally.from_ballots(3, [ranked(row) for row in rankings.tolist()])
    assert tally.result(spec.normalize_params({}, 3)).winners == [2]
    with pytest.raises(InvalidInput):
        spec.tally_from_rankings(3, np.array([[3, 0, 1]]))
    with pytest.raises(InvalidInput):
        spec.tally_from_rankings(3, np.array([[-1, 0, 1]], dtype=np.int8))
    with pytest.raises(InvalidInput):
        spec.tally_from_rankings(3, np.array([[0.0, 1.0, 2.0]]))
    with pytest.raises(InvalidInput):
        spec.tally_from_rankings(3, np.array([[0, 1]]))
    assert spec.tally_from_rankings(3, np.zeros((0, 3), dtype=int)) == ChoiceTally(3)


# -- properties ----------------------------------------------------------------------------

WEIGHTS = st.sampled_from([F(1), F(1), F(2), F(1, 2), F(1, 3), F(0)])


@st.composite
def choice_ballots(draw: st.DrawFn, m: int) -> Ballot:
    top = draw(st.one_of(st.none(), st.integers(0, m - 1)))
    weight = draw(WEIGHTS)
    if draw(st.booleans()):
        return choice(top, weight)
    rest = [c for c in range(m) if c != top]
    return ranked(([] if top is None else [top]) + draw(st.permutations(rest))[: draw(st.integers(0, m - 1))], weight)


PARAMS = st.sampled_from(
    [
        ("plurality", {}),
        ("plurality", {"tie_break": "lowest_index"}),
        ("plurality", {"quorum": {"type": "count", "value": 3}, "quorum_counts_abstentions": False}),
        ("majority", {}),
        ("majority", {"threshold": {"supermajority": "2/3"}, "base": "cast"}),
        (
            "majority",
            {"base": "eligible", "eligible_weight": 40, "quorum": {"type": "fraction_of_eligible", "value": "1/10"}},
        ),
    ]
)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), m=st.integers(1, 4), config=PARAMS)
def test_incremental_tally_equals_batch(data: st.DataObject, m: int, config: tuple[str, dict[str, Any]]) -> None:
    rule, raw = config
    spec = get_rule(rule)
    params = spec.normalize_params(dict(raw), m)
    ballots = data.draw(st.lists(choice_ballots(m), max_size=12))
    left = spec.new_tally(m)
    right = spec.new_tally(m)
    kept: list[Ballot] = []
    for ballot in ballots:
        (left if data.draw(st.booleans()) else right).add(ballot)
        kept.append(ballot)
    merged = left.merge(right)
    for _ in range(data.draw(st.integers(0, len(kept)))):
        ballot = kept.pop(data.draw(st.integers(0, len(kept) - 1)))
        merged.remove(ballot)
    batch = spec.compute(m, kept, params)
    assert merged.result(params) == batch
    assert merged == ChoiceTally.from_ballots(m, list(reversed(kept)), rule)
    restored = spec.tally_from_state(merged.to_state())
    assert restored == merged and restored.result(params) == batch


@settings(max_examples=30, deadline=None)
@given(m=st.integers(1, 5), seed=st.integers(0, 2**32 - 1), n=st.integers(0, 40))
def test_from_rankings_equals_ballots(m: int, seed: int, n: int) -> None:
    rankings = np.argsort(np.random.default_rng(seed).random((n, m)), axis=1)
    for rule in ("plurality", "majority"):
        spec = get_rule(rule)
        fast = spec.tally_from_rankings(m, rankings)
        slow = spec.compute(m, [ranked(row) for row in rankings.tolist()], spec.normalize_params({}, m))
        assert fast.result(spec.normalize_params({}, m)) == slow


def assert_certificate_sound(
    rule: str, m: int, ballots: list[Ballot], params: dict[str, Any], options: list[Ballot]
) -> None:
    """No change of R ballots to any of ``options``, and no removal of R ballots, alters the winners.

    Changing fewer than R ballots is covered: options include every ballot in the profile,
    and a ballot "changed" to itself is unchanged.
    """
    spec = get_rule(rule)
    tally = spec.new_tally(m)
    for ballot in ballots:
        tally.add(ballot)
    base = tally.result(params)
    certificate = base.certificate
    if certificate is None:
        return
    budget = len(ballots) if certificate == UNBOUNDED else min(int(certificate), len(ballots))
    for removed in sub_multisets(Counter(ballots), budget):
        for ballot in removed:
            tally.remove(ballot)
        assert tally.result(params).winners == base.winners, (ballots, "removed", removed)
        for added in itertools.combinations_with_replacement(options, budget):
            for ballot in added:
                tally.add(ballot)
            assert tally.result(params).winners == base.winners, (ballots, removed, added)
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


CERTIFIED = st.sampled_from(
    [
        {},
        {"tie_break": "lowest_index"},
        {"quorum": {"type": "count", "value": 4}},
        {"quorum": {"type": "count", "value": 3}, "quorum_counts_abstentions": False, "tie_break": "lowest_index"},
    ]
)


@settings(max_examples=80, deadline=None)
@given(data=st.data(), m=st.integers(1, 4), raw=CERTIFIED)
def test_plurality_certificate_is_sound_by_brute_force(data: st.DataObject, m: int, raw: dict[str, Any]) -> None:
    n_max = 7 if m <= 3 else 5
    options = [choice(None)] + [choice(c) for c in range(m)]
    ballots = data.draw(lopsided_profiles(options, n_max))
    params = aggregation.normalize("plurality", m, raw)
    assert_certificate_sound("plurality", m, ballots, params, options)


def test_plurality_certificate_is_tight_on_an_example() -> None:
    # 5:3:1, lowest_index: R = 1, and two changes (0 -> 1 twice) give 3:5:1, a different winner
    params = aggregation.normalize("plurality", 3, {"tie_break": "lowest_index"})
    assert run("plurality", 3, votes(5, 3, 1), **params).certificate == 1
    assert run("plurality", 3, votes(3, 5, 1), **params).winners == [1]

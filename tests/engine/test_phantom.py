"""Uniform Phantom and independent markets (aggregation.phantom), against brute-force references.

The references here are deliberately naive: UPM sorts every report and phantom and takes
the n-th; independent markets evaluates the medians at every breakpoint of the piecewise
linear sum and interpolates. Properties from rules-spec §4 (strategyproofness, anonymity,
unanimity, proportionality, UFS, PF) are checked on the engine's own results.
"""

from __future__ import annotations

import itertools
import json
import random
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import aggregation
from aggregation import jsonio
from aggregation.core import Ballot, InvalidInput, allocated, valued
from aggregation.phantom import AllocationTally, ValueTally, _dec, _decimal_sum, _decimal_sum_part
from aggregation.registry import get_rule

F = Fraction
UPM = "uniform_phantom"
IM = "independent_markets"
FAST = settings(max_examples=40, deadline=None)


# ----------------------------------------------------------------------------- references


def upm_reference(
    reports: list[tuple[Fraction, int]], lo: Fraction | int = 0, hi: Fraction | int = 1
) -> Fraction | None:
    """The W-th smallest of the clamped reports (w copies each) and phantoms lo + k(hi − lo)/W."""
    lo, hi = F(lo), F(hi)
    values = [min(max(value, lo), hi) for value, weight in reports for _ in range(weight)]
    total = len(values)
    if total == 0:
        return None
    pool = sorted(values + [lo + (hi - lo) * k / total for k in range(1, total)])
    return pool[total - 1]


def upm(values: list, lo=0, hi=1, weights: list[int] | None = None, **params) -> Fraction | None:
    """The engine's outcome for plain reports."""
    weights = weights or [1] * len(values)
    ballots = [valued(v, w) for v, w in zip(values, weights, strict=True)]
    return aggregation.tally(UPM, 1, ballots, {"lo": lo, "hi": hi, **params}).outcome


def market_shares_at(t: Fraction, shares: list[list[Fraction]]) -> list[Fraction]:
    """A_j(t) by definition: the median of n+1 phantoms min(t(n − k), 1) and the n shares."""
    n = len(shares)
    phantoms = [min(t * (n - k), F(1)) for k in range(n + 1)]
    return [sorted(phantoms + [row[j] for row in shares])[n] for j in range(len(shares[0]))]


def im_reference(allocations: list[list[Fraction]], total: Fraction) -> list[Fraction]:
    """Independent markets by enumerating every breakpoint p_ij/(n − k), 1/(n − k) and interpolating."""
    shares = [[F(a) / total for a in row] for row in allocations]
    n = len(shares)
    points = {F(0), F(1)}
    for c in range(1, n + 1):
        points.add(F(1, c))
        for row in shares:
            points.update(p / c for p in row)
    points = sorted(p for p in points if 0 <= p <= 1)
    sums = [sum(market_shares_at(t, shares)) for t in points]
    for (t1, s1), (t2, s2) in itertools.pairwise(zip(points, sums, strict=True)):
        if s1 <= 1 <= s2:
            t = t1 if s1 == s2 else t1 + (1 - s1) * (t2 - t1) / (s2 - s1)
            return [total * a for a in market_shares_at(t, shares)]
    raise AssertionError("no crossing")


def im(allocations: list[list], total=1, weights: list[int] | None = None) -> list[Fraction]:
    """The engine's allocation."""
    weights = weights or [1] * len(allocations)
    ballots = [allocated(row, w) for row, w in zip(allocations, weights, strict=True)]
    result = aggregation.tally(IM, len(allocations[0]), ballots, {"total": total})
    assert result.allocation is not None
    return result.allocation


# ----------------------------------------------------------------------------- UPM: hand-computed cases


def test_zero_reports_gives_no_reports():
    result = aggregation.tally(UPM, 1, [])
    assert result.status == "no_reports"
    assert result.outcome is None
    assert result.winners == []


def test_one_report_is_the_outcome():
    assert upm([F(3, 10)]) == F(3, 10)
    assert upm([42], lo=0, hi=100) == 42


def test_all_equal_reports_give_that_value():
    assert upm([F(7, 10)] * 5) == F(7, 10)


def test_hand_computed_cases():
    # 0, 1, 1 with phantoms 1/3, 2/3: sorted 0, 1/3, 2/3, 1, 1 -> 3rd is 2/3
    assert upm([0, 1, 1]) == F(2, 3)
    # 0.3, 0.9 and 0.5 twice: phantoms 1/4, 1/2, 3/4 -> 1/4, 3/10, 1/2, 1/2, 1/2, ... -> 4th is 1/2
    assert upm(["0.3", "0.9", "0.5"], weights=[1, 1, 2]) == F(1, 2)
    # [0, 100]: 10, 20, 90 with phantoms 100/3, 200/3 -> 3rd is 100/3 (a phantom)
    result = aggregation.tally(UPM, 1, [valued(10), valued(20), valued(90)], {"lo": 0, "hi": 100})
    assert result.outcome == F(100, 3)
    assert result.status == "winner"
    assert result.details["source"] == "phantom"
    assert result.details["median"] == 20
    assert result.details["mean"] == 40
    assert result.rounds[0].extra["phantom_index"] == 1


def test_clamping_is_the_default():
    result = aggregation.tally(UPM, 1, [valued(-5), valued("0.2"), valued(7)])
    # clamped to 0, 1/5, 1 with phantoms 1/3, 2/3 -> 3rd smallest is 1/3
    assert result.outcome == F(1, 3)
    assert result.details["median"] == F(1, 5)
    assert result.details["mean"] == F(2, 5)
    assert result.rounds[0].extra["clamped_below"] == 1
    assert result.rounds[0].extra["clamped_above"] == 1
    assert "nearest end" in result.rounds[0].note


def test_reject_mode_names_the_ballot():
    ballots = [valued("0.5"), valued("1.5"), valued(0)]
    with pytest.raises(InvalidInput) as caught:
        aggregation.tally(UPM, 1, ballots, {"out_of_range": "reject"})
    assert caught.value.ballot_index == 1
    assert "outside the range [0, 1]" in caught.value.message
    assert aggregation.tally(UPM, 1, [valued(0), valued(1)], {"out_of_range": "reject"}).outcome == F(1, 2)
    params = {"lo": "1/3", "hi": "2/3", "out_of_range": "reject"}
    with pytest.raises(InvalidInput) as caught:
        aggregation.tally(UPM, 1, [valued("1/3"), valued("0.3")], params)
    assert caught.value.ballot_index == 1
    assert "outside the range [1/3, 2/3]" in caught.value.message
    assert aggregation.tally(UPM, 1, [valued("1/3"), valued("2/3")], params).outcome == F(1, 2)


def test_degenerate_and_invalid_ranges():
    assert upm([3, 9, -1], lo=5, hi=5) == 5
    with pytest.raises(InvalidInput, match="must not be below lo"):
        aggregation.normalize(UPM, 1, {"lo": 2, "hi": 1})
    with pytest.raises(InvalidInput, match="unknown parameter 'total'"):
        aggregation.normalize(UPM, 1, {"total": 1})
    with pytest.raises(InvalidInput, match="'clamp' or 'reject'"):
        aggregation.normalize(UPM, 1, {"out_of_range": "ignore"})
    assert aggregation.normalize(UPM, 1, {"lo": "1/3", "hi": 2}) == {"lo": "1/3", "hi": 2, "out_of_range": "clamp"}


def test_integer_weights_are_identical_reporters():
    # weights 3 and 1 = reporters 0, 0, 0, 1: proportional outcome 1/4
    assert upm([0, 1], weights=[3, 1]) == F(1, 4)
    assert upm([0, 1], weights=[3, 1]) == upm([0, 0, 0, 1])
    result = aggregation.tally(UPM, 1, [valued(0, 3), valued(1, 1), valued("0.5", 0)])
    assert result.details["reports"] == 4
    assert result.details["ballots"] == 3


def test_fractional_weight_is_refused_with_its_index():
    with pytest.raises(InvalidInput) as caught:
        aggregation.tally(UPM, 1, [valued(0), valued(1, F(1, 2))])
    assert caught.value.ballot_index == 1
    assert "whole number" in caught.value.message


@pytest.mark.parametrize(("ones", "zeros"), [(1, 3), (2, 2), (3, 0), (0, 4), (5, 2), (1, 9)])
def test_proportionality_r4_04_r4_06(ones, zeros):
    n = ones + zeros
    assert upm([1] * ones + [0] * zeros) == F(ones, n)
    # scaled to [0, 100]: reports at the ends give 100 * ones / n
    assert upm([100] * ones + [0] * zeros, lo=0, hi=100) == F(100 * ones, n)
    assert upm([7] * ones + [-3] * zeros, lo=-3, hi=7) == -3 + F(10 * ones, n)


def test_result_goes_through_the_json_form():
    case = {"rule": UPM, "candidates": ["x"], "ballots": [{"value": 0.1}, {"value": "1/3"}, {"value": 2}]}
    output = jsonio.run_case(json.loads(json.dumps(case)))
    assert output["status"] == "winner"
    assert output["outcome_exact"] == "1/3"
    assert output["details"]["median"] == "1/3"
    assert output["details"]["mean"] == "43/90"  # (1/10 + 1/3 + 1) / 3, clamped


# ----------------------------------------------------------------------------- UPM: properties

grid = st.integers(min_value=-2, max_value=22).map(lambda k: F(k, 20))
profiles = st.lists(st.tuples(grid, st.integers(min_value=1, max_value=3)), min_size=1, max_size=7)


@FAST
@given(profiles, st.sampled_from([(F(0), F(1)), (F(0), F(100)), (F(-1, 2), F(3, 4))]))
def test_upm_matches_the_brute_force_reference(profile, bounds):
    lo, hi = bounds
    scaled = [(lo + (hi - lo) * value, weight) for value, weight in profile]
    values, weights = zip(*scaled, strict=True)
    assert upm(list(values), lo, hi, list(weights)) == upm_reference(scaled, lo, hi)


@FAST
@given(st.lists(grid, min_size=1, max_size=6))
def test_upm_is_strategyproof_on_a_grid(reports):
    """No reporter gets strictly closer to their peak by reporting any other grid value."""
    truth = upm(reports)
    misreports = [F(k, 20) for k in range(-1, 22)]
    for i, peak in enumerate(reports):
        peak = min(max(peak, F(0)), F(1))
        honest = abs(truth - peak)
        for lie in misreports:
            changed = reports[:i] + [lie] + reports[i + 1 :]
            assert abs(upm(changed) - peak) >= honest, (reports, i, lie)


@FAST
@given(profiles, st.randoms(use_true_random=False))
def test_upm_is_anonymous(profile, rnd):
    values, weights = zip(*profile, strict=True)
    order = list(range(len(values)))
    rnd.shuffle(order)
    shuffled = upm([values[i] for i in order], weights=[weights[i] for i in order])
    assert shuffled == upm(list(values), weights=list(weights))


@FAST
@given(st.fractions(min_value=0, max_value=1, max_denominator=1000), st.integers(min_value=1, max_value=9))
def test_upm_is_unanimous(x, n):
    assert upm([x] * n) == x


@FAST
@given(st.integers(min_value=0, max_value=30), st.integers(min_value=0, max_value=30))
def test_upm_is_proportional(ones, zeros):
    if ones + zeros:
        assert upm([F(1)] * ones + [F(0)] * zeros) == F(ones, ones + zeros)


@FAST
@given(st.lists(grid.map(lambda v: min(max(v, F(0)), F(1))), min_size=1, max_size=8))
def test_upm_unanimous_fair_share_and_proportional_fairness(reports):
    """UFS: a group at one point x gets |y − x| <= 1 − |S|/n; PF: a group spanning r gets 1 − |S|/n + r."""
    y = upm(reports)
    ordered = sorted(reports)
    n = len(ordered)
    for start in range(n):
        for end in range(start + 1, n + 1):
            group = ordered[start:end]
            width = group[-1] - group[0]
            bound = 1 - F(len(group), n) + width
            assert all(abs(y - x) <= bound for x in group), (reports, group)
    for x in set(ordered):
        assert abs(y - x) <= 1 - F(ordered.count(x), n)


# ----------------------------------------------------------------------------- UPM: the tally


def tally_result(tally, lo=0, hi=1):
    return tally.result(aggregation.normalize(UPM, 1, {"lo": lo, "hi": hi}))


def same_result(a, b):
    assert (a.status, a.outcome, a.details) == (b.status, b.outcome, b.details)


value_ballots = st.lists(
    st.builds(
        valued,
        st.one_of(grid, st.fractions(min_value=-1, max_value=2, max_denominator=7), st.floats(-1, 2)),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=12,
)


@FAST
@given(value_ballots, value_ballots, st.randoms(use_true_random=False))
def test_upm_incremental_add_remove_merge_equal_batch(first, second, rnd):
    spec = get_rule(UPM)
    params = aggregation.normalize(UPM, 1, {})
    tally = spec.new_tally(1)
    for ballot in first + second:
        tally.add(ballot)
        tally.result(params)  # keeps a cached clamped sum that later updates must maintain
    removed = [b for b in first + second if rnd.random() < 0.4]
    for ballot in removed:
        tally.remove(ballot)
    kept = list(first + second)
    for ballot in removed:
        kept.remove(ballot)
    batch = ValueTally.from_ballots(kept)
    assert tally == batch
    same_result(tally.result(params), spec.compute(1, kept, params))
    left, right = ValueTally.from_ballots(first), ValueTally.from_ballots(second)
    merged = left.merge(right)
    assert merged == ValueTally.from_ballots(first + second)
    same_result(merged.result(params), spec.compute(1, first + second, params))
    state = json.loads(json.dumps(tally.to_state()))
    assert spec.tally_from_state(state) == tally
    same_result(spec.tally_from_state(state).result(params), tally.result(params))


def test_values_that_share_a_float_are_ordered_exactly():
    third = F(1, 3)
    below = _dec(1 / 3)  # 0.3333333333333333, just under 1/3, held in the float array
    above = third + F(1, 10**30)  # no float holds it; its nearest float is the same as 1/3's
    for values in ([third, below, above], [above, third, below, 1], [below, above, 0, 0], [above, above, third]):
        profile = [(v, 1) for v in values]
        result = aggregation.tally(UPM, 1, [valued(v) for v in values])
        assert result.outcome == upm_reference(profile)
        ordered, half = sorted(values), len(values) // 2
        median = ordered[half] if len(values) % 2 else (ordered[half - 1] + ordered[half]) / 2
        assert result.details["median"] == median


def test_reports_at_the_ends_are_not_counted_as_clamped():
    result = tally_result(ValueTally.from_values(np.array([0.0, 0.25, 1.0])))
    assert result.rounds[0].extra["clamped_below"] == 0
    assert result.rounds[0].extra["clamped_above"] == 0
    assert result.details["mean"] == F(5, 12)
    result = tally_result(ValueTally.from_values(np.array([-0.5, 0.25, 1.5])))
    assert (result.rounds[0].extra["clamped_below"], result.rounds[0].extra["clamped_above"]) == (1, 1)


def test_upm_remove_of_an_absent_report_is_refused():
    tally = ValueTally.from_values(np.array([0.1, 0.2]))
    with pytest.raises(InvalidInput, match="does not hold it"):
        tally.remove(valued("0.3"))
    tally.remove(valued("0.2"))
    with pytest.raises(InvalidInput, match="does not hold it"):
        tally.remove(valued("0.2"))


def test_upm_many_changes_on_a_large_array_fold_correctly():
    """Enough pending changes to fold several times, removals from the array and values no float holds."""
    rng = np.random.default_rng(7)
    base = np.round(rng.random(900), 3)
    tally = ValueTally.from_values(base)
    reports: list[Fraction] = [_dec(x) for x in base]
    params = aggregation.normalize(UPM, 1, {"lo": "1/10", "hi": "9/10"})
    tally.result(params)
    pyrng = random.Random(3)
    for step in range(700):
        if step % 3 == 2:
            gone = reports.pop(pyrng.randrange(len(reports)))
            tally.remove(valued(gone))
        else:
            value = F(pyrng.randrange(-100, 1100), 1000) if step % 2 else F(pyrng.randrange(1, 50), 49)
            reports.append(value)
            tally.add(valued(value))
        if step % 50 == 0:
            assert tally.result(params).outcome == upm_reference([(v, 1) for v in reports], F(1, 10), F(9, 10))
    final = tally.result(params)
    assert final.outcome == upm_reference([(v, 1) for v in reports], F(1, 10), F(9, 10))
    clamped = [min(max(v, F(1, 10)), F(9, 10)) for v in reports]
    assert final.details["mean"] == sum(clamped) / len(clamped)
    assert tally == ValueTally.from_ballots([valued(v) for v in reports])


@FAST
@given(st.lists(st.floats(-1e6, 1e6, allow_subnormal=True), max_size=40), st.sampled_from([(0, 1), (-50, 50)]))
def test_from_values_equals_the_tally_of_ballots(values, bounds):
    array = np.array(values, dtype=np.float64)
    fast = ValueTally.from_values(array)
    slow = ValueTally.from_ballots([valued(float(v)) for v in values])
    assert fast == slow
    same_result(tally_result(fast, *bounds), tally_result(slow, *bounds))


def test_from_values_takes_integers_and_refuses_non_finite():
    ints = np.array([5, -3, 2**60, 7], dtype=np.int64)
    tally = ValueTally.from_values(ints)
    assert tally == ValueTally.from_ballots([valued(int(v)) for v in ints])
    assert tally_result(tally, -10, 10).outcome == upm_reference([(F(int(v)), 1) for v in ints], F(-10), F(10))
    small = ValueTally.from_values(np.arange(10, dtype=np.int32))
    assert tally_result(small, 0, 9).outcome == upm_reference([(F(v), 1) for v in range(10)], F(0), F(9))
    with pytest.raises(InvalidInput) as caught:
        ValueTally.from_values(np.array([0.5, np.nan, 0.1]))
    assert caught.value.ballot_index == 1
    with pytest.raises(InvalidInput):
        ValueTally.from_values(np.zeros((2, 2)))


def test_from_values_at_scale_matches_numpy():
    values = np.random.default_rng(12345).random(200_001)
    result = get_rule(UPM).tally_from_values(values).result(aggregation.normalize(UPM, 1, {}))
    n = len(values)
    pool = np.concatenate([values, np.arange(1, n) / n])
    assert float(result.outcome) == pytest.approx(float(np.partition(pool, n - 1)[n - 1]), abs=1e-12)
    assert float(result.details["median"]) == float(np.median(values))
    assert abs(float(result.details["mean"]) - float(np.mean(values))) < 1e-12
    assert result.details["mean"] * n == _decimal_sum_part(values[:70_000]) + _decimal_sum_part(values[70_000:])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_decimal_sum_is_exact_for_any_floats(values):
    assert _decimal_sum(np.array(values, dtype=np.float64)) == sum((_dec(v) for v in values), F(0))


def test_decimal_sum_is_exact_across_magnitudes():
    rng = np.random.default_rng(11)
    parts = [
        rng.random(3000),
        rng.random(3000) * 1e4 - 5e3,
        np.round(rng.random(3000) * 100, 2),
        np.exp(rng.uniform(-45, 80, 3000)),
        np.nextafter(np.round(rng.random(3000), 3), 2),
        2.0 ** rng.integers(-60, 60, 3000),
        rng.integers(-(2**53), 2**53, 3000).astype(np.float64),
    ]
    for values in parts:
        assert _decimal_sum(values) == sum((_dec(v) for v in values), F(0))


# ----------------------------------------------------------------------------- independent markets


def test_im_zero_ballots_gives_no_reports():
    result = aggregation.tally(IM, 3, [])
    assert result.status == "no_reports"
    assert result.allocation is None


def test_im_one_ballot_is_the_allocation():
    assert im([[F(1, 5), F(3, 10), F(1, 2)]]) == [F(1, 5), F(3, 10), F(1, 2)]
    assert im([[30, 70]], total=100) == [30, 70]


def test_im_single_candidate_gets_everything():
    assert im([[7], [7]], total=7) == [7]


def test_im_single_minded_voters_get_proportional_shares_r4_16():
    voters = [[1, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    assert im(voters) == [F(1, 2), F(1, 4), F(1, 4)]
    assert im([[1000, 0, 0], [0, 1000, 0], [0, 0, 1000]], total=1000, weights=[2, 1, 1]) == [500, 250, 250]
    result = aggregation.tally(IM, 3, [allocated(v) for v in voters])
    assert result.details["t"] == F(1, 4)
    assert len(result.rounds) == 4
    assert sum(result.allocation) == 1


def test_im_ballot_must_sum_to_the_total():
    with pytest.raises(InvalidInput) as caught:
        aggregation.tally(IM, 2, [allocated([60, 40]), allocated([50, 49])], {"total": 100})
    assert caught.value.ballot_index == 1
    assert "sums to 99, not the total 100" in caught.value.message
    with pytest.raises(InvalidInput) as caught:
        aggregation.tally(IM, 2, [allocated([1, 0]), allocated([2, -1])])
    assert caught.value.ballot_index == 1
    with pytest.raises(InvalidInput, match="positive"):
        aggregation.normalize(IM, 2, {"total": 0})
    with pytest.raises(InvalidInput, match="unknown parameter 'lo'"):
        aggregation.normalize(IM, 2, {"lo": 0})
    with pytest.raises(InvalidInput, match="whole number"):
        aggregation.tally(IM, 2, [allocated([1, 0], F(3, 2))])


def test_im_result_goes_through_the_json_form():
    case = {
        "rule": IM,
        "candidates": ["parks", "roads", "schools"],
        "ballots": [{"allocation": {"parks": 600, "schools": 400}}, {"allocation": {"roads": 1000}, "weight": 2}],
        "params": {"total": 1000},
    }
    output = jsonio.run_case(json.loads(json.dumps(case)))
    exact = output["allocation_exact"]
    assert sum(F(v) for v in exact.values()) == 1000
    expected = im([[600, 0, 400], [0, 1000, 0]], total=1000, weights=[1, 2])
    assert [F(exact[c]) for c in ("parks", "roads", "schools")] == expected


small_allocations = st.integers(min_value=1, max_value=4).flatmap(
    lambda m: st.lists(
        st.lists(st.integers(min_value=0, max_value=6), min_size=m, max_size=m).filter(lambda row: sum(row) > 0),
        min_size=1,
        max_size=5,
    )
)


def to_total(rows: list[list[int]], total: int) -> list[list[Fraction]]:
    """Scale integer rows so that each sums to ``total``."""
    return [[F(total * a, sum(row)) for a in row] for row in rows]


@FAST
@given(small_allocations, st.sampled_from([1, 10, 1000]))
def test_im_matches_the_breakpoint_reference_and_sums_to_total(rows, total):
    allocations = to_total(rows, total)
    ours = im(allocations, total=total)
    assert sum(ours) == total
    assert ours == im_reference(allocations, F(total))


@FAST
@given(small_allocations.filter(lambda rows: len(rows[0]) >= 2))
def test_im_t_star_agrees_with_float_bisection(rows):
    allocations = to_total(rows, 1)
    result = aggregation.tally(IM, len(rows[0]), [allocated(r) for r in allocations])
    floats = [[float(a) for a in row] for row in allocations]
    n = len(floats)

    def shares(t: float) -> list[float]:
        phantoms = [min(t * (n - k), 1.0) for k in range(n + 1)]
        return [sorted(phantoms + [row[j] for row in floats])[n] for j in range(len(floats[0]))]

    low, high = 0.0, 1.0
    for _ in range(200):
        mid = (low + high) / 2
        low, high = (mid, high) if sum(shares(mid)) < 1 else (low, mid)
    assert sum(shares(float(result.details["t"]))) == pytest.approx(1.0, abs=1e-12)
    assert shares(high) == pytest.approx([float(a) for a in result.allocation], abs=1e-9)


@FAST
@given(st.lists(st.integers(min_value=0, max_value=20), min_size=1, max_size=7), st.sampled_from([1, 20]))
def test_im_with_two_candidates_is_uniform_phantom(points, total):
    reports = [F(p, 20) * total for p in points]
    allocation = im([[total - r, r] for r in reports], total=total)
    assert allocation[1] == upm(reports, lo=0, hi=total)
    assert allocation[0] == total - allocation[1]


@FAST
@given(st.integers(min_value=1, max_value=4).flatmap(lambda m: st.lists(st.integers(0, 5), min_size=m, max_size=m)))
def test_im_is_unanimous(row):
    if sum(row):
        allocation = to_total([row], 1)[0]
        assert im([allocation] * 3) == allocation


def compositions(total: int, m: int) -> list[list[int]]:
    """Every way to split ``total`` whole units among m candidates."""
    return [
        [b - a - 1 for a, b in itertools.pairwise((-1, *cuts, total + m - 1))]
        for cuts in itertools.combinations(range(total + m - 1), m - 1)
    ]


@settings(max_examples=12, deadline=None)
@given(st.lists(st.sampled_from(compositions(4, 3)), min_size=2, max_size=3))
def test_im_is_strategyproof_under_l1(profile):
    """No voter brings the outcome strictly closer (in l1) to their own allocation by any misreport."""
    options = compositions(4, 3)
    truth = im(profile, total=4)
    for i, own in enumerate(profile):
        honest = sum(abs(a - b) for a, b in zip(truth, own, strict=True))
        for lie in options:
            outcome = im(profile[:i] + [lie] + profile[i + 1 :], total=4)
            assert sum(abs(a - b) for a, b in zip(outcome, own, strict=True)) >= honest, (profile, i, lie)


allocation_ballots = st.lists(
    st.builds(
        lambda row, w: allocated(to_total([row], 10)[0], w),
        st.lists(st.integers(0, 4), min_size=3, max_size=3).filter(lambda r: sum(r) > 0),
        st.integers(min_value=0, max_value=3),
    ),
    max_size=8,
)


@FAST
@given(allocation_ballots, allocation_ballots, st.randoms(use_true_random=False))
def test_im_incremental_add_remove_merge_equal_batch(first, second, rnd):
    spec = get_rule(IM)
    params = aggregation.normalize(IM, 3, {"total": 10})
    tally = spec.new_tally(3)
    for ballot in first + second:
        tally.add(ballot)
    removed = [b for b in first + second if rnd.random() < 0.4]
    for ballot in removed:
        tally.remove(ballot)
    kept = list(first + second)
    for ballot in removed:
        kept.remove(ballot)
    batch = spec.new_tally(3)
    for ballot in kept:
        batch.add(ballot)
    assert tally == batch
    ours, theirs = tally.result(params), spec.compute(3, kept, params)
    assert (ours.status, ours.allocation, ours.details) == (theirs.status, theirs.allocation, theirs.details)
    left, right = AllocationTally(3), AllocationTally(3)
    for ballot in first:
        left.add(ballot)
    for ballot in second:
        right.add(ballot)
    everything = AllocationTally(3)
    for ballot in first + second:
        everything.add(ballot)
    assert left.merge(right) == everything
    state = json.loads(json.dumps(tally.to_state()))
    assert spec.tally_from_state(state) == tally
    with pytest.raises(InvalidInput):
        spec.tally_from_state({"rule": IM, "m": 3})
    if not kept or all(b.weight == 0 for b in kept):
        assert ours.status == "no_reports"


def test_im_remove_of_an_absent_allocation_is_refused():
    tally = AllocationTally(2)
    tally.add(allocated([1, 0]))
    with pytest.raises(InvalidInput, match="does not hold"):
        tally.remove(allocated([0, 1]))
    with pytest.raises(InvalidInput):
        tally.add(Ballot(allocation=(F(1),)))

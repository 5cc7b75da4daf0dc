"""Properties every registered rule must have, checked on random profiles (hypothesis).

Written against the registry contract only, so a new rule is covered the moment it
registers: anonymity, neutrality (where no tie-break decided), and that the incremental
tally (add, remove, merge, to_state/from_state) always agrees with the batch rule.
"""

from __future__ import annotations

import json
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aggregation
from aggregation.core import Ballot, InvalidInput, to_fraction, validate_ballot
from aggregation.registry import RULES, RuleSpec

from .helpers import as_json

pytestmark = pytest.mark.slow

SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]
)

# Parameter settings exercised besides the defaults (only those a rule declares are used).
EXTRA_PARAMS: dict[str, list[dict[str, Any]]] = {
    "plurality": [{"tie_break": "lowest_index"}, {"tie_break": "none"}],
    "majority": [{"threshold": {"supermajority": "2/3"}, "base": "cast"}, {"tie_break": "lowest_index"}],
    "runoff": [{"score_tie": "roe_code"}],
    "irv": [{"tie_rule": "simultaneous"}, {"tie_rule": "order"}, {"tie_rule": "put"}],
    "borda": [{"tie_break": "lowest_index"}],
    "uniform_phantom": [{"lo": -2, "hi": 3}, {"lo": 0, "hi": 10, "out_of_range": "reject"}],
}


def configurations() -> list[tuple[str, dict[str, Any]]]:
    """(rule, raw params) pairs: every registered rule with its defaults, plus the extras it declares."""
    pairs: list[tuple[str, dict[str, Any]]] = []
    for name in sorted(RULES):
        pairs.append((name, {}))
        for params in EXTRA_PARAMS.get(name, []):
            if set(params) <= set(RULES[name].params):
                pairs.append((name, params))
    return pairs


CONFIGS = configurations()
IDS = [f"{rule}-{json.dumps(params, sort_keys=True)}" for rule, params in CONFIGS]


def _param(params: dict[str, Any], name: str) -> Fraction | None:
    value = params.get(name)
    return None if value is None else to_fraction(value, name)


def ballot_content(draw: st.DrawFn, form: str, m: int, params: dict[str, Any]) -> dict[str, Any]:
    """Draw the content fields of one ballot of the given form."""
    if form == "choice":
        return {"choice": draw(st.one_of(st.none(), st.integers(0, m - 1))), "is_choice": True}
    if form == "ranking":
        order = draw(st.permutations(range(m)))
        return {"ranking": tuple(order[: draw(st.integers(0, m))])}
    if form == "scores":
        score = st.fractions(min_value=-3, max_value=3, max_denominator=4)
        return {"scores": tuple(draw(st.lists(score, min_size=m, max_size=m)))}
    if form == "value":
        lo, hi = _param(params, "lo"), _param(params, "hi")
        if lo is None or hi is None:
            lo, hi = Fraction(-10), Fraction(10)
        spread = max(hi - lo, Fraction(1))
        return {"value": draw(st.fractions(min_value=lo - spread / 2, max_value=hi + spread / 2, max_denominator=8))}
    if form == "allocation":
        total = _param(params, "total")
        shares = draw(st.lists(st.integers(0, 4), min_size=m, max_size=m).filter(any))
        if total is None:
            return {"allocation": tuple(Fraction(share) for share in shares)}
        return {"allocation": tuple(total * share / sum(shares) for share in shares)}
    raise AssertionError(f"unknown ballot form {form}")


def acceptable(spec: RuleSpec, ballot: Ballot, m: int, params: dict[str, Any]) -> bool:
    """Whether the rule accepts the ballot (the same check the platform runs when a ballot is cast)."""
    try:
        validate_ballot(ballot, m, spec.ballot_forms, 0)
        if spec.check_ballot is not None:
            spec.check_ballot(ballot, m, params, 0)
    except InvalidInput:
        return False
    return True


@st.composite
def profiles(draw: st.DrawFn, rule: str, raw_params: dict[str, Any], max_ballots: int = 20):
    """A random case for a rule: (m, normalized params, ballots) using the forms the rule accepts."""
    spec = RULES[rule]
    m = draw(st.integers(1, 5))
    params = aggregation.normalize(rule, m, raw_params)
    unit = draw(st.booleans())
    weights = (
        st.just(Fraction(1))
        if unit
        else st.sampled_from([Fraction(1), Fraction(2), Fraction(0), Fraction(1, 2), Fraction(3)])
    )
    ballots: list[Ballot] = []
    for _ in range(draw(st.integers(0, max_ballots))):
        for _attempt in range(20):
            form = draw(st.sampled_from(spec.ballot_forms))
            ballot = Ballot(weight=draw(weights), **ballot_content(draw, form, m, params))
            if acceptable(spec, ballot, m, params):
                ballots.append(ballot)
                break
    return m, params, ballots


def build(spec: RuleSpec, m: int, ballots: list[Ballot]):
    """An incremental tally holding the ballots."""
    tally = spec.new_tally(m)
    for ballot in ballots:
        tally.add(ballot)
    return tally


def relabel(ballot: Ballot, perm: list[int]) -> Ballot:
    """The same ballot with candidate c renamed perm[c]."""

    def vector(values: tuple[Fraction, ...] | None) -> tuple[Fraction, ...] | None:
        if values is None:
            return None
        moved: list[Fraction] = [Fraction(0)] * len(values)
        for candidate, amount in enumerate(values):
            moved[perm[candidate]] = amount
        return tuple(moved)

    return Ballot(
        weight=ballot.weight,
        choice=None if ballot.choice is None else perm[ballot.choice],
        is_choice=ballot.is_choice,
        ranking=None if ballot.ranking is None else tuple(perm[c] for c in ballot.ranking),
        scores=vector(ballot.scores),
        value=ballot.value,
        allocation=vector(ballot.allocation),
    )


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_incremental_tally_equals_batch(rule, raw_params, data):
    spec = RULES[rule]
    m, params, ballots = data.draw(profiles(rule, raw_params))
    batch = as_json(aggregation.tally(rule, m, ballots, params), m)
    assert as_json(build(spec, m, ballots).result(params), m) == batch


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_anonymity(rule, raw_params, data):
    m, params, ballots = data.draw(profiles(rule, raw_params))
    shuffled = data.draw(st.permutations(ballots))
    assert as_json(aggregation.tally(rule, m, shuffled, params), m) == as_json(
        aggregation.tally(rule, m, ballots, params), m
    )


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_neutrality_when_no_tie_break_decides(rule, raw_params, data):
    m, params, ballots = data.draw(profiles(rule, raw_params))
    if "tb_order" in raw_params:
        return
    perm = data.draw(st.permutations(range(m)))
    before = aggregation.tally(rule, m, ballots, params)
    after = aggregation.tally(rule, m, [relabel(ballot, perm) for ballot in ballots], params)
    assert after.outcome == before.outcome
    if before.allocation is not None:
        assert after.allocation == [before.allocation[perm.index(c)] for c in range(m)]
    if before.status == "winner" and before.tie_break is None:
        assert after.status == "winner"
        assert after.winners == sorted(perm[c] for c in before.winners)
        assert after.tallies == {perm[c]: amount for c, amount in before.tallies.items()}


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_merge_equals_tally_of_union(rule, raw_params, data):
    spec = RULES[rule]
    m, params, ballots = data.draw(profiles(rule, raw_params))
    cut = data.draw(st.integers(0, len(ballots)))
    left, right = build(spec, m, ballots[:cut]), build(spec, m, ballots[cut:])
    whole = build(spec, m, ballots)
    merged = left.merge(right)
    assert merged == whole
    assert as_json(merged.result(params), m) == as_json(aggregation.tally(rule, m, ballots, params), m)
    # merge returns a new tally: the shards are unchanged
    assert left == build(spec, m, ballots[:cut])
    assert right == build(spec, m, ballots[cut:])


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_add_then_remove_is_never_added(rule, raw_params, data):
    spec = RULES[rule]
    m, params, ballots = data.draw(profiles(rule, raw_params))
    if not ballots:
        return
    position = data.draw(st.integers(0, len(ballots) - 1))
    others = ballots[:position] + ballots[position + 1 :]
    never = build(spec, m, others)
    tally = build(spec, m, ballots)
    tally.remove(ballots[position])
    assert tally == never
    assert as_json(tally.result(params), m) == as_json(never.result(params), m)
    never.add(ballots[position])
    never.remove(ballots[position])
    assert never == build(spec, m, others)


@pytest.mark.parametrize(("rule", "raw_params"), CONFIGS, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_state_round_trip(rule, raw_params, data):
    spec = RULES[rule]
    m, params, ballots = data.draw(profiles(rule, raw_params))
    tally = build(spec, m, ballots)
    state = json.loads(json.dumps(tally.to_state(), allow_nan=False))
    restored = spec.tally_from_state(state)
    assert restored == tally
    assert as_json(restored.result(params), m) == as_json(tally.result(params), m)
    # the restored tally keeps working incrementally
    if ballots:
        restored.remove(ballots[0])
        assert restored == build(spec, m, ballots[1:])

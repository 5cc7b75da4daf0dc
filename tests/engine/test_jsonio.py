"""Parsing and writing the engine's JSON forms (aggregation.jsonio)."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest

from aggregation import jsonio
from aggregation.core import UNBOUNDED, InvalidInput, Result, Round

IDS = ["a", "b", "c"]


def parse(text: str, index: int = 0):
    """Parse one ballot written as JSON text, the way the command line reads it."""
    return jsonio.parse_ballot(jsonio.loads(text), IDS, index)


def test_choice_ballot_maps_id_to_index():
    ballot = parse('{"choice": "c"}')
    assert ballot.kind == "choice"
    assert ballot.choice == 2
    assert ballot.weight == 1


def test_null_choice_is_an_abstention():
    ballot = parse('{"choice": null}')
    assert ballot.kind == "choice"
    assert ballot.choice is None
    assert ballot.top_choice() is None


def test_ranking_ballot_keeps_order_and_may_be_partial():
    assert parse('{"ranking": ["c", "a"]}').ranking == (2, 0)
    assert parse('{"ranking": []}').ranking == ()


def test_scores_are_exact_decimals():
    ballot = parse('{"scores": {"a": 0.1, "b": -0.2, "c": "1/3"}}')
    assert ballot.scores == (Fraction(1, 10), Fraction(-1, 5), Fraction(1, 3))


def test_scores_must_cover_every_candidate():
    with pytest.raises(InvalidInput, match="missing 'c'") as caught:
        parse('{"scores": {"a": 1, "b": 2}}', index=4)
    assert caught.value.ballot_index == 4


def test_value_ballot_is_exact():
    assert parse('{"value": 0.1}').value == Fraction(1, 10)
    assert parse('{"value": 12.5}').value == Fraction(25, 2)
    assert parse('{"value": "7/3"}').value == Fraction(7, 3)
    assert parse('{"value": 1e2}').value == 100


def test_allocation_missing_ids_count_as_zero():
    ballot = parse('{"allocation": {"b": 70, "a": 30.5}}')
    assert ballot.allocation == (Fraction(61, 2), Fraction(70), Fraction(0))


@pytest.mark.parametrize(
    ("weight", "expected"),
    [
        ("2", Fraction(2)),
        ('"1/2"', Fraction(1, 2)),
        ('"3"', Fraction(3)),
        ("0", Fraction(0)),
        ('" 2/4 "', Fraction(1, 2)),
    ],
)
def test_weights_are_ints_or_fraction_strings(weight, expected):
    assert parse(f'{{"choice": "a", "weight": {weight}}}').weight == expected


@pytest.mark.parametrize("weight", ["0.5", "1.0", '"0.5"', '"1e3"', "true", '"nan"', '"1/0"', "-1", '"-1/2"', "[1]"])
def test_bad_weights_are_refused_with_the_ballot_index(weight):
    with pytest.raises(InvalidInput) as caught:
        parse(f'{{"choice": "a", "weight": {weight}}}', index=7)
    assert caught.value.ballot_index == 7
    assert "ballot 7" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('{"choice": "z"}', "'z' is not a candidate"),
        ('{"choice": 0}', "candidate id"),
        ('{"ranking": ["a", "b", "a"]}', "'a' twice"),
        ('{"ranking": ["a", "q"]}', "'q' is not a candidate"),
        ('{"ranking": "a"}', "list"),
        ('{"scores": {"a": 1, "b": 2, "c": NaN}}', "finite"),
        ('{"scores": {"a": 1, "b": 2, "c": Infinity}}', "finite"),
        ('{"scores": {"a": 1, "b": 2, "c": 3, "d": 4}}', "'d' is not a candidate"),
        ('{"value": -Infinity}', "finite"),
        ('{"value": "nan"}', "not a number"),
        ('{"value": "inf"}', "not a number"),
        ('{"value": "1e999999999"}', "not a number"),
        ('{"value": 1e999999999}', "too large"),
        ('{"value": true}', "number"),
        ('{"value": null}', "number"),
        ('{"value": 1, "choice": "a"}', "exactly one"),
        ("{}", "exactly one"),
        ('{"weight": 2}', "exactly one"),
        ('{"choice": "a", "colour": "red"}', "unknown key 'colour'"),
        ('["a"]', "JSON object"),
    ],
)
def test_malformed_ballots_name_the_index(text, fragment):
    with pytest.raises(InvalidInput, match=fragment) as caught:
        parse(text, index=3)
    assert caught.value.ballot_index == 3


def test_loads_reads_decimals_as_decimal():
    case = jsonio.loads('{"x": 0.1, "y": 3}')
    assert case == {"x": Decimal("0.1"), "y": 3}


def test_exact_writes_ints_and_fraction_strings():
    assert jsonio.exact(Fraction(4, 2)) == 2
    assert jsonio.exact(Fraction(-1, 3)) == "-1/3"
    assert jsonio.exact(5) == 5


def test_result_to_json_uses_ids_and_exact_numbers():
    result = Result(
        rule="runoff",
        status="winner",
        winners=[2],
        tallies={0: Fraction(3, 2), 1: Fraction(0), 2: Fraction(5)},
        rounds=[
            Round(
                name="Round 1",
                note="first choices",
                tallies={0: Fraction(3, 2), 2: Fraction(5)},
                eliminated=[1],
                advanced=[2, 0],
                extra={"active": Fraction(13, 2), "finalists": (2, 0)},
            )
        ],
        ranking=[2, 0, 1],
        certificate=1,
        plurality_certificate=0,
        pairwise=[[Fraction(0), Fraction(1, 2), Fraction(-1)], [Fraction(-1, 2), 0, 0], [Fraction(1), 0, 0]],
        details={"total": Fraction(7, 3), "flags": {"x": True}},
        warnings=["w"],
    )
    out = jsonio.result_to_json(result, IDS)
    assert out["winners"] == ["c"]
    assert out["ranking"] == ["c", "a", "b"]
    assert out["tallies"] == {"a": "3/2", "b": 0, "c": 5}
    assert out["rounds"] == [
        {
            "name": "Round 1",
            "note": "first choices",
            "tallies": {"a": "3/2", "c": 5},
            "eliminated": ["b"],
            "advanced": ["c", "a"],
            "winners": [],
            "extra": {"active": "13/2", "finalists": ["c", "a"]},
        }
    ]
    assert out["certificate"] == {"changed_ballots": 1, "plurality": 0}
    assert out["pairwise"]["a"] == {"a": 0, "b": "1/2", "c": -1}
    assert out["details"] == {"total": "7/3", "flags": {"x": True}}
    assert out["outcome"] is None and out["outcome_exact"] is None
    assert out["allocation"] is None and out["allocation_exact"] is None
    assert out["warnings"] == ["w"]
    json.dumps(out, allow_nan=False)


def test_result_to_json_certificate_forms_and_outcomes():
    plain = Result(rule="plurality", status="winner", winners=[0], certificate=3)
    assert jsonio.result_to_json(plain, IDS)["certificate"] == {"changed_ballots": 3}
    unbounded = Result(rule="plurality", status="winner", winners=[0], certificate=UNBOUNDED)
    assert jsonio.result_to_json(unbounded, IDS)["certificate"] == "unbounded"
    none = Result(rule="borda", status="tie", winners=[1, 0])
    out = jsonio.result_to_json(none, IDS)
    assert out["certificate"] is None
    assert out["winners"] == ["a", "b"]
    phantom = Result(rule="uniform_phantom", status="winner", winners=[], outcome=Fraction(1, 3))
    out = jsonio.result_to_json(phantom, IDS)
    assert out["outcome_exact"] == "1/3"
    assert out["outcome"] == pytest.approx(1 / 3)
    budget = Result(
        rule="independent_markets",
        status="winner",
        winners=[],
        allocation=[Fraction(1, 2), Fraction(1, 4), Fraction(1, 4)],
    )
    out = jsonio.result_to_json(budget, IDS)
    assert out["allocation_exact"] == {"a": "1/2", "b": "1/4", "c": "1/4"}
    assert out["allocation"] == {"a": 0.5, "b": 0.25, "c": 0.25}


def test_parse_case_checks_candidates():
    with pytest.raises(InvalidInput, match="no candidates"):
        jsonio.parse_case({"rule": "borda", "candidates": [], "ballots": []})
    with pytest.raises(InvalidInput, match="'a' is listed twice"):
        jsonio.parse_case({"rule": "borda", "candidates": ["a", "b", "a"], "ballots": []})
    with pytest.raises(InvalidInput, match="strings"):
        jsonio.parse_case({"rule": "borda", "candidates": ["a", 2], "ballots": []})
    with pytest.raises(InvalidInput, match="unknown rule 'nope'"):
        jsonio.parse_case({"rule": "nope", "candidates": ["a"], "ballots": []})
    with pytest.raises(InvalidInput, match="unknown key 'extra'"):
        jsonio.parse_case({"rule": "borda", "candidates": ["a"], "ballots": [], "extra": 1})


def test_parse_case_translates_tb_order_and_decimal_params():
    case = jsonio.loads(
        '{"rule": "irv", "candidates": ["x", "y", "z"], "ballots": [{"ranking": ["z", "x"], "weight": "2/3"}],'
        ' "params": {"tie_rule": "order", "tb_order": ["z", "x", "y"], "quorum": {"type": "count", "value": 0.5}}}'
    )
    rule, ids, ballots, params = jsonio.parse_case(case)
    assert rule == "irv"
    assert ids == ["x", "y", "z"]
    assert ballots[0].ranking == (2, 0)
    assert ballots[0].weight == Fraction(2, 3)
    assert params["tb_order"] == [2, 0, 1]
    assert params["quorum"] == {"type": "count", "value": "1/2"}
    assert params["tie_rule"] == "order"


def test_parse_case_names_the_bad_ballot_and_tb_order_entry():
    with pytest.raises(InvalidInput) as caught:
        jsonio.parse_case(
            {"rule": "irv", "candidates": ["x", "y"], "ballots": [{"ranking": ["x"]}, {"ranking": ["w"]}]}
        )
    assert caught.value.ballot_index == 1
    with pytest.raises(InvalidInput, match="'w' is not a candidate"):
        jsonio.parse_case({"rule": "irv", "candidates": ["x", "y"], "ballots": [], "params": {"tb_order": ["w", "x"]}})


def test_run_case_borda_exact():
    out = jsonio.run_case(
        jsonio.loads(
            '{"rule": "borda", "candidates": ["a", "b", "c"], "ballots": ['
            '{"ranking": ["a", "b", "c"], "weight": "1/10"}, {"ranking": ["a", "b", "c"], "weight": "2/10"},'
            '{"ranking": ["b", "a", "c"], "weight": "3/10"}]}'
        )
    )
    # a: 2*(3/10) + 1*(3/10) = 9/10; b: 1*(3/10) + 2*(3/10) = 9/10; c: 0 -> an exact tie (rules-spec R1-16).
    assert out["tallies"] == {"a": "9/10", "b": "9/10", "c": 0}
    assert set(out["winners"]) <= {"a", "b"}
    assert out["status"] in ("tie", "winner_by_tiebreak")


def test_details_that_name_candidates_use_ids():
    result = Result(
        rule="irv",
        status="tie",
        winners=[0, 1],
        details={
            "tb_order": [2, 0, 1],
            "put_winners": [0, 1],
            "order_winner": 0,
            "beats": {0: Fraction(1), 1: Fraction(1), 2: Fraction(0)},
            "mean": [Fraction(1, 2), 0, Fraction(1, 2)],
            "path_strength": [[0, 1, 2], [0, 0, 2], [0, 0, 0]],
            "ballots": 4,
        },
    )
    details = jsonio.result_to_json(result, IDS)["details"]
    assert details["tb_order"] == ["c", "a", "b"]
    assert details["put_winners"] == ["a", "b"]
    assert details["order_winner"] == "a"
    assert details["beats"] == {"a": 1, "b": 1, "c": 0}
    assert details["mean"] == {"a": "1/2", "b": 0, "c": "1/2"}
    assert details["path_strength"]["a"] == {"a": 0, "b": 1, "c": 2}
    assert details["ballots"] == 4
    # a scalar under a per-candidate key (uniform_phantom's mean of reports) stays a number
    phantom = Result(rule="uniform_phantom", status="winner", winners=[], details={"mean": Fraction(7, 2)})
    assert jsonio.result_to_json(phantom, ["x"])["details"]["mean"] == "7/2"


def test_numbers_beyond_the_float_range_are_refused():
    with pytest.raises(InvalidInput, match="too large") as caught:
        parse('{"value": "1e300"}', index=5)
    assert caught.value.ballot_index == 5
    with pytest.raises(InvalidInput, match="too large"):
        parse('{"value": 1e400}')
    with pytest.raises(InvalidInput, match="too large"):
        parse('{"scores": {"a": 1, "b": 2, "c": "%s/1"}}' % ("9" * 400))
    assert parse('{"value": 1e299}').value == 10**299
    assert parse('{"value": 1e-400}').value == Fraction(1, 10**400)

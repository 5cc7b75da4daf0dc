"""The engine's command line as a real process: ``python -m aggregation tally | rules``.

Expected figures are worked out by hand in the comments from rules-spec.md.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from aggregation.registry import RULES

ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    """Run ``python -m aggregation ARGS`` from the repository root."""
    return subprocess.run(
        [sys.executable, "-m", "aggregation", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def tally(case: dict[str, Any] | str) -> dict[str, Any]:
    """Tally a good case and return the parsed JSON result, checking the process contract."""
    text = case if isinstance(case, str) else json.dumps(case)
    process = run(["tally"], text)
    assert process.returncode == 0, process.stderr
    assert process.stderr == ""
    assert process.stdout.endswith("\n") and process.stdout.count("\n") == 1
    return json.loads(process.stdout)


def rankings(*groups: tuple[int, list[str]]) -> list[dict[str, Any]]:
    """Ballots from (count, ranking) groups."""
    return [{"ranking": order} for count, order in groups for _ in range(count)]


def test_plurality_tally_and_certificate():
    # a: 5 choices, b: 1 choice + 1 ranking led by b, c: 0, one abstention.
    # Certificate (§2.4): floor((N[a] - max(N[b] + 0, N[c] + 0)) / 2) = floor((5 - 2) / 2) = 1.
    ballots = [{"choice": "a"}] * 5 + [{"choice": "b"}, {"ranking": ["b", "c"]}, {"choice": None}]
    out = tally({"rule": "plurality", "candidates": ["a", "b", "c"], "ballots": ballots})
    assert out["rule"] == "plurality"
    assert out["status"] == "winner"
    assert out["winners"] == ["a"]
    assert out["tallies"] == {"a": 5, "b": 2, "c": 0}
    assert out["certificate"] == {"changed_ballots": 1}
    assert out["outcome"] is None and out["allocation"] is None


def test_plurality_exact_weighted_tie():
    # rules-spec R1-16: 1/10 + 2/10 against 3/10 is an exact tie, not 0.30000000000000004 > 0.3.
    ballots = [{"choice": "a", "weight": "1/10"}, {"choice": "a", "weight": "2/10"}, {"choice": "b", "weight": "3/10"}]
    case = {"rule": "plurality", "candidates": ["a", "b", "c"], "ballots": ballots, "params": {"tie_break": "none"}}
    out = tally(case)
    assert out["status"] == "tie"
    assert out["winners"] == ["a", "b"]
    assert out["tallies"] == {"a": "3/10", "b": "3/10", "c": 0}
    assert out["certificate"] is None  # unequal weights: no certificate
    case["params"] = {"tie_break": "lowest_index"}
    out = tally(case)
    assert out["status"] == "winner_by_tiebreak"
    assert out["winners"] == ["a"]


def test_majority_needs_more_than_half():
    # 2 of 4 is exactly half: not a majority (R1-08).
    ballots = [{"choice": "a"}, {"choice": "a"}, {"choice": "b"}, {"choice": "c"}]
    case = {
        "rule": "majority",
        "candidates": ["a", "b", "c"],
        "ballots": ballots,
        "params": {"threshold": "absolute_majority"},
    }
    assert tally(case)["status"] == "threshold_not_met"
    case["ballots"] = ballots + [{"choice": "a"}]
    out = tally(case)
    assert out["status"] == "winner"
    assert out["winners"] == ["a"]


def test_runoff_winner_and_both_certificates():
    # N = (5, 4, 1): finalists a, b; a over b by 6 - 4 = 2, so a wins.
    # Plurality certificate: floor((5 - 4) / 2) = 0.
    # ROE: CertR1 = D(gap(a,b)=2, gap(a,c)=5) = max(1, 3, 3) = 3;
    #      CertR2 = min(max(0, ceil((2 + 1) / 2)), max(ceil(4 / 2), ceil((8 + 1) / 2))) = min(2, 5) = 2;
    #      R = min(3, 2) - 1 = 1 (one changed a>b>c ballot leaves a 4 : b 5 and a 5 : 5 tie won by a).
    ballots = rankings((5, ["a", "b", "c"]), (4, ["b", "a", "c"]), (1, ["c", "a", "b"]))
    out = tally({"rule": "runoff", "candidates": ["a", "b", "c"], "ballots": ballots})
    assert out["status"] == "winner"
    assert out["winners"] == ["a"]
    assert out["certificate"] == {"changed_ballots": 1, "plurality": 0}
    assert {"a": 5, "b": 4, "c": 1} in [step["tallies"] for step in out["rounds"]]


def test_runoff_accepts_scores():
    # Score ballots: the top choice is the argmax; equal scores abstain in the head-to-head.
    ballots = [
        {"scores": {"a": 2.5, "b": 0.1, "c": -1}},
        {"scores": {"a": 0, "b": 3, "c": 0}},
        {"scores": {"a": 1, "b": 0.5, "c": "7/2"}},
        {"ranking": ["a", "c", "b"]},
    ]
    # Round 1: a 2, b 1, c 1 -> finalists a and b (b before c by index); a over b: 3 ballots to 1.
    out = tally({"rule": "runoff", "candidates": ["a", "b", "c"], "ballots": ballots})
    assert out["winners"] == ["a"]


def test_irv_transfers():
    # Round 1: a 8, b 7, c 4, d 2 -> d out, its ballots go to c (6); round 2: a 8, b 7, c 6 -> c out;
    # c's ballots go to b, d's are exhausted: b 11 of 19 active -> b wins though a led round 1.
    ballots = rankings((8, ["a"]), (7, ["b", "c"]), (4, ["c", "b"]), (2, ["d", "c"]))
    for tie_rule in ("simultaneous", "order", "put"):
        out = tally(
            {"rule": "irv", "candidates": ["a", "b", "c", "d"], "ballots": ballots, "params": {"tie_rule": tie_rule}}
        )
        assert out["status"] == "winner", tie_rule
        assert out["winners"] == ["b"], tie_rule
        assert out["rounds"][0]["tallies"] == {"a": 8, "b": 7, "c": 4, "d": 2}, tie_rule


def test_irv_tie_rule_order_uses_tb_order_ids():
    # a 1, b 1, c 1: all tied. With order, tb_order[0] goes first: eliminate c, then (a 1 vs b 2 after c's
    # ballot moves to b) a, so b wins; with tb_order [b, c, a], b goes first, then c: a wins.
    ballots = rankings((1, ["a", "b"]), (1, ["b", "a"]), (1, ["c", "b"]))
    case = {"rule": "irv", "candidates": ["a", "b", "c"], "ballots": ballots}
    case["params"] = {"tie_rule": "order", "tb_order": ["c", "a", "b"]}
    assert tally(case)["winners"] == ["b"]
    case["params"] = {"tie_rule": "order", "tb_order": ["b", "c", "a"]}
    assert tally(case)["winners"] == ["a"]


def test_borda_with_truncated_ballot():
    # Full ballots: a 2*2 + 0*2 + 1 = 5, b 2 + 4 + 0 = 6, c 0 + 2 + 2 = 4.
    # The truncated ballot [a] gives a 2 and b, c (3 - 1 - 1) / 2 = 1/2 each (§3.2): a 7, b 13/2, c 9/2.
    ballots = rankings((2, ["a", "b", "c"]), (2, ["b", "c", "a"]), (1, ["c", "a", "b"]))
    out = tally({"rule": "borda", "candidates": ["a", "b", "c"], "ballots": ballots})
    assert out["winners"] == ["b"]
    assert out["tallies"] == {"a": 5, "b": 6, "c": 4}
    assert out["ranking"] == ["b", "a", "c"]
    out = tally({"rule": "borda", "candidates": ["a", "b", "c"], "ballots": [*ballots, {"ranking": ["a"]}]})
    assert out["winners"] == ["a"]
    assert out["tallies"] == {"a": 7, "b": "13/2", "c": "9/2"}


def test_schulze_resolves_a_cycle():
    # a>b 5:2, b>c 5:2, c>a 4:3 is a cycle; strongest paths: a->b 3, a->c 3 beat b->a 1, c->a 1: a wins.
    ballots = rankings((3, ["a", "b", "c"]), (2, ["b", "c", "a"]), (2, ["c", "a", "b"]))
    out = tally({"rule": "schulze", "candidates": ["a", "b", "c"], "ballots": ballots})
    assert out["status"] == "winner"
    assert out["winners"] == ["a"]
    assert out["pairwise"] is not None


def test_uniform_phantom_outcome():
    # n = 3 reports 2, 9, 8 on [0, 10]; phantoms 10/3, 20/3; the median of 2, 10/3, 20/3, 8, 9 is 20/3.
    case = {
        "rule": "uniform_phantom",
        "candidates": ["x"],
        "ballots": [{"value": 2}, {"value": 9.0}, {"value": "8"}],
        "params": {"lo": 0, "hi": 10},
    }
    out = tally(case)
    assert out["outcome_exact"] == "20/3"
    assert out["outcome"] == pytest.approx(20 / 3)
    # Out-of-range reports are clamped by default: 15 counts as 10 and the outcome is unchanged.
    case["ballots"] = [{"value": 2}, {"value": 15}, {"value": 8}]
    out = tally(case)
    assert out["outcome_exact"] == "20/3"


def test_output_is_exact_for_decimal_weights_read_as_text():
    # 0.1 in the input is exactly 1/10 (the parser reads decimals exactly).
    text = '{"rule": "uniform_phantom", "candidates": ["x"], "ballots": [{"value": 0.1}], "params": {"lo": 0, "hi": 1}}'
    assert tally(text)["outcome_exact"] == "1/10"


BAD_INPUTS = [
    ("invalid JSON", '{"rule": "plurality", "candidates": ["a"]', None, "invalid JSON"),
    (
        "unknown candidate",
        {"rule": "plurality", "candidates": ["a", "b"], "ballots": [{"choice": "a"}, {"choice": "zz"}]},
        1,
        "'zz' is not a candidate",
    ),
    (
        "candidate twice in a ranking",
        {
            "rule": "irv",
            "candidates": ["a", "b", "c"],
            "ballots": [{"ranking": ["a"]}, {"ranking": ["b"]}, {"ranking": ["c", "b", "c"]}],
        },
        2,
        "twice",
    ),
    (
        "NaN score",
        '{"rule": "runoff", "candidates": ["a", "b"], "ballots": [{"scores": {"a": NaN, "b": 1}}]}',
        0,
        "finite",
    ),
    (
        "infinite value",
        '{"rule": "uniform_phantom", "candidates": ["x"], "ballots": [{"value": 1}, {"value": Infinity}]}',
        1,
        "finite",
    ),
    (
        "value outside [lo, hi] with out_of_range reject",
        {
            "rule": "uniform_phantom",
            "candidates": ["x"],
            "ballots": [{"value": 5}, {"value": 11}],
            "params": {"lo": 0, "hi": 10, "out_of_range": "reject"},
        },
        1,
        "11",
    ),
    (
        "negative weight",
        {
            "rule": "borda",
            "candidates": ["a", "b"],
            "ballots": [{"ranking": ["a"]}, {"ranking": ["b"]}, {"ranking": ["a"], "weight": -1}],
        },
        2,
        "negative",
    ),
    (
        "float weight",
        {"rule": "borda", "candidates": ["a", "b"], "ballots": [{"ranking": ["a"], "weight": 0.5}]},
        0,
        "weight",
    ),
    ("no candidates", {"rule": "plurality", "candidates": [], "ballots": []}, None, "no candidates"),
    ("unknown rule", {"rule": "approval_voting", "candidates": ["a"], "ballots": []}, None, "unknown rule"),
    (
        "unknown parameter",
        {"rule": "borda", "candidates": ["a", "b"], "ballots": [], "params": {"colour": "red"}},
        None,
        "colour",
    ),
    (
        "wrong ballot form",
        {"rule": "borda", "candidates": ["a", "b"], "ballots": [{"ranking": ["a"]}, {"value": 3}]},
        1,
        "value",
    ),
]


@pytest.mark.parametrize(("label", "case", "index", "fragment"), BAD_INPUTS, ids=[entry[0] for entry in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line(label, case, index, fragment):
    text = case if isinstance(case, str) else json.dumps(case)
    process = run(["tally"], text)
    assert process.returncode == 2, (label, process.stdout, process.stderr)
    assert process.stdout == ""
    assert process.stderr.endswith("\n")
    assert process.stderr.count("\n") == 1, process.stderr
    assert fragment in process.stderr
    if index is not None:
        assert f"ballot {index}" in process.stderr


def test_rules_lists_every_registered_rule():
    process = run(["rules"])
    assert process.returncode == 0, process.stderr
    for name, spec in RULES.items():
        assert name in process.stdout
        for param in spec.params:
            assert param in process.stdout
    process = run(["rules", "--json"])
    assert process.returncode == 0, process.stderr
    table = json.loads(process.stdout)
    assert sorted(entry["name"] for entry in table) == sorted(RULES)
    for entry in table:
        spec = RULES[entry["name"]]
        assert entry["ballot_forms"] == list(spec.ballot_forms)
        assert sorted(entry["params"]) == sorted(spec.params)


def test_help_works():
    process = run(["--help"])
    assert process.returncode == 0
    for command in ("tally", "rules", "bench"):
        assert command in process.stdout


def test_input_that_is_not_utf8_exits_2():
    process = subprocess.run(
        [sys.executable, "-m", "aggregation", "tally"], input=b"\xff\xfe{}", capture_output=True, cwd=ROOT, timeout=120
    )
    assert process.returncode == 2
    assert process.stdout == b""
    assert process.stderr.count(b"\n") == 1 and b"UTF-8" in process.stderr

"""The live tallies: folding ballot changes gives the same result as counting the current ballots afresh."""

from __future__ import annotations

import dataclasses
import random
from datetime import timedelta
from fractions import Fraction
from typing import Any

import pytest
from django.utils import timezone

import aggregation
from aggregation.jsonio import parse_ballot, result_to_json
from deliberation.services import mint_participant
from voting.models import Ballot, BallotRevision, Result, TallyChange, TallyState
from voting.params import engine_params
from voting.selectors import engine_candidates, rules_for_kind
from voting.services import cast_ballot, recompute_result, sweep_pending_tallies, update_question
from voting.tallies import comparison_params

pytestmark = pytest.mark.django_db
KEYS = ["alpha", "beta", "gamma"]


def random_ballot(kind: str, rng: random.Random) -> dict[str, Any]:
    if kind == "single":
        return {"choice": rng.choice([*KEYS, None])}
    if kind == "ranking":
        order = rng.sample(KEYS, 3)
        return {"ranking": order[: rng.choice([1, 2, 3, 3])]}  # partial rankings: run-off refuses them
    if kind == "scores":
        return {"scores": {key: f"{rng.randint(-4, 4)}/{rng.randint(1, 3)}" for key in KEYS}}
    if kind == "number":
        return {"value": rng.choice([rng.randint(-10, 110), f"{rng.randint(0, 300)}/3"])}
    first = rng.randint(0, 100)
    second = rng.randint(0, 100 - first)
    return {"allocation": {"alpha": first, "beta": second, "gamma": 100 - first - second}}


def counted_afresh(question) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reference: every rule of the kind run in batch over the current ballot rows."""
    candidates = engine_candidates(question)
    ballots = [
        dataclasses.replace(parse_ballot(row.content, candidates, index), weight=Fraction(row.weight))
        for index, row in enumerate(Ballot.objects.filter(question=question).order_by("id"))
    ]
    m = len(candidates)
    payload = result_to_json(
        aggregation.tally(question.rule, m, ballots, engine_params(question.params, candidates)), candidates
    )
    comparison = {}
    for rule in rules_for_kind(question.kind):
        if rule == question.rule:
            continue
        params = engine_params(comparison_params(rule, question.params, candidates), candidates)
        try:
            comparison[rule] = result_to_json(aggregation.tally(rule, m, ballots, params), candidates)
        except aggregation.InvalidInput:
            comparison[rule] = "refused"
    return payload, comparison


@pytest.mark.parametrize("kind", ["single", "ranking", "scores", "number", "budget"])
def test_folding_changes_equals_counting_afresh(kind, make_question, session):
    rng = random.Random(f"live-{kind}")
    question = make_question(kind)
    people = [mint_participant(session, display_name=f"p{n}", weight=rng.choice(["1", "1", "2"])) for n in range(12)]
    casts = 0
    for _round in range(6):
        for _ in range(rng.randint(1, 8)):  # new ballots and changes of mind, folded in batches
            cast_ballot(question, rng.choice(people), random_ballot(kind, rng), tally=False)
            casts += 1
        result = recompute_result(question.pk)
        payload, comparison = counted_afresh(question)
        assert result.payload == payload
        for rule, expected in comparison.items():
            assert (
                ("error" in result.comparison[rule]) if expected == "refused" else result.comparison[rule] == expected
            )
        assert result.ballot_count == Ballot.objects.filter(question=question).count()
        assert not TallyChange.objects.filter(question=question).exists()
    assert BallotRevision.objects.filter(question=question).count() == casts  # history stays whole


def test_lost_or_outdated_tallies_are_rebuilt_from_the_ballots(make_question, participant, other_participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "alpha"})
    cast_ballot(question, other_participant, {"choice": "beta"})
    cast_ballot(question, participant, {"choice": "beta"})
    before = recompute_result(question.pk)
    assert before.payload["tallies"] == {"alpha": 0, "beta": 2, "gamma": 0}
    TallyState.objects.filter(question=question).update(basis="", tallies={})
    rebuilt = recompute_result(question.pk)
    assert rebuilt.version == before.version + 1 and rebuilt.payload == before.payload
    TallyState.objects.filter(question=question).update(tallies={"plurality": {"state": {"m": "x"}}})
    assert recompute_result(question.pk).payload == before.payload  # an unreadable snapshot is rebuilt too


def test_a_visibility_change_keeps_the_tallies(make_question, participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "gamma"})
    first = recompute_result(question.pk)
    update_question(question, visibility="after_close")
    assert recompute_result(question.pk).pk == first.pk
    assert Result.objects.filter(question=question).count() == 1


def test_the_sweep_recomputes_questions_whose_tally_task_was_lost(make_question, participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "beta"}, tally=False)  # as if its task never ran
    assert sweep_pending_tallies() == []  # a fresh change is left to its own task
    TallyChange.objects.filter(question=question).update(created_at=timezone.now() - timedelta(minutes=1))
    assert sweep_pending_tallies() == [question.pk]  # eager here: the recompute ran
    assert not TallyChange.objects.filter(question=question).exists()
    assert Result.objects.filter(question=question).order_by("-version").first().payload["winners"] == ["beta"]

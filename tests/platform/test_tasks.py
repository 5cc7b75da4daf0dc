"""Tallying: the task and recompute_result store versioned results, idempotently, with comparisons."""

from __future__ import annotations

import pytest

from deliberation.services import mint_participant
from voting import selectors
from voting.models import Question, Result
from voting.services import cast_ballot, close_question, recompute_result
from voting.tasks import tally_question

pytestmark = pytest.mark.django_db


def vote(question, participants, contents):
    for participant, content in zip(participants, contents, strict=True):
        cast_ballot(question, participant, content, source="web")


@pytest.fixture
def voters(session):
    return [mint_participant(session, display_name=f"voter {n}") for n in range(5)]


def test_versions_increase_with_each_ballot_and_tally_is_correct(
    make_question, voters, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        question = make_question("single")
    first = selectors.latest_result(question)
    assert (first.version, first.ballot_count) == (1, 0)
    assert first.payload["status"] in ("no_ballots", "no_valid_votes")
    for number, choice in enumerate(["beta", "alpha", "beta"], start=1):
        with django_capture_on_commit_callbacks(execute=True):
            cast_ballot(question, voters[number], {"choice": choice}, source="web")
        latest = selectors.latest_result(question)
        assert (latest.version, latest.ballot_count) == (number + 1, number)
    assert latest.payload["winners"] == ["beta"]
    assert latest.payload["tallies"] == {"alpha": 1, "beta": 2, "gamma": 0}
    assert latest.is_final is False and latest.rule == "plurality"


def test_recompute_is_idempotent(make_question, voters):
    question = make_question("ranking")
    vote(question, voters[:2], [{"ranking": ["alpha", "beta"]}, {"ranking": ["beta"]}])
    first = recompute_result(question.pk)
    again = recompute_result(question.pk)
    assert again.pk == first.pk and Result.objects.filter(question=question).count() == 1
    assert tally_question.delay(question.pk).get() == first.version
    assert Result.objects.filter(question=question).count() == 1
    cast_ballot(question, voters[0], {"ranking": ["gamma"]}, source="web")  # a change of mind is new input
    assert recompute_result(question.pk).version == first.version + 1


def test_comparison_holds_every_other_rule_of_the_kind(make_question, voters):
    single = make_question("single")
    vote(single, voters[:3], [{"choice": "alpha"}, {"choice": "alpha"}, {"choice": None}])
    result = recompute_result(single.pk)
    assert set(result.comparison) == {"majority"}
    assert result.comparison["majority"]["rule"] == "majority"
    ranking = make_question("ranking")
    vote(
        ranking,
        voters[:3],
        [
            {"ranking": ["alpha", "beta", "gamma"]},
            {"ranking": ["beta", "alpha", "gamma"]},
            {"ranking": ["alpha", "gamma", "beta"]},
        ],
    )
    result = recompute_result(ranking.pk)
    assert set(result.comparison) == {"irv", "borda", "runoff"}
    assert result.payload["winners"] == ["alpha"]
    assert all(result.comparison[rule]["winners"] == ["alpha"] for rule in ("irv", "borda", "runoff"))


def test_number_question_stores_median_and_mean_beside_the_phantom(make_question, voters):
    question = make_question("number")
    vote(question, voters[:3], [{"value": 10}, {"value": 20}, {"value": 150}])  # 150 is clamped to 100
    result = recompute_result(question.pk)
    assert result.comparison["median"]["outcome_exact"] == 20
    assert result.comparison["mean"]["outcome_exact"] == "130/3"
    assert result.payload["outcome"] is not None
    assert result.params["lo"] == 0 and result.params["hi"] == 100


def test_weights_count_in_the_tally(make_question, session, voters):
    question = make_question("single")
    delegate = mint_participant(session, display_name="delegate", weight="3")
    vote(question, [voters[0], voters[1], delegate], [{"choice": "alpha"}, {"choice": "alpha"}, {"choice": "gamma"}])
    result = recompute_result(question.pk)
    assert result.payload["tallies"]["gamma"] == 3 and result.payload["winners"] == ["gamma"]


def test_visibility_and_final_result(make_question, voters, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        question = make_question("single", visibility=Question.Visibility.AFTER_CLOSE)
        vote(question, voters[:2], [{"choice": "alpha"}, {"choice": "beta"}])
    assert selectors.visible_result(question, is_organizer=False) is None
    live = selectors.visible_result(question, is_organizer=True)
    assert live is not None and not live.is_final
    with django_capture_on_commit_callbacks(execute=True):
        close_question(question)
    final = selectors.visible_result(question, is_organizer=False)
    assert final is not None and final.is_final and final.version == live.version + 1
    assert final.ballot_count == 2
    assert recompute_result(question.pk).pk == final.pk  # closing twice changes nothing


def test_draft_and_missing_questions_have_no_result(make_question):
    draft = make_question("single", opened=False)
    assert recompute_result(draft.pk) is None
    assert recompute_result(987654) is None
    assert tally_question.delay(987654).get() is None


def test_tie_break_order_is_given_and_recorded_as_option_keys(make_question, voters):
    question = make_question(
        "ranking", rule="irv", params={"tie_rule": "order", "tb_order": ["gamma", "beta", "alpha"]}
    )
    vote(question, voters[:2], [{"ranking": ["alpha"]}, {"ranking": ["beta"]}])
    result = recompute_result(question.pk)
    assert result.params["tb_order"] == ["gamma", "beta", "alpha"]
    assert result.payload["winners"] == ["alpha"]  # beta goes first among the tied: it precedes alpha in tb_order

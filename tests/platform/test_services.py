"""Services: sessions, joining, questions and the one ballot validation path (nothing written when refused)."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from deliberation.models import Participant, Session
from deliberation.services import (
    JoinRefused,
    create_session,
    join_session,
    mint_participant,
    mint_participants,
    update_session,
)
from voting.models import Ballot, BallotRevision, Question
from voting.services import (
    BallotRejected,
    cast_ballot,
    close_question,
    create_question,
    open_question,
    update_question,
)

pytestmark = pytest.mark.django_db


# --- sessions and participants --------------------------------------------------------------------


def test_create_session_refuses_blank_title_and_unknown_policy(organizer):
    with pytest.raises(ValidationError) as caught:
        create_session(organizer, title="   ", join_policy="everyone")
    assert set(caught.value.message_dict) == {"title", "join_policy"}
    assert Session.objects.count() == 0


def test_update_session_changes_only_known_fields(session):
    update_session(session, title="  New title ", is_open=False)
    session.refresh_from_db()
    assert (session.title, session.is_open) == ("New title", False)
    with pytest.raises(ValidationError) as caught:
        update_session(session, organizer=None)
    assert "organizer" in caught.value.message_dict


def test_join_by_link_creates_anonymous_participants(session):
    first = join_session(session, display_name="  Ada   L. ")
    second = join_session(session)
    assert first.display_name == "Ada L."
    assert first.pk != second.pk and first.user is None


def test_join_signed_in_only_requires_a_user(session, django_user_model):
    update_session(session, join_policy=Session.JoinPolicy.SIGNED_IN)
    with pytest.raises(JoinRefused) as caught:
        join_session(session, display_name="anon")
    assert caught.value.code == "sign_in_required"
    assert "sign in" in caught.value.message
    user = django_user_model.objects.create_user(username="citizen", password="x-password")
    participant = join_session(session, user=user)
    assert participant.user == user and participant.display_name == "citizen"
    assert join_session(session, user=user).pk == participant.pk
    assert Participant.objects.filter(session=session, user=user).count() == 1


def test_closed_session_refuses_newcomers_but_keeps_members(session, django_user_model):
    user = django_user_model.objects.create_user(username="member", password="x-password")
    member = join_session(session, user=user)
    update_session(session, is_open=False)
    with pytest.raises(JoinRefused) as caught:
        join_session(session)
    assert caught.value.message == "This session is closed to new participants."
    assert join_session(session, user=user).pk == member.pk


def test_mint_participant_normalises_exact_weight_and_refuses_floats(session):
    assert mint_participant(session, display_name="agent", kind="agent", weight="2/4").weight == "1/2"
    with pytest.raises(ValidationError) as caught:
        mint_participant(session, display_name="bad", weight="0.5")
    assert "weight" in caught.value.message_dict
    with pytest.raises(ValidationError):
        mint_participant(session, display_name="bad", kind="robot")
    with pytest.raises(ValidationError):
        mint_participants(session, 0)
    assert [p.display_name for p in mint_participants(session, 2, prefix="bot")] == ["bot 1", "bot 2"]


# --- questions ------------------------------------------------------------------------------------


def test_create_question_makes_unique_keys_from_labels(session):
    question = create_question(
        session, text="Where?", kind="single", rule="plurality", params={}, option_labels=["Park", "Park!", "日本", ""]
    )
    assert [(o.key, o.label, o.position) for o in question.options.all()] == [
        ("park", "Park", 0),
        ("park-2", "Park!", 1),
        ("option-3", "日本", 2),
    ]
    assert question.status == Question.Status.DRAFT


@pytest.mark.parametrize(
    ("fields", "field", "fragment"),
    [
        ({"kind": "essay"}, "kind", "Unknown ballot kind"),
        ({"rule": "schulze"}, "rule", "does not fit single questions"),
        ({"option_labels": ["Only one"]}, "options", "at least 2 options"),
        ({"option_labels": ["Same", "same"]}, "options", "listed twice"),
        ({"params": {"no_such_parameter": 1}}, "params", "no_such_parameter"),
        ({"params": [1, 2]}, "params", "JSON object"),
        ({"text": ""}, "text", "needs a text"),
        ({"visibility": "never"}, "visibility", "Unknown visibility"),
        ({"kind": "number", "rule": "uniform_phantom", "option_labels": []}, "params", "lo, hi"),
        ({"kind": "number", "rule": "uniform_phantom", "params": {"lo": 0, "hi": 1}}, "options", "no options"),
        ({"kind": "budget", "rule": "independent_markets"}, "params", "total"),
    ],
)
def test_create_question_refuses_with_a_field_message(session, fields, field, fragment):
    arguments = {"text": "Q?", "kind": "single", "rule": "plurality", "params": {}, "option_labels": ["A", "B"]}
    arguments.update(fields)
    with pytest.raises(ValidationError) as caught:
        create_question(session, **arguments)
    assert field in caught.value.message_dict
    assert fragment in caught.value.message_dict[field][0]
    assert Question.objects.count() == 0


def test_structural_edits_only_while_draft(make_question):
    question = make_question("single", opened=False)
    update_question(question, rule="majority", option_labels=["Yes", "No"])
    assert [o.key for o in question.options.all()] == ["yes", "no"]
    open_question(question)
    with pytest.raises(ValidationError) as caught:
        update_question(question, params={"tie_break": "lowest_index"})
    assert "only be changed while the question is a draft" in caught.value.message_dict["params"][0]
    update_question(question, visibility=Question.Visibility.AFTER_CLOSE, text="Better wording?")
    question.refresh_from_db()
    assert (question.visibility, question.text) == ("after_close", "Better wording?")


def test_question_lifecycle_transitions(make_question):
    question = make_question("single", opened=False)
    with pytest.raises(ValidationError):
        close_question(question)
    open_question(question)
    close_question(question)
    assert Question.objects.get(pk=question.pk).status == Question.Status.CLOSED
    with pytest.raises(ValidationError):
        open_question(question)


# --- ballots --------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["single", "ranking", "scores", "number", "budget"])
def test_valid_ballot_of_every_kind_is_stored_with_history(make_question, participant, valid_ballots, kind):
    question = make_question(kind)
    ballot = cast_ballot(question, participant, valid_ballots[kind], source="api")
    stored = Ballot.objects.get(question=question, participant=participant)
    assert stored.pk == ballot.pk
    assert (stored.content, stored.revision, stored.source, stored.weight) == (valid_ballots[kind], 1, "api", "1")
    history = list(BallotRevision.objects.filter(question=question).values_list("revision", "content"))
    assert history == [(1, valid_ballots[kind])]


INVALID_BALLOTS = [
    ("single", {"choice": "delta"}, "choice", "'delta' is not a candidate"),
    ("single", {"choice": 1}, "choice", "must be a candidate id"),
    ("single", {"ranking": ["alpha"]}, "choice", "takes a choice ballot"),
    ("single", {"choice": "alpha", "weight": 5}, "weight", "must not carry its own weight"),
    ("single", ["alpha"], None, "must be a JSON object"),
    ("ranking", {"ranking": ["alpha", "alpha"]}, "ranking", "twice"),
    ("ranking", {"ranking": "alpha"}, "ranking", "must be a list"),
    ("ranking", {"ranking": ["alpha"], "choice": "beta"}, "ranking", "takes a ranking ballot"),
    ("scores", {"scores": {"alpha": 1, "beta": 2}}, "scores", "missing 'gamma'"),
    ("scores", {"scores": {"alpha": 1, "beta": 2, "gamma": "lots"}}, "scores", "not a number"),
    ("number", {"value": "NaN"}, "value", "not a number"),
    ("number", {"value": None}, "value", "must be a number"),
    ("budget", {"allocation": {"alpha": 30, "beta": 30}}, "allocation", "100"),
    ("budget", {"allocation": {"alpha": -10, "beta": 110}}, "allocation", "negative"),
]


@pytest.mark.parametrize(("kind", "content", "field", "fragment"), INVALID_BALLOTS)
def test_invalid_ballot_is_refused_and_nothing_is_written(make_question, participant, kind, content, field, fragment):
    question = make_question(kind)
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(question, participant, content, source="api")
    assert caught.value.code == "invalid"
    assert caught.value.field == field
    assert fragment in caught.value.message
    assert caught.value.message[0].isupper() and caught.value.message.endswith(".")
    assert not Ballot.objects.exists()
    assert not BallotRevision.objects.exists()


def test_invalid_replacement_keeps_the_previous_ballot(make_question, participant):
    question = make_question("ranking")
    cast_ballot(question, participant, {"ranking": ["beta"]}, source="web")
    with pytest.raises(BallotRejected):
        cast_ballot(question, participant, {"ranking": ["nope"]}, source="web")
    stored = Ballot.objects.get()
    assert (stored.content, stored.revision) == ({"ranking": ["beta"]}, 1)
    assert BallotRevision.objects.count() == 1


def test_replacing_bumps_revision_and_appends_history(make_question, participant, other_participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "alpha"}, source="web")
    cast_ballot(question, other_participant, {"choice": "gamma"}, source="web")
    replaced = cast_ballot(question, participant, {"choice": None}, source="api")
    assert replaced.revision == 2
    assert Ballot.objects.filter(question=question, participant=participant).count() == 1
    current = Ballot.objects.get(question=question, participant=participant)
    assert (current.content, current.revision, current.source) == ({"choice": None}, 2, "api")
    history = BallotRevision.objects.filter(participant=participant).order_by("id")
    assert [(h.revision, h.content, h.source) for h in history] == [
        (1, {"choice": "alpha"}, "web"),
        (2, {"choice": None}, "api"),
    ]


def test_the_database_refuses_a_second_current_ballot(make_question, participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "alpha"}, source="web")
    with pytest.raises(IntegrityError), transaction.atomic():
        Ballot.objects.create(question=question, participant=participant, content={"choice": "beta"})
    assert Ballot.objects.count() == 1


def test_closed_and_draft_questions_refuse_ballots(make_question, participant):
    question = make_question("single")
    close_question(question)
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(question, participant, {"choice": "alpha"}, source="web")
    assert caught.value.code == "closed"
    assert caught.value.message == "This question is closed; ballots are no longer accepted."
    draft = make_question("single", opened=False)
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(draft, participant, {"choice": "alpha"}, source="web")
    assert caught.value.code == "not_open"
    assert not Ballot.objects.exists() and not BallotRevision.objects.exists()


def test_stale_question_object_cannot_sneak_a_ballot_past_closing(make_question, participant):
    question = make_question("single")
    Question.objects.filter(pk=question.pk).update(status=Question.Status.CLOSED)
    assert question.status == Question.Status.OPEN  # the in-memory copy is stale
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(question, participant, {"choice": "alpha"}, source="web")
    assert caught.value.code == "closed"


def test_participant_of_another_session_is_refused(make_question, organizer):
    question = make_question("single")
    stranger = mint_participant(create_session(organizer, title="Elsewhere"), display_name="stranger")
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(question, stranger, {"choice": "alpha"}, source="api")
    assert caught.value.code == "not_participant"
    assert not Ballot.objects.exists()


def test_participant_weight_is_copied_to_ballot_and_history(make_question, session):
    question = make_question("single")
    heavy = mint_participant(session, display_name="delegate", weight="3/2")
    cast_ballot(question, heavy, {"choice": "alpha"}, source="agent")
    assert Ballot.objects.get().weight == "3/2"
    assert BallotRevision.objects.get().weight == "3/2"


def test_number_question_rejects_out_of_range_when_params_say_so(make_question, participant):
    question = make_question("number", params={"lo": 0, "hi": 10, "out_of_range": "reject"})
    with pytest.raises(BallotRejected) as caught:
        cast_ballot(question, participant, {"value": 11}, source="web")
    assert caught.value.field == "value"
    cast_ballot(question, participant, {"value": "19/2"}, source="web")
    assert Ballot.objects.get().content == {"value": "19/2"}


def test_tie_break_order_must_name_options(session):
    with pytest.raises(ValidationError) as caught:
        create_question(
            session,
            text="Order?",
            kind="ranking",
            rule="irv",
            params={"tb_order": ["a", "zzz"]},
            option_labels=["A", "B"],
        )
    assert caught.value.message_dict["params"] == ["tb_order names 'zzz', which is not an option"]


def test_exact_decimal_ballot_content_is_stored_as_json(make_question, participant):
    question = make_question("number")
    cast_ballot(question, participant, {"value": Decimal("12.5")}, source="web")
    cast_ballot(question, participant, {"value": Decimal("0.1000000000000000000001")}, source="web")
    history = [row.content for row in BallotRevision.objects.order_by("revision")]
    assert history == [{"value": 12.5}, {"value": str(Fraction(Decimal("0.1000000000000000000001")))}]

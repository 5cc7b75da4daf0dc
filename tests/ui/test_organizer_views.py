"""Organizer pages: sign-in, dashboard, sessions, questions (with the engine judging parameters), tokens."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from deliberation.models import Participant, Session
from voting.models import Question

from .conftest import PASSWORD

HTMX = {"HX-Request": "true"}


def field_errors(html: str, field: str) -> str:
    """The error messages rendered for one form field ('' if none)."""
    return " ".join(re.findall(rf'<p class="error" role="alert" id="id_{field}_error">(.*?)</p>', html, re.S))


def test_login_page_signs_in_and_goes_to_dashboard(organizer, session):
    client = Client()
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b'name="username"' in page.content
    response = client.post("/accounts/login/", {"username": "organizer", "password": PASSWORD}, follow=True)
    assert response.status_code == 200
    assert "Town hall" in response.content.decode()


def test_wrong_password_shows_a_message(organizer):
    response = Client().post("/accounts/login/", {"username": "organizer", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


def test_dashboard_lists_only_my_sessions(organizer_client, session, db):
    other = get_user_model().objects.create_user("someone", password=PASSWORD)
    Session.objects.create(organizer=other, title="Not mine")
    html = organizer_client.get("/").content.decode()
    assert "Town hall" in html and "Not mine" not in html


def test_anonymous_home_is_a_welcome_page(db):
    response = Client().get("/")
    assert response.status_code == 200 and "Organizer sign-in" in response.content.decode()


def test_create_session(organizer_client, organizer):
    response = organizer_client.post(
        "/sessions/new/",
        {"title": "Budget 2027", "prompt": "Spend it well", "is_open": "on", "join_policy": "signed_in"},
    )
    session = Session.objects.get(title="Budget 2027")
    assert response.status_code == 302 and response["Location"] == f"/sessions/{session.pk}/manage/"
    assert (session.organizer, session.prompt, session.is_open, session.join_policy) == (
        organizer,
        "Spend it well",
        True,
        "signed_in",
    )


def test_create_session_needs_a_title(organizer_client):
    response = organizer_client.post("/sessions/new/", {"title": "", "join_policy": "link"})
    assert response.status_code == 200
    assert field_errors(response.content.decode(), "title")
    assert not Session.objects.exists()


def test_edit_session(organizer_client, session):
    page = organizer_client.get(f"/sessions/{session.pk}/edit/")
    assert 'value="Town hall"' in page.content.decode()
    response = organizer_client.post(f"/sessions/{session.pk}/edit/", {"title": "Town hall 2", "join_policy": "link"})
    assert response.status_code == 302
    session.refresh_from_db()
    assert (session.title, session.is_open) == ("Town hall 2", False)


def test_sessions_of_others_are_not_found(session, db):
    stranger = get_user_model().objects.create_user("stranger", password=PASSWORD)
    client = Client()
    client.force_login(stranger)
    assert client.get(f"/sessions/{session.pk}/manage/").status_code == 404
    assert client.post(f"/sessions/{session.pk}/edit/", {"title": "x", "join_policy": "link"}).status_code == 404
    assert client.post(f"/sessions/{session.pk}/questions/new/", {}).status_code == 404


def test_manage_requires_sign_in(session):
    response = Client().get(f"/sessions/{session.pk}/manage/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_manage_page_shows_the_absolute_invite_link(organizer_client, session):
    html = organizer_client.get(f"/sessions/{session.pk}/manage/").content.decode()
    assert f'value="http://testserver/join/{session.invite_token}/"' in html
    assert 'data-copy="#invite-url"' in html


QUESTION = {"text": "Where first?", "description": "", "visibility": "live", "options": "Park\nBikes\nLibrary"}


def test_add_question_with_htmx(organizer_client, session):
    data = dict(
        QUESTION,
        kind="single",
        rule="majority",
        threshold="supermajority",
        supermajority_q="2/3",
        base="valid",
        quorum_type="count",
        quorum_value="3",
        tie_break="none",
    )
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 200, response.content.decode()
    assert response["HX-Retarget"] == "#questions"
    question = Question.objects.get(session=session)
    assert (question.kind, question.rule, question.status) == ("single", "majority", "draft")
    assert question.params["threshold"] == {"supermajority": "2/3"}
    assert question.params["quorum"] == {"type": "count", "value": 3}
    assert [option.label for option in question.options.all()] == ["Park", "Bikes", "Library"]
    assert "Where first?" in response.content.decode()


def test_add_question_without_htmx_redirects(organizer_client, session):
    data = dict(QUESTION, kind="ranking", rule="irv", tie_rule="order")
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data)
    question = Question.objects.get(session=session)
    assert response.status_code == 302 and response["Location"].endswith(f"#question-{question.pk}")
    assert question.params["tie_rule"] == "order"


def test_impossible_supermajority_shows_the_engine_message_on_its_field(organizer_client, session):
    data = dict(
        QUESTION,
        kind="single",
        rule="majority",
        threshold="supermajority",
        supermajority_q="1/3",
        base="valid",
        quorum_type="none",
        tie_break="none",
    )
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 422
    message = field_errors(response.content.decode(), "supermajority_q")
    assert message, response.content.decode()
    assert not Question.objects.exists()


def test_number_range_upside_down_is_shown_on_the_range(organizer_client, session):
    data = dict(QUESTION, kind="number", rule="uniform_phantom", options="", lo="100", hi="0", out_of_range="clamp")
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert field_errors(html, "lo") or field_errors(html, "hi"), html
    assert not Question.objects.exists()


def test_number_question_needs_its_range(organizer_client, session):
    data = dict(QUESTION, kind="number", rule="uniform_phantom", options="", lo="", hi="", out_of_range="clamp")
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 422
    assert "lo" in field_errors(response.content.decode(), "lo")


def test_not_a_number_is_refused_by_the_form(organizer_client, session):
    data = dict(QUESTION, kind="budget", rule="independent_markets", total="lots")
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 422
    assert "not a number" in field_errors(response.content.decode(), "total")


def test_too_few_options_is_shown_on_the_options(organizer_client, session):
    data = dict(QUESTION, kind="single", rule="plurality", options="Only one", tie_break="none", quorum_type="none")
    response = organizer_client.post(f"/sessions/{session.pk}/questions/new/", data, headers=HTMX)
    assert response.status_code == 422
    assert "at least 2 options" in field_errors(response.content.decode(), "options")


@pytest.mark.parametrize(
    ("kind", "rules"),
    [
        ("single", {"plurality", "majority"}),
        ("ranking", {"runoff", "irv", "borda", "schulze"}),
        ("scores", {"runoff"}),
        ("number", {"uniform_phantom"}),
        ("budget", {"independent_markets"}),
    ],
)
def test_rule_choices_follow_the_ballot_kind(organizer_client, session, kind, rules):
    response = organizer_client.get(f"/sessions/{session.pk}/questions/form/", {"kind": kind}, headers=HTMX)
    html = response.content.decode()
    select = re.search(r'<select name="rule".*?</select>', html, re.S).group(0)
    assert set(re.findall(r'<option value="([^"]+)"', select)) == rules
    assert ('name="options"' in html) == (kind != "number")


@pytest.mark.parametrize(
    ("kind", "rule", "shown", "hidden"),
    [
        ("single", "majority", ["threshold", "quorum_type", "base"], ["tie_rule", "lo", "total"]),
        ("ranking", "irv", ["tie_rule"], ["threshold", "lo", "total"]),
        ("number", "uniform_phantom", ["lo", "hi", "out_of_range"], ["threshold", "total"]),
        ("budget", "independent_markets", ["total"], ["threshold", "lo"]),
    ],
)
def test_parameter_fields_follow_the_rule(organizer_client, session, kind, rule, shown, hidden):
    html = organizer_client.get(
        f"/sessions/{session.pk}/questions/form/", {"kind": kind, "rule": rule}, headers=HTMX
    ).content.decode()
    for name in shown:
        assert f'name="{name}"' in html, name
    for name in hidden:
        assert f'name="{name}"' not in html, name


def test_open_close_and_visibility(organizer_client, make_question):
    question = make_question("single", open_it=False)
    response = organizer_client.post(f"/questions/{question.pk}/open/", headers=HTMX)
    assert response.status_code == 200 and "Close voting" in response.content.decode()
    question.refresh_from_db()
    assert question.status == "open"
    response = organizer_client.post(
        f"/questions/{question.pk}/visibility/", {"visibility": "after_close"}, headers=HTMX
    )
    question.refresh_from_db()
    assert response.status_code == 200 and question.visibility == "after_close"
    response = organizer_client.post(f"/questions/{question.pk}/close/")
    question.refresh_from_db()
    assert response.status_code == 302 and question.status == "closed"
    response = organizer_client.post(f"/questions/{question.pk}/open/", headers=HTMX)
    assert response.status_code == 422 and "cannot be reopened" in response.content.decode()


def test_closing_a_draft_is_refused_with_a_message(organizer_client, make_question):
    question = make_question("single", open_it=False)
    response = organizer_client.post(f"/questions/{question.pk}/close/", headers=HTMX)
    assert response.status_code == 422 and "open it first" in response.content.decode()


def test_mint_participant_shows_its_token(organizer_client, session):
    response = organizer_client.post(
        f"/sessions/{session.pk}/participants/mint/",
        {"display_name": "bot", "kind": "agent", "weight": "1/2"},
        headers=HTMX,
    )
    participant = Participant.objects.get(session=session, display_name="bot")
    assert (participant.kind, participant.weight) == ("agent", "1/2")
    assert response.status_code == 200 and participant.api_token in response.content.decode()


def test_mint_participant_refuses_a_bad_weight(organizer_client, session):
    response = organizer_client.post(
        f"/sessions/{session.pk}/participants/mint/",
        {"display_name": "bot", "kind": "agent", "weight": "0.5"},
        headers=HTMX,
    )
    assert response.status_code == 422 and field_errors(response.content.decode(), "weight")
    assert not Participant.objects.filter(session=session).exists()


def test_edit_a_draft_question_changes_rule_params_and_options(organizer_client, make_question):
    question = make_question("single", rule="majority", params={"threshold": {"supermajority": "2/3"}}, open_it=False)
    page = organizer_client.get(f"/questions/{question.pk}/edit/").content.decode()
    assert 'value="2/3"' in page and "Park\nBikes\nLibrary</textarea>" in page
    data = dict(
        QUESTION,
        text="Where first, really?",
        kind="ranking",
        rule="borda",
        tie_break="lowest_index",
        options="North\nSouth",
    )
    response = organizer_client.post(f"/questions/{question.pk}/edit/", data)
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.kind, question.rule, question.params) == (
        "Where first, really?",
        "ranking",
        "borda",
        {"tie_break": "lowest_index"},
    )
    assert [option.label for option in question.options.all()] == ["North", "South"]


def test_edit_an_open_question_changes_only_text_and_visibility(organizer_client, make_question):
    question = make_question("single")
    page = organizer_client.get(f"/questions/{question.pk}/edit/").content.decode()
    assert 'name="kind"' not in page and "stay as they are" in page
    data = {
        "text": "Renamed",
        "description": "More words",
        "visibility": "after_close",
        "kind": "budget",
        "rule": "independent_markets",
        "total": "5",
        "options": "X\nY",
    }
    response = organizer_client.post(f"/questions/{question.pk}/edit/", data)
    assert response.status_code == 302
    question.refresh_from_db()
    assert (question.text, question.description, question.visibility) == ("Renamed", "More words", "after_close")
    assert (question.kind, question.rule) == ("single", "plurality")
    assert [option.label for option in question.options.all()] == ["Park", "Bikes", "Library"]


def test_edit_shows_engine_errors_on_fields(organizer_client, make_question):
    question = make_question("number", open_it=False)
    data = dict(QUESTION, kind="number", rule="uniform_phantom", options="", lo="5", hi="1", out_of_range="clamp")
    response = organizer_client.post(f"/questions/{question.pk}/edit/", data)
    assert response.status_code == 422
    html = response.content.decode()
    assert field_errors(html, "lo") or field_errors(html, "hi")
    question.refresh_from_db()
    assert (question.params["lo"], question.params["hi"]) == (0, 100)

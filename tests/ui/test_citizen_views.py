"""Citizen pages: joining by invite, the identity cookie, ballots of every kind, results and visibility."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, RequestFactory

from deliberation.cookies import COOKIE_SALT, cookie_name
from deliberation.models import Participant
from voting import services
from voting.models import Ballot, BallotRevision

from .conftest import PASSWORD

HTMX = {"HX-Request": "true"}


def keys(question) -> list[str]:
    return [option.key for option in question.options.all()]


# --- joining ----------------------------------------------------------------------------------


def test_join_page_then_join_sets_the_signed_cookie(session):
    client = Client()
    page = client.get(f"/join/{session.invite_token}/")
    assert page.status_code == 200 and "Town hall" in page.content.decode()
    assert not Participant.objects.exists()  # opening the link alone creates nobody
    response = client.post(f"/join/{session.invite_token}/", {"display_name": "Ada"})
    participant = Participant.objects.get(session=session)
    assert response.status_code == 302 and response["Location"] == f"/sessions/{session.pk}/"
    cookie = response.cookies[cookie_name(session)]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    request = RequestFactory().get("/", HTTP_COOKIE=f"{cookie_name(session)}={cookie.value}")
    assert request.get_signed_cookie(cookie_name(session), salt=COOKIE_SALT) == str(participant.pk)
    assert participant.display_name == "Ada" and participant.user is None
    page = client.get(f"/sessions/{session.pk}/")
    assert page.status_code == 200 and participant.api_token in page.content.decode()
    # Opening the link again goes straight to the session, without a second participant.
    again = client.get(f"/join/{session.invite_token}/")
    assert again.status_code == 302 and Participant.objects.count() == 1


def test_unknown_invite_is_not_found(db):
    assert Client().get("/join/not-a-token/").status_code == 404


def test_session_page_without_joining_is_refused(session):
    assert Client().get(f"/sessions/{session.pk}/").status_code == 403


def test_a_forged_cookie_is_not_an_identity(session, citizen):
    _client, participant = citizen
    forger = Client()
    forger.cookies[cookie_name(session)] = str(participant.pk)  # unsigned
    assert forger.get(f"/sessions/{session.pk}/").status_code == 403


def test_a_cookie_of_another_session_is_not_an_identity(session, citizen, organizer):
    from deliberation import services as session_services

    client, participant = citizen
    other = session_services.create_session(organizer, title="Other")
    cookie = client.cookies[cookie_name(session)].value
    client.cookies[cookie_name(other)] = cookie
    assert client.get(f"/sessions/{other.pk}/").status_code == 403


def test_signed_in_only_session_redirects_to_login(session, db):
    session.join_policy = "signed_in"
    session.save()
    response = Client().get(f"/join/{session.invite_token}/")
    assert response.status_code == 302
    assert response["Location"] == f"/accounts/login/?next=/join/{session.invite_token}/"
    user = get_user_model().objects.create_user("citizen", password=PASSWORD)
    client = Client()
    client.force_login(user)
    assert client.post(f"/join/{session.invite_token}/", {"display_name": ""}).status_code == 302
    participant = Participant.objects.get(session=session)
    assert participant.user == user
    assert client.get(f"/sessions/{session.pk}/").status_code == 200


def test_closed_session_accepts_nobody_new(session):
    session.is_open = False
    session.save()
    response = Client().post(f"/join/{session.invite_token}/", {"display_name": "late"})
    assert response.status_code == 403 and not Participant.objects.exists()


# --- ballots ----------------------------------------------------------------------------------


def cast(client, question, data, htmx=True):
    return client.post(f"/questions/{question.pk}/ballot/", data, headers=HTMX if htmx else {})


def valid_post(kind: str, question) -> tuple[dict, dict]:
    """A valid form post for the kind and the ballot content it must store."""
    k = keys(question)
    if kind == "single":
        return {"choice": k[1]}, {"choice": k[1]}
    if kind == "ranking":
        return {f"rank-{k[0]}": "2", f"rank-{k[1]}": "3", f"rank-{k[2]}": "1"}, {"ranking": [k[2], k[0], k[1]]}
    if kind == "scores":
        return {f"score-{k[0]}": "3", f"score-{k[1]}": "7.5", f"score-{k[2]}": "0"}, {
            "scores": {k[0]: 3, k[1]: 7.5, k[2]: 0}
        }
    if kind == "number":
        return {"value": "42.5"}, {"value": 42.5}
    return {f"amount-{k[0]}": "50", f"amount-{k[1]}": "30", f"amount-{k[2]}": "20"}, {
        "allocation": {k[0]: 50, k[1]: 30, k[2]: 20}
    }


INVALID = {
    "single": (lambda k: {}, "Choose one option"),
    "ranking": (lambda k: {f"rank-{k[0]}": "1", f"rank-{k[1]}": "1"}, "both at position 1"),
    "scores": (lambda k: {f"score-{k[0]}": "3"}, "Give every option a score"),
    "number": (lambda k: {"value": "250"}, None),  # outside [0, 100] with out_of_range=reject: the engine's words
    "budget": (lambda k: {f"amount-{k[0]}": "50", f"amount-{k[1]}": "60", f"amount-{k[2]}": "0"}, None),
}

KINDS = ["single", "ranking", "scores", "number", "budget"]


@pytest.mark.parametrize("kind", KINDS)
def test_valid_ballot_is_stored_and_shown_again(kind, make_question, citizen):
    client, participant = citizen
    question = make_question(kind)
    data, content = valid_post(kind, question)
    response = cast(client, question, data)
    assert response.status_code == 200, response.content.decode()
    ballot = Ballot.objects.get(question=question, participant=participant)
    assert ballot.content == content and ballot.source == "web" and ballot.revision == 1
    html = response.content.decode()
    assert "Your ballot is counted." in html and "Change my ballot" in html
    assert html.lstrip().startswith(f'<article class="card question" id="question-{question.pk}"')


@pytest.mark.parametrize("kind", KINDS)
def test_invalid_ballot_shows_a_message_and_stores_nothing(kind, make_question, citizen):
    client, participant = citizen
    question = make_question(kind)
    make_data, expected = INVALID[kind]
    response = cast(client, question, make_data(keys(question)))
    assert response.status_code == 422
    html = response.content.decode()
    error = re.search(
        rf'<div class="ballot-error" id="q{question.pk}-error" role="alert"><p>(.+?)</p></div>', html, re.S
    )
    assert error, html
    if expected:
        assert expected in error.group(1)
    assert not Ballot.objects.filter(question=question).exists()
    assert not BallotRevision.objects.filter(question=question).exists()


@pytest.mark.parametrize("kind", KINDS)
def test_closed_question_refuses_ballots(kind, make_question, citizen):
    client, participant = citizen
    question = make_question(kind)
    services.close_question(question)
    data, _content = valid_post(kind, question)
    response = cast(client, question, data)
    assert response.status_code == 422 and "closed" in response.content.decode()
    assert not Ballot.objects.filter(question=question).exists()
    page = client.get(f"/sessions/{question.session_id}/").content.decode()
    assert "Voting on this question is closed" in page


def test_changed_ballot_replaces_the_current_one_and_is_prefilled(make_question, citizen):
    client, participant = citizen
    question = make_question("single")
    k = keys(question)
    cast(client, question, {"choice": k[0]})
    response = cast(client, question, {"choice": k[2]})
    assert "Your changed ballot is counted." in response.content.decode()
    ballot = Ballot.objects.get(question=question, participant=participant)
    assert (ballot.content, ballot.revision) == ({"choice": k[2]}, 2)
    assert BallotRevision.objects.filter(question=question).count() == 2
    page = client.get(f"/sessions/{question.session_id}/").content.decode()
    assert re.search(rf'value="{k[2]}" checked', page) and not re.search(rf'value="{k[0]}" checked', page)


def test_ranking_is_prefilled_in_order(make_question, citizen):
    client, _participant = citizen
    question = make_question("ranking")
    k = keys(question)
    cast(client, question, {f"rank-{k[2]}": "1", f"rank-{k[0]}": "2"})
    page = client.get(f"/sessions/{question.session_id}/").content.decode()
    items = re.findall(r'<li class="rank-item" data-key="([^"]+)"', page)
    assert items == [k[2], k[0], k[1]]
    assert re.search(rf'name="rank-{k[1]}".*?<option value="" selected>', page, re.S)


def test_blank_ballot_abstains(make_question, citizen):
    client, participant = citizen
    question = make_question("single")
    assert cast(client, question, {"choice": "__blank__"}).status_code == 200
    assert Ballot.objects.get(question=question).content == {"choice": None}


def test_without_htmx_a_ballot_redirects_and_an_error_renders_the_page(make_question, citizen):
    client, _participant = citizen
    question = make_question("budget")
    data, _content = valid_post("budget", question)
    response = cast(client, question, data, htmx=False)
    assert response.status_code == 302 and response["Location"].endswith(f"#question-{question.pk}")
    bad = cast(client, question, {f"amount-{keys(question)[0]}": "1"}, htmx=False)
    assert bad.status_code == 422
    html = bad.content.decode()
    assert "<!doctype html>" in html and f'id="q{question.pk}-error" role="alert"><p>' in html


def test_ballot_of_a_stranger_is_refused(make_question):
    question = make_question("single")
    response = cast(Client(), question, {"choice": keys(question)[0]})
    assert response.status_code == 403 and not Ballot.objects.exists()


def test_draft_questions_are_not_shown_to_participants(make_question, citizen):
    client, _participant = citizen
    draft = make_question("single", open_it=False)
    page = client.get(f"/sessions/{draft.session_id}/").content.decode()
    assert f"question-{draft.pk}" not in page


# --- results ----------------------------------------------------------------------------------


@pytest.fixture
def vote(django_capture_on_commit_callbacks):
    """Cast ballots through the real service for fresh participants, running the tally on commit."""
    from deliberation import services as session_services

    def cast_all(session, question, contents):
        with django_capture_on_commit_callbacks(execute=True):
            for index, content in enumerate(contents):
                participant = session_services.join_session(session, display_name=f"v{index}")
                services.cast_ballot(question, participant, content, source="web")

    return cast_all


@pytest.fixture
def close(django_capture_on_commit_callbacks):
    """Close a question and run its final tally as the commit hook does."""

    def close_it(question):
        with django_capture_on_commit_callbacks(execute=True):
            services.close_question(question)

    return close_it


def test_results_page_of_a_plurality_question(session, make_question, citizen, vote):
    client, _participant = citizen
    question = make_question("single")
    park, bikes, _library = keys(question)
    vote(session, question, [{"choice": park}, {"choice": park}, {"choice": park}, {"choice": bikes}])
    html = client.get(f"/questions/{question.pk}/results/").content.decode()
    assert "“Park” wins." in html
    assert re.search(
        r"This result stands even if any \d+ ballots? (was|were) changed\.|changing one ballot could alter it", html
    )
    assert 'data-rule="majority"' in html  # the same ballots under the other single-choice rule
    assert "<svg" in html and "Park" in html


def test_results_hidden_until_close_for_participants_not_organizers(
    session, make_question, citizen, organizer_client, vote, close
):
    client, _participant = citizen
    question = make_question("single", visibility="after_close")
    vote(session, question, [{"choice": keys(question)[0]}])
    hidden = client.get(f"/questions/{question.pk}/results/").content.decode()
    assert "only after the question closes" in hidden and "<svg" not in hidden
    assert client.get(f"/questions/{question.pk}/chart.svg").status_code == 404
    organizer_view = organizer_client.get(f"/questions/{question.pk}/results/").content.decode()
    assert "“Park” wins." in organizer_view and "Participants cannot see this result" in organizer_view
    close(question)
    shown = client.get(f"/questions/{question.pk}/results/").content.decode()
    assert "“Park” wins." in shown and "Final result" in shown


def test_results_need_a_participant_or_the_organizer(make_question):
    question = make_question("single")
    assert Client().get(f"/questions/{question.pk}/results/").status_code == 403
    assert Client().get(f"/questions/{question.pk}/chart.svg").status_code == 403


def test_irv_results_show_rounds_and_disagreements(session, make_question, citizen, vote):
    client, _participant = citizen
    question = make_question("ranking", labels=["A", "B", "C"])
    a, b, c = keys(question)
    # 4 A>B>C, 3 B>C>A, 2 C>B>A: IRV eliminates C, B wins 5-4; plurality-style first counts put A ahead.
    vote(session, question, [{"ranking": [a, b, c]}] * 4 + [{"ranking": [b, c, a]}] * 3 + [{"ranking": [c, b, a]}] * 2)
    html = client.get(f"/questions/{question.pk}/results/").content.decode()
    assert "“B” wins." in html
    assert html.count('class="round-item"') >= 2 and "Eliminated: “C”" in html
    assert 'data-rule="borda"' in html and 'data-rule="schulze"' in html
    assert 'class="chart chart-rounds"' in html

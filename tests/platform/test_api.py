"""The JSON API through Django's test client: status codes, messages, auth and the OpenAPI document."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from jsonschema.exceptions import ValidationError as SchemaError
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate as validate_openapi

from deliberation.models import Participant
from deliberation.services import create_session, mint_participant
from voting.models import Ballot, BallotRevision, Question
from voting.services import close_question, update_question

pytestmark = pytest.mark.django_db


def post_ballot(client: Client, question: Question, body, token: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post(
        f"/api/v1/questions/{question.pk}/ballots", data=data, content_type="application/json", headers=headers
    )
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def get_json(client: Client, path: str, token: str | None = None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = client.get(path, headers=headers)
    assert response["Content-Type"] == "application/json"
    return response.status_code, response.json()


def test_first_ballot_is_201_and_replacement_200(
    client, make_question, participant, django_capture_on_commit_callbacks
):
    question = make_question("ranking")
    with django_capture_on_commit_callbacks(execute=True):
        status, body = post_ballot(client, question, {"ranking": ["beta", "alpha"]}, participant.api_token)
    assert (status, body) == (201, {"question": question.pk, "ballot": {"ranking": ["beta", "alpha"]}, "revision": 1})
    status, body = post_ballot(client, question, {"ranking": ["gamma"]}, participant.api_token)
    assert (status, body["revision"], body["ballot"]) == (200, 2, {"ranking": ["gamma"]})
    assert Ballot.objects.get().source == "api"
    status, body = get_json(client, f"/api/v1/questions/{question.pk}/ballots", participant.api_token)
    assert (status, body["ballot"], body["revision"]) == (200, {"ranking": ["gamma"]}, 2)


def test_missing_or_unknown_token_is_401(client, make_question):
    question = make_question("single")
    status, body = post_ballot(client, question, {"choice": "alpha"}, None)
    assert status == 401 and "Bearer" in body["error"]
    status, body = post_ballot(client, question, {"choice": "alpha"}, "not-a-token")
    assert (status, body) == (401, {"error": "Unknown API token.", "field": None})
    response = client.post(
        f"/api/v1/questions/{question.pk}/ballots",
        data="{}",
        content_type="application/json",
        headers={"Authorization": "Basic abc"},
    )
    assert response.status_code == 401 and response["WWW-Authenticate"].startswith("Bearer")
    assert not Ballot.objects.exists()


def test_token_of_another_session_is_403(client, make_question, organizer):
    question = make_question("single")
    stranger = mint_participant(create_session(organizer, title="Elsewhere"), display_name="stranger")
    status, body = post_ballot(client, question, {"choice": "alpha"}, stranger.api_token)
    assert status == 403 and "another session" in body["error"]
    status, _ = get_json(client, f"/api/v1/questions/{question.pk}/result", stranger.api_token)
    assert status == 403
    assert not Ballot.objects.exists()


def test_invalid_ballot_is_422_with_field_and_nothing_written(client, make_question, participant):
    question = make_question("scores")
    status, body = post_ballot(client, question, {"scores": {"alpha": 1, "beta": 2}}, participant.api_token)
    assert status == 422
    assert body == {"error": "Scores must give a number for every candidate; missing 'gamma'.", "field": "scores"}
    status, body = post_ballot(
        client, question, {"scores": {"alpha": 1, "beta": 2, "gamma": 3}, "weight": 9}, participant.api_token
    )
    assert (status, body["field"]) == (422, "weight")
    assert not Ballot.objects.exists() and not BallotRevision.objects.exists()


@pytest.mark.parametrize("body", ["{not json", '{"value": NaN}', "", "\xff"])
def test_malformed_json_is_400(client, make_question, participant, body):
    question = make_question("number")
    status, answer = post_ballot(client, question, body, participant.api_token)
    assert status == 400 and answer["error"].startswith("The request body is not valid JSON")
    assert not Ballot.objects.exists()


def test_closed_and_draft_questions_are_409(client, make_question, participant):
    question = make_question("single")
    close_question(question)
    status, body = post_ballot(client, question, {"choice": "alpha"}, participant.api_token)
    assert (status, body["error"]) == (409, "This question is closed; ballots are no longer accepted.")
    draft = make_question("single", opened=False)
    status, body = post_ballot(client, draft, {"choice": "alpha"}, participant.api_token)
    assert (status, body["error"]) == (409, "This question is not open for voting yet.")
    assert not Ballot.objects.exists()


def test_unknown_question_is_404_and_wrong_method_405(client, participant):
    status, body = get_json(client, "/api/v1/questions/999999/result", participant.api_token)
    assert (status, body["error"]) == (404, "No such question.")
    response = client.delete(
        "/api/v1/questions/1/ballots", headers={"Authorization": f"Bearer {participant.api_token}"}
    )
    assert response.status_code == 405 and response["Allow"] == "POST, GET"


def test_result_after_ballots(
    client, make_question, participant, other_participant, django_capture_on_commit_callbacks
):
    question = make_question("single")
    with django_capture_on_commit_callbacks(execute=True):
        post_ballot(client, question, {"choice": "gamma"}, participant.api_token)
        post_ballot(client, question, {"choice": "gamma"}, other_participant.api_token)
    status, body = get_json(client, f"/api/v1/questions/{question.pk}/result", participant.api_token)
    assert status == 200
    assert (body["question"], body["ballot_count"], body["is_final"]) == (question.pk, 2, False)
    assert body["rule"] == "plurality" and body["winners"] == ["gamma"] and body["tallies"]["gamma"] == 2
    assert body["version"] == 1  # both tallies ran after both commits: the second found nothing new
    assert "majority" in body["comparison"]


def test_hidden_result_is_403_for_participants_but_not_for_the_organizer(
    client, make_question, participant, organizer, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        question = make_question("single", visibility=Question.Visibility.AFTER_CLOSE)
    status, body = get_json(client, f"/api/v1/questions/{question.pk}/result", participant.api_token)
    assert (status, body["error"]) == (403, "Results of this question are shown after it closes.")
    client.force_login(organizer)
    status, body = get_json(client, f"/api/v1/questions/{question.pk}/result")
    assert (status, body["version"], body["ballot_count"]) == (200, 1, 0)


def test_no_result_yet_is_404(client, make_question, participant):
    question = make_question(
        "single"
    )  # open_question enqueues its tally on commit, which a test transaction never reaches
    status, body = get_json(client, f"/api/v1/questions/{question.pk}/result", participant.api_token)
    assert status == 404 and "No result" in body["error"]


def test_session_detail_lists_open_questions_with_options(client, session, make_question, participant, organizer):
    single = make_question("single")
    make_question("budget", opened=False)
    update_question(single, description="Pick one.")
    status, body = get_json(client, f"/api/v1/sessions/{session.pk}", participant.api_token)
    assert status == 200
    assert body["title"] == "Town budget" and "invite_path" not in body
    assert [q["id"] for q in body["questions"]] == [single.pk]  # the draft stays hidden
    question = body["questions"][0]
    assert question["options"] == [
        {"key": "alpha", "label": "Alpha"},
        {"key": "beta", "label": "Beta"},
        {"key": "gamma", "label": "Gamma"},
    ]
    assert (question["kind"], question["ballot_form"], question["rule"], question["status"]) == (
        "single",
        "choice",
        "plurality",
        "open",
    )
    assert question["my_ballot"] is None
    client.force_login(organizer)
    status, body = get_json(client, f"/api/v1/sessions/{session.pk}")
    assert status == 200 and len(body["questions"]) == 2
    assert body["invite_path"] == f"/join/{session.invite_token}/"


def test_session_detail_needs_auth(client, session, django_user_model):
    status, _ = get_json(client, f"/api/v1/sessions/{session.pk}")
    assert status == 401
    client.force_login(django_user_model.objects.create_user(username="nosy", password="x-password"))
    status, body = get_json(client, f"/api/v1/sessions/{session.pk}")
    assert (status, body["error"]) == (403, "You are not a participant of this session.")


def test_organizer_mints_tokens_that_work(client, session, organizer, make_question):
    question = make_question("single")
    client.force_login(organizer)
    response = client.post(
        f"/api/v1/sessions/{session.pk}/participants",
        data={"count": 3, "kind": "agent", "prefix": "bot", "weight": "1/2"},
        content_type="application/json",
    )
    assert response.status_code == 201
    minted = response.json()["participants"]
    assert [(p["display_name"], p["kind"], p["weight"]) for p in minted] == [
        ("bot 1", "agent", "1/2"),
        ("bot 2", "agent", "1/2"),
        ("bot 3", "agent", "1/2"),
    ]
    assert Participant.objects.filter(session=session, kind="agent").count() == 3
    anonymous = Client()
    status, _ = post_ballot(anonymous, question, {"choice": "beta"}, minted[0]["api_token"])
    assert status == 201
    assert Ballot.objects.get().weight == "1/2"


def test_minting_is_for_the_organizer_only_and_csrf_checked(client, session, organizer, participant, django_user_model):
    path = f"/api/v1/sessions/{session.pk}/participants"
    assert client.post(path, data={"count": 1}, content_type="application/json").status_code == 401
    response = client.post(
        path,
        data={"count": 1},
        content_type="application/json",
        headers={"Authorization": f"Bearer {participant.api_token}"},
    )
    assert response.status_code == 403
    client.force_login(django_user_model.objects.create_user(username="other", password="x-password"))
    assert client.post(path, data={"count": 1}, content_type="application/json").status_code == 403
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(organizer)
    response = strict.post(path, data={"count": 1}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["error"]
    client.force_login(organizer)
    response = client.post(path, data={"count": 5000}, content_type="application/json")
    assert (response.status_code, response.json()["field"]) == (422, "count")
    assert Participant.objects.filter(session=session).count() == 1  # only the fixture's participant


def test_openapi_document_lists_every_endpoint(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/questions/{question_id}/ballots",
        "/questions/{question_id}/result",
        "/sessions/{session_id}",
        "/sessions/{session_id}/participants",
        "/openapi.json",
    }
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A participant's API token.",
    }
    schemas = document["components"]["schemas"]
    assert {
        "ChoiceBallot",
        "RankingBallot",
        "ScoresBallot",
        "ValueBallot",
        "AllocationBallot",
        "Error",
        "Result",
    } <= set(schemas)
    for ref in json.dumps(document).split('"$ref": "')[1:]:
        name = ref.split('"')[0].rsplit("/", 1)[-1]
        assert name in schemas, f"dangling $ref {name}"


def conforms(document: dict, schema: str, instance: object) -> None:
    """Check an API answer against a schema of the OpenAPI document (local $refs resolved)."""
    OAS31Validator({"$ref": f"#/components/schemas/{schema}", "components": document["components"]}).validate(instance)


def test_openapi_document_is_valid_and_describes_real_answers(
    client, session, make_question, participant, django_capture_on_commit_callbacks
):
    document = client.get("/api/v1/openapi.json").json()
    validate_openapi(document)
    question = make_question("budget")
    for content in (
        {"choice": None},
        {"ranking": ["a"]},
        {"scores": {"a": "1/2"}},
        {"value": 3},
        {"allocation": {"a": 1}},
    ):
        conforms(document, "Ballot", content)
    with pytest.raises(SchemaError):
        conforms(document, "Ballot", {"value": 3, "weight": 2})
    with django_capture_on_commit_callbacks(execute=True):
        status, receipt = post_ballot(
            client, question, {"allocation": {"alpha": 40, "gamma": 60}}, participant.api_token
        )
    assert status == 201
    conforms(document, "BallotReceipt", receipt)
    status, refused = post_ballot(client, question, {"allocation": {"alpha": 40}}, participant.api_token)
    assert status == 422
    conforms(document, "Error", refused)
    status, result = get_json(client, f"/api/v1/questions/{question.pk}/result", participant.api_token)
    assert status == 200 and result["allocation_exact"] == {"alpha": 40, "beta": 0, "gamma": 60}
    conforms(document, "Result", result)
    status, detail = get_json(client, f"/api/v1/sessions/{session.pk}", participant.api_token)
    assert status == 200
    conforms(document, "Session", detail)

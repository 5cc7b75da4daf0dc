"""The JSON API (/api/v1/): cast ballots, read results and sessions, mint participant tokens.

Participants (people's scripts, LLM agents, load tests) authenticate with
``Authorization: Bearer <api_token>``; such requests need no CSRF token. Organizers may also
use their signed-in browser session (cookie), in which case unsafe methods are CSRF-checked.
Every error is JSON: ``{"error": message, "field": name or null}``. The views are thin:
services and selectors do the work.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import RequestDataTooBig, ValidationError
from django.http import HttpRequest, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt

from deliberation import selectors as deliberation_selectors
from deliberation import services as deliberation_services
from deliberation.models import Participant, Session
from voting import selectors, services
from voting.models import Ballot, Question

JSON_TYPE = "application/json"


def error(status: int, message: str, field: str | None = None) -> JsonResponse:
    """A JSON error response; 401s also say which authentication scheme to use."""
    response = JsonResponse({"error": message, "field": field}, status=status)
    if status == 401:
        response["WWW-Authenticate"] = 'Bearer realm="plenum"'
    return response


class ApiError(Exception):
    """Raised inside a view to answer with a JSON error."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        self.status = status
        self.message = message
        self.field = field
        super().__init__(message)


def api_view(*methods: str) -> Callable:
    """Allow only ``methods``, turn ApiError into JSON, and exempt from CSRF (checked per scheme below)."""

    def decorate(view: Callable[..., JsonResponse]) -> Callable[..., JsonResponse]:
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
            if request.method not in methods:
                response = error(405, f"Method {request.method} is not allowed here; use {' or '.join(methods)}.")
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return view(request, *args, **kwargs)
            except ApiError as exc:
                return error(exc.status, exc.message, exc.field)

        wrapped.__doc__ = view.__doc__
        wrapped.__name__ = view.__name__
        return csrf_exempt(wrapped)

    return decorate


# --- authentication -------------------------------------------------------------------------------


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None when there is none."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def token_participant(request: HttpRequest) -> Participant | None:
    """The participant named by the bearer token; ApiError 401 for an unknown token, None without one."""
    token = bearer_token(request)
    if token is None:
        if request.headers.get("Authorization"):
            raise ApiError(401, "The Authorization header must be 'Bearer <token>'.")
        return None
    participant = deliberation_selectors.participant_by_token(token)
    if participant is None:
        raise ApiError(401, "Unknown API token.")
    return participant


def require_participant(request: HttpRequest) -> Participant:
    """The bearer-token participant, or ApiError 401."""
    participant = token_participant(request)
    if participant is None:
        raise ApiError(401, "Authentication required: send 'Authorization: Bearer <participant API token>'.")
    return participant


def require_csrf(request: HttpRequest) -> None:
    """Run Django's CSRF check for cookie-authenticated unsafe requests (bearer requests skip it)."""
    check = CsrfViewMiddleware(lambda _request: None)
    check.process_request(request)
    if check.process_view(request, None, (), {}) is not None:
        raise ApiError(403, "CSRF check failed: send the csrftoken cookie's value in the X-CSRFToken header.")


def viewer(request: HttpRequest, session: Session) -> tuple[Participant | None, bool]:
    """Who reads ``session``: (participant or None, is organizer). ApiError 401/403 for anyone else."""
    participant = token_participant(request)
    if participant is not None:
        if participant.session_id != session.pk:
            raise ApiError(403, "This API token belongs to another session.")
        organizer = participant.user_id is not None and participant.user_id == session.organizer_id
        return participant, organizer
    if not request.user.is_authenticated:
        raise ApiError(401, "Authentication required: send 'Authorization: Bearer <participant API token>'.")
    organizer = deliberation_selectors.is_organizer(session, request.user)
    participant = deliberation_selectors.participant_for_session(session, user=request.user)
    if participant is None and not organizer:
        raise ApiError(403, "You are not a participant of this session.")
    return participant, organizer


def load_question(question_id: int) -> Question:
    """The question with its session, or ApiError 404."""
    question = Question.objects.select_related("session").filter(pk=question_id).first()
    if question is None:
        raise ApiError(404, "No such question.")
    return question


def read_json(request: HttpRequest) -> Any:
    """The request body parsed as JSON; ApiError 400 for malformed JSON, 413 for an oversized body."""
    try:
        body = request.body
    except RequestDataTooBig:
        raise ApiError(413, "The request body is too large.") from None
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, f"The request body is not valid JSON: {exc}.") from None


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a number JSON allows")


# --- endpoints ------------------------------------------------------------------------------------


@api_view("POST", "GET")
def ballots(request: HttpRequest, question_id: int) -> JsonResponse:
    """POST: cast or replace the token holder's ballot (201 first, 200 replaced). GET: their current ballot."""
    participant = require_participant(request)
    question = load_question(question_id)
    if participant.session_id != question.session_id:
        raise ApiError(403, "This API token belongs to another session.")
    if request.method == "GET":
        current = selectors.current_ballot(question, participant)
        return JsonResponse(
            {
                "question": question.pk,
                "ballot": None if current is None else current.content,
                "revision": 0 if current is None else current.revision,
            }
        )
    content = read_json(request)
    try:
        ballot = services.cast_ballot(question, participant, content, source=Ballot.Source.API)
    except services.BallotRejected as exc:
        status = {"closed": 409, "not_open": 409, "not_participant": 403}.get(exc.code, 422)
        raise ApiError(status, exc.message, exc.field) from None
    return JsonResponse(
        {"question": question.pk, "ballot": ballot.content, "revision": ballot.revision},
        status=201 if ballot.revision == 1 else 200,
    )


@api_view("GET")
def result(request: HttpRequest, question_id: int) -> JsonResponse:
    """The question's newest result, if the caller may see it now."""
    question = load_question(question_id)
    _participant, organizer = viewer(request, question.session)
    if question.status == Question.Status.DRAFT:
        if not organizer:
            raise ApiError(404, "No such question.")
        raise ApiError(404, "This question is a draft; it has no result yet.")
    if not selectors.results_visible(question, is_organizer=organizer):
        raise ApiError(403, "Results of this question are shown after it closes.")
    stored = selectors.latest_result(question)
    if stored is None:
        raise ApiError(404, "No result has been computed yet; try again shortly.")
    return JsonResponse(selectors.result_summary(stored))


@api_view("GET")
def session_detail(request: HttpRequest, session_id: int) -> JsonResponse:
    """The session and its questions (kinds, options, rule, params, status); drafts only for organizers."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        raise ApiError(404, "No such session.")
    participant, organizer = viewer(request, session)
    questions = []
    for question in selectors.session_questions(session, include_drafts=organizer):
        summary = selectors.question_summary(question)
        if participant is not None:
            current = selectors.current_ballot(question, participant)
            summary["my_ballot"] = None if current is None else current.content
        questions.append(summary)
    payload: dict[str, Any] = {
        "id": session.pk,
        "title": session.title,
        "prompt": session.prompt,
        "is_open": session.is_open,
        "join_policy": session.join_policy,
        "questions": questions,
    }
    if participant is not None:
        payload["me"] = {"id": participant.pk, "display_name": participant.display_name, "kind": participant.kind}
    if organizer:
        payload["invite_path"] = f"/join/{session.invite_token}/"
    return JsonResponse(payload)


@api_view("POST")
def participants(request: HttpRequest, session_id: int) -> JsonResponse:
    """Organizers mint participants with API tokens: body {"count", "kind", "prefix", "weight"}.

    Authenticated by the organizer's signed-in session (cookie + CSRF token); participant
    tokens cannot mint. Scripts can use ``manage.py mint_tokens`` instead.
    """
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        raise ApiError(404, "No such session.")
    if bearer_token(request) is not None:
        raise ApiError(403, "Participant tokens cannot mint participants; sign in as the organizer.")
    if not request.user.is_authenticated:
        raise ApiError(401, "Sign in as the session's organizer to mint participants.")
    require_csrf(request)
    if not deliberation_selectors.is_organizer(session, request.user):
        raise ApiError(403, "Only the session's organizer can mint participants.")
    body = read_json(request)
    if not isinstance(body, dict):
        raise ApiError(422, "The body must be a JSON object.")
    unknown = sorted(set(body) - {"count", "kind", "prefix", "weight"})
    if unknown:
        raise ApiError(422, f"Unknown field {unknown[0]!r}; use count, kind, prefix and weight.", unknown[0])
    try:
        minted = deliberation_services.mint_participants(
            session,
            body.get("count", 1),
            prefix=str(body.get("prefix", "")),
            kind=body.get("kind", Participant.Kind.AGENT),
            weight=body.get("weight", "1"),
        )
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise ApiError(422, messages[0], field) from None
    return JsonResponse(
        {
            "participants": [
                {
                    "id": participant.pk,
                    "display_name": participant.display_name,
                    "kind": participant.kind,
                    "weight": participant.weight,
                    "api_token": participant.api_token,
                }
                for participant in minted
            ]
        },
        status=201,
    )


@api_view("GET")
def openapi(request: HttpRequest) -> JsonResponse:
    """The OpenAPI 3.1 description of this API."""
    return JsonResponse(OPENAPI)


# --- the OpenAPI document -------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON_TYPE: {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    meaning = {
        400: "Malformed JSON body.",
        401: "Missing or unknown bearer token.",
        403: "The token's participant is not in this session, or the result is hidden until the question closes.",
        404: "No such question or session, or no result yet.",
        405: "Method not allowed.",
        409: "The question is not open (draft) or already closed.",
        413: "The body is too large.",
        422: "The ballot (or request) is not valid for this question; `field` names the part at fault.",
    }
    return {str(code): _json(_ref("Error"), meaning[code]) for code in codes}


_EXACT = {
    "description": "An exact number: a JSON number or a 'p/q' fraction string.",
    "oneOf": [{"type": "number"}, {"type": "string", "pattern": r"^\s*[+-]?\d+\s*/\s*\d+\s*$"}],
}
_KEYED_NUMBERS = {"type": "object", "additionalProperties": _ref("ExactNumber")}
_QUESTION_PATH = {"name": "question_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_SESSION_PATH = {"name": "session_id", "in": "path", "required": True, "schema": {"type": "integer"}}

OPENAPI: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "Plenum API",
        "version": "1",
        "description": (
            "Cast ballots, read results and sessions. Participants authenticate with "
            "`Authorization: Bearer <api_token>` (tokens are minted by organizers: "
            "`POST /sessions/{id}/participants` or `manage.py mint_tokens`). A ballot is the "
            "engine's JSON ballot form with option keys as ids and exactly one key matching the "
            "question's `ballot_form`; it must not carry a weight (the participant's weight applies)."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerAuth": []}],
    "paths": {
        "/questions/{question_id}/ballots": {
            "parameters": [_QUESTION_PATH],
            "post": {
                "operationId": "castBallot",
                "summary": "Cast or replace your ballot on a question",
                "requestBody": {"required": True, "content": {JSON_TYPE: {"schema": _ref("Ballot")}}},
                "responses": {
                    "201": _json(_ref("BallotReceipt"), "First ballot stored."),
                    "200": _json(_ref("BallotReceipt"), "Ballot replaced; revision increased."),
                    **_errors(400, 401, 403, 404, 409, 413, 422),
                },
            },
            "get": {
                "operationId": "getMyBallot",
                "summary": "Your current ballot on a question (null and revision 0 if none)",
                "responses": {
                    "200": _json(_ref("BallotReceipt"), "Your current ballot."),
                    **_errors(401, 403, 404),
                },
            },
        },
        "/questions/{question_id}/result": {
            "parameters": [_QUESTION_PATH],
            "get": {
                "operationId": "getResult",
                "summary": "The newest visible result of a question",
                "security": [{"bearerAuth": []}, {"cookieAuth": []}],
                "responses": {"200": _json(_ref("Result"), "The newest result."), **_errors(401, 403, 404)},
            },
        },
        "/sessions/{session_id}": {
            "parameters": [_SESSION_PATH],
            "get": {
                "operationId": "getSession",
                "summary": "A session with its questions, options, rules and your current ballots",
                "security": [{"bearerAuth": []}, {"cookieAuth": []}],
                "responses": {"200": _json(_ref("Session"), "The session."), **_errors(401, 403, 404)},
            },
        },
        "/sessions/{session_id}/participants": {
            "parameters": [_SESSION_PATH],
            "post": {
                "operationId": "mintParticipants",
                "summary": "Organizers: mint participants with API tokens (for agents, scripts, load tests)",
                "description": "Authenticated by the organizer's signed-in session cookie plus the X-CSRFToken header.",
                "security": [{"cookieAuth": []}],
                "requestBody": {"required": True, "content": {JSON_TYPE: {"schema": _ref("MintRequest")}}},
                "responses": {
                    "201": _json(_ref("MintedParticipants"), "The new participants and their tokens."),
                    **_errors(400, 401, 403, 404, 422),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "operationId": "getOpenApi",
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "The OpenAPI document.", "content": {JSON_TYPE: {}}}},
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer", "description": "A participant's API token."},
            "cookieAuth": {"type": "apiKey", "in": "cookie", "name": "sessionid", "description": "A signed-in user."},
        },
        "schemas": {
            "Error": {
                "type": "object",
                "required": ["error", "field"],
                "properties": {
                    "error": {"type": "string", "description": "What is wrong, in words for people."},
                    "field": {"type": ["string", "null"], "description": "The part of the request at fault."},
                },
            },
            "ExactNumber": _EXACT,
            "ChoiceBallot": {
                "type": "object",
                "description": "Single-choice questions. null abstains.",
                "required": ["choice"],
                "additionalProperties": False,
                "properties": {"choice": {"type": ["string", "null"], "description": "An option key."}},
            },
            "RankingBallot": {
                "type": "object",
                "description": "Ranking questions: option keys best first; a partial ranking leaves the rest unranked.",
                "required": ["ranking"],
                "additionalProperties": False,
                "properties": {"ranking": {"type": "array", "items": {"type": "string"}, "uniqueItems": True}},
            },
            "ScoresBallot": {
                "type": "object",
                "description": "Score questions: a score for every option key, higher is better.",
                "required": ["scores"],
                "additionalProperties": False,
                "properties": {"scores": _KEYED_NUMBERS},
            },
            "ValueBallot": {
                "type": "object",
                "description": "Number questions: a number (reports outside [lo, hi] are clamped or refused per the question).",
                "required": ["value"],
                "additionalProperties": False,
                "properties": {"value": _ref("ExactNumber")},
            },
            "AllocationBallot": {
                "type": "object",
                "description": "Budget questions: non-negative amounts per option key summing to the question's total; missing keys count 0.",
                "required": ["allocation"],
                "additionalProperties": False,
                "properties": {"allocation": _KEYED_NUMBERS},
            },
            "Ballot": {
                "oneOf": [
                    _ref("ChoiceBallot"),
                    _ref("RankingBallot"),
                    _ref("ScoresBallot"),
                    _ref("ValueBallot"),
                    _ref("AllocationBallot"),
                ]
            },
            "BallotReceipt": {
                "type": "object",
                "required": ["question", "ballot", "revision"],
                "properties": {
                    "question": {"type": "integer"},
                    "ballot": {"oneOf": [_ref("Ballot"), {"type": "null"}]},
                    "revision": {"type": "integer", "description": "How many times you have cast this ballot."},
                },
            },
            "Round": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "note": {"type": "string"},
                    "tallies": _KEYED_NUMBERS,
                    "eliminated": {"type": "array", "items": {"type": "string"}},
                    "advanced": {"type": "array", "items": {"type": "string"}},
                    "winners": {"type": "array", "items": {"type": "string"}},
                    "extra": {"type": "object"},
                },
            },
            "EngineResult": {
                "type": "object",
                "description": "The aggregation engine's JSON result, option keys as ids.",
                "properties": {
                    "rule": {"type": "string"},
                    "status": {"type": "string"},
                    "winners": {"type": "array", "items": {"type": "string"}},
                    "ranking": {"type": ["array", "null"], "items": {"type": "string"}},
                    "tie_break": {"type": ["string", "null"]},
                    "tallies": _KEYED_NUMBERS,
                    "rounds": {"type": "array", "items": _ref("Round")},
                    "certificate": {
                        "description": "Robustness: the result stands if any `changed_ballots` ballots changed.",
                        "oneOf": [{"type": "object"}, {"const": "unbounded"}, {"type": "null"}],
                    },
                    "outcome": {"type": ["number", "null"]},
                    "outcome_exact": {"oneOf": [_ref("ExactNumber"), {"type": "null"}]},
                    "allocation": {"type": ["object", "null"], "additionalProperties": {"type": "number"}},
                    "allocation_exact": {"oneOf": [_KEYED_NUMBERS, {"type": "null"}]},
                    "pairwise": {"type": ["object", "null"]},
                    "details": {"type": "object"},
                    "warnings": {"type": "array", "items": {"type": "string"}},
                },
            },
            "Result": {
                "allOf": [
                    _ref("EngineResult"),
                    {
                        "type": "object",
                        "required": ["question", "version", "ballot_count", "is_final", "comparison"],
                        "properties": {
                            "question": {"type": "integer"},
                            "version": {"type": "integer", "description": "Higher is newer."},
                            "ballot_count": {"type": "integer"},
                            "is_final": {"type": "boolean", "description": "Computed after the question closed."},
                            "params": {"type": "object", "description": "The rule's parameters, defaults filled in."},
                            "comparison": {
                                "type": "object",
                                "description": "Other rules of the same ballot kind on the same ballots (number questions: median and mean).",
                                "additionalProperties": {"type": "object"},
                            },
                            "computed_at": {"type": "string", "format": "date-time"},
                        },
                    },
                ]
            },
            "Option": {
                "type": "object",
                "properties": {"key": {"type": "string"}, "label": {"type": "string"}},
            },
            "Question": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "text": {"type": "string"},
                    "description": {"type": "string"},
                    "kind": {"enum": list(Question.Kind.values)},
                    "ballot_form": {"enum": ["choice", "ranking", "scores", "value", "allocation"]},
                    "rule": {"type": "string"},
                    "rule_title": {"type": "string"},
                    "params": {"type": "object"},
                    "status": {"enum": list(Question.Status.values)},
                    "visibility": {"enum": list(Question.Visibility.values)},
                    "position": {"type": "integer"},
                    "options": {"type": "array", "items": _ref("Option")},
                    "my_ballot": {"oneOf": [_ref("Ballot"), {"type": "null"}]},
                },
            },
            "Session": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "title": {"type": "string"},
                    "prompt": {"type": "string"},
                    "is_open": {"type": "boolean"},
                    "join_policy": {"enum": list(Session.JoinPolicy.values)},
                    "questions": {"type": "array", "items": _ref("Question")},
                    "me": {"type": "object"},
                    "invite_path": {"type": "string", "description": "Organizers only."},
                },
            },
            "MintRequest": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "count": {"type": "integer", "minimum": 1, "maximum": deliberation_services.MAX_MINT, "default": 1},
                    "kind": {"enum": list(Participant.Kind.values), "default": "agent"},
                    "prefix": {"type": "string", "description": "Display names become '<prefix> 1', '<prefix> 2', ..."},
                    "weight": {
                        "type": ["string", "integer"],
                        "description": "Exact weight, e.g. 1 or '1/2'.",
                        "default": "1",
                    },
                },
            },
            "MintedParticipants": {
                "type": "object",
                "properties": {
                    "participants": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {
                                "id": {"type": "integer"},
                                "display_name": {"type": "string"},
                                "kind": {"type": "string"},
                                "weight": {"type": "string"},
                                "api_token": {"type": "string"},
                            },
                        },
                    }
                },
            },
        },
    },
}

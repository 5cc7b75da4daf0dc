"""Live results: who may watch a question or a session, their snapshots, and pushing new versions.

Every watcher joins one channel group per audience: ``organizers`` always receive a new
result; ``participants`` only when the question shows results to them (live visibility, or
closed). A result's fragment is rendered once and sent to the groups allowed to see it; the
browser swaps it in by element id (htmx ws extension) and ignores versions older than its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.auth.models import AnonymousUser
from django.template.loader import render_to_string

from deliberation import selectors as session_selectors
from deliberation.cookies import participant_id_from_cookies
from deliberation.models import Session
from voting import selectors
from voting.models import Question, Result
from voting.presentation import result_context, status_sentence

ORGANIZERS = "organizers"
PARTICIPANTS = "participants"


def question_group(question_id: int, audience: str) -> str:
    """The channel group of one audience watching a question's result."""
    return f"question-{question_id}-{audience}"


def session_group(session_id: int, audience: str) -> str:
    """The channel group of one audience watching a session's summary panel."""
    return f"session-{session_id}-{audience}"


def _bearer_token(headers: list[tuple[bytes, bytes]]) -> str:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.decode("latin-1").partition(" ")
            if scheme.lower() == "bearer":
                return token.strip()
    return ""


def audience_for(session: Session, scope: Mapping[str, Any]) -> str | None:
    """``organizers`` or ``participants`` for a websocket's scope in this session, or None (refuse).

    A participant is known by the signed identity cookie, by their signed-in account, or by the
    API token in an ``Authorization: Bearer`` header (agents, scripts and load tests).
    """
    user = scope.get("user") or AnonymousUser()
    if session_selectors.is_organizer(session, user):
        return ORGANIZERS
    participant = session_selectors.participant_for_session(
        session, participant_id=participant_id_from_cookies(scope.get("cookies") or {}, session.pk), user=user
    )
    if participant is None:
        token = _bearer_token(scope.get("headers") or [])
        by_token = session_selectors.participant_by_token(token)
        if by_token is not None and by_token.session_id == session.pk:
            participant = by_token
    return None if participant is None else PARTICIPANTS


def question_audience(question_id: int, scope: Mapping[str, Any]) -> tuple[Question, str] | None:
    """The question (not a draft) and the scope's audience for it, or None when the socket must be refused."""
    question = Question.objects.select_related("session").filter(pk=question_id).first()
    if question is None or question.status == Question.Status.DRAFT:
        return None
    audience = audience_for(question.session, scope)
    return None if audience is None else (question, audience)


def session_audience(session_id: int, scope: Mapping[str, Any]) -> tuple[Session, str] | None:
    """The session and the scope's audience for its summary panel, or None when the socket must be refused."""
    session = Session.objects.filter(pk=session_id).first()
    if session is None:
        return None
    audience = audience_for(session, scope)
    return None if audience is None else (session, audience)


def render_results(question: Question, result: Result | None, *, is_organizer: bool, reset: bool = False) -> str:
    """The question's results fragment (the same markup as the results page) for one audience."""
    options = list(question.options.all())
    hidden = result is None and not is_organizer and question.visibility == Question.Visibility.AFTER_CLOSE
    context: dict[str, Any] = {
        "question": question,
        "session": question.session,
        "is_organizer": is_organizer,
        "options": options,
        "hidden": hidden,
        "reset": reset,
    }
    if result is not None:
        context.update(result_context(question, result, options, selectors.number_reports(question)))
    return render_to_string("voting/_results.html", context)


def question_snapshot(question: Question, audience: str) -> tuple[int, str]:
    """(version, html) of what a newly connected watcher sees first; version 0 before any visible result."""
    is_organizer = audience == ORGANIZERS
    result = selectors.visible_result(question, is_organizer=is_organizer)
    return (result.version if result else 0), render_results(question, result, is_organizer=is_organizer)


def render_session_summary(session: Session, *, is_organizer: bool, reset: bool = False) -> tuple[int, str]:
    """(version, html) of the session's summary panel: each question's state, count and outcome if visible.

    The version is the sum of the questions' result versions, so it grows with every new result.
    """
    rows = _summary_rows(session, is_organizer=is_organizer)
    version = sum(row["version"] for row in rows)
    html = render_to_string(
        "voting/_session_summary.html",
        {"session": session, "rows": rows, "version": version, "is_organizer": is_organizer, "reset": reset},
    )
    return version, html


def _summary_rows(session: Session, *, is_organizer: bool) -> list[dict[str, Any]]:
    rows = []
    for question in selectors.session_questions(session, include_drafts=False):
        result = selectors.latest_result(question)
        visible = result is not None and selectors.results_visible(question, is_organizer=is_organizer)
        labels = {option.key: option.label for option in question.options.all()}
        rows.append(
            {
                "question": question,
                "version": result.version if result else 0,
                "ballot_count": result.ballot_count if visible else None,
                "sentence": status_sentence(result.payload, labels, question.kind) if visible else "",
            }
        )
    return rows


def _send(group: str, version: int, html: str, kind: str = "live.update") -> None:
    async_to_sync(get_channel_layer().group_send)(group, {"type": kind, "version": version, "html": html})


def publish_result(result_id: int) -> None:
    """Push a stored result to its question's watchers (participants only if they may see it) and refresh
    the session's summary panels. Rendered once per audience that receives it."""
    result = Result.objects.select_related("question__session").filter(pk=result_id).first()
    if result is None:
        return
    question = result.question
    participants_see_it = selectors.results_visible(question, is_organizer=False)
    html = render_results(question, result, is_organizer=not participants_see_it)
    _send(question_group(question.pk, ORGANIZERS), result.version, html)
    if participants_see_it:
        _send(question_group(question.pk, PARTICIPANTS), result.version, html)
    for audience, is_organizer in ((ORGANIZERS, True), (PARTICIPANTS, False)):
        version, summary = render_session_summary(question.session, is_organizer=is_organizer)
        _send(session_group(question.session_id, audience), version, summary)


def publish_visibility(question_id: int) -> None:
    """After the organizer changed who sees a question's results: participants' open pages show
    the result or the "shown after closing" notice now, and their summary panel follows.

    Sent as ``live.reset``: the watcher takes it whatever version it had, so hiding can go back.
    """
    question = Question.objects.select_related("session").filter(pk=question_id).first()
    if question is None or question.status == Question.Status.DRAFT:
        return
    result = selectors.visible_result(question, is_organizer=False)
    html = render_results(question, result, is_organizer=False, reset=True)
    version = result.version if result else 0
    _send(question_group(question.pk, PARTICIPANTS), version, html, "live.reset")
    version, summary = render_session_summary(question.session, is_organizer=False, reset=True)
    _send(session_group(question.session_id, PARTICIPANTS), version, summary, "live.reset")

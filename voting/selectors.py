"""Reads for questions, ballots and results: what a page, the API or a task needs to show or compute."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from aggregation.core import InvalidInput
from aggregation.registry import RULES
from deliberation.models import Participant, Session
from voting.models import Ballot, Option, Question, Result, TallyState

# Which rules fit which ballot kind (the first is the default), and the one ballot form each kind takes.
KIND_RULES: dict[str, tuple[str, ...]] = {
    Question.Kind.SINGLE: ("plurality", "majority"),
    Question.Kind.RANKING: ("schulze", "irv", "borda", "runoff"),
    Question.Kind.SCORES: ("runoff",),
    Question.Kind.NUMBER: ("uniform_phantom",),
    Question.Kind.BUDGET: ("independent_markets",),
}
KIND_FORMS: dict[str, str] = {
    Question.Kind.SINGLE: "choice",
    Question.Kind.RANKING: "ranking",
    Question.Kind.SCORES: "scores",
    Question.Kind.NUMBER: "value",
    Question.Kind.BUDGET: "allocation",
}
# A number question has no options; the engine still wants one candidate id for it.
NUMBER_CANDIDATE = "value"


def rules_for_kind(kind: str) -> tuple[str, ...]:
    """The engine rules a question of this ballot kind may use (empty for an unknown kind)."""
    return KIND_RULES.get(kind, ())


def ballot_form(kind: str) -> str:
    """The JSON ballot key a question of this kind takes: choice, ranking, scores, value or allocation."""
    return KIND_FORMS[kind]


def option_keys(question: Question) -> list[str]:
    """The question's option keys in tie-break order."""
    return list(Option.objects.filter(question=question).order_by("position", "id").values_list("key", flat=True))


def engine_candidates(question: Question) -> list[str]:
    """The candidate ids the engine sees: the option keys, or one synthetic id for a number question."""
    if question.kind == Question.Kind.NUMBER:
        return [NUMBER_CANDIDATE]
    return option_keys(question)


def latest_result(question: Question) -> Result | None:
    """The newest stored result of the question, or None before the first tally."""
    return Result.objects.filter(question=question).order_by("-version").first()


def results_visible(question: Question, *, is_organizer: bool) -> bool:
    """Organizers always see results; participants while voting only if the question shows them live."""
    return is_organizer or question.visibility == Question.Visibility.LIVE or question.status == Question.Status.CLOSED


def visible_result(question: Question, *, is_organizer: bool) -> Result | None:
    """The newest result if this viewer may see it now, else None."""
    if not results_visible(question, is_organizer=is_organizer):
        return None
    return latest_result(question)


def current_ballot(question: Question, participant: Participant) -> Ballot | None:
    """The participant's current ballot on the question, or None if they have not voted."""
    return Ballot.objects.filter(question=question, participant=participant).first()


def ballot_count(question: Question) -> int:
    """How many participants currently have a ballot on the question."""
    return Ballot.objects.filter(question=question).count()


def number_reports(question: Question) -> list[tuple[Fraction, Fraction]]:
    """Each distinct report of a number question with its total weight, as of the latest result.

    Read from the live tally (its size follows the distinct values, not the ballots), for the number line.
    """
    if question.kind != Question.Kind.NUMBER:
        return []
    tallies = TallyState.objects.filter(question=question).values_list("tallies", flat=True).first() or {}
    saved = tallies.get(question.rule)
    if not saved:
        return []
    try:
        tally = RULES[question.rule].tally_from_state(saved["state"])
    except InvalidInput:  # a snapshot the next recompute rebuilds; until then the chart shows no reports
        return []
    return [(value, Fraction(count)) for value, count in tally.distinct_reports()]


def session_questions(session: Session, *, include_drafts: bool) -> list[Question]:
    """The session's questions in order (drafts only for organizers), options prefetched."""
    questions = Question.objects.filter(session=session).prefetch_related("options").order_by("position", "id")
    if not include_drafts:
        questions = questions.exclude(status=Question.Status.DRAFT)
    return list(questions)


def question_summary(question: Question) -> dict[str, Any]:
    """A JSON-able description of a question: kind, ballot form, rule, params, status, options."""
    spec = RULES.get(question.rule)
    return {
        "id": question.pk,
        "text": question.text,
        "description": question.description,
        "kind": question.kind,
        "ballot_form": KIND_FORMS.get(question.kind),
        "rule": question.rule,
        "rule_title": spec.title if spec is not None else question.rule,
        "params": question.params,
        "status": question.status,
        "visibility": question.visibility,
        "position": question.position,
        "options": [{"key": option.key, "label": option.label} for option in question.options.all()],
    }


def result_summary(result: Result) -> dict[str, Any]:
    """A stored result as the API shows it: the engine payload plus version, count, comparison and finality."""
    return {
        **result.payload,
        "question": result.question_id,
        "version": result.version,
        "ballot_count": result.ballot_count,
        "is_final": result.is_final,
        "params": result.params,
        "comparison": result.comparison,
        "computed_at": result.computed_at.isoformat(),
    }

"""Pages and htmx fragments of questions: organizer controls, ballots, results and charts.

Views are thin: they read with selectors, write with services, and only turn the
engine's JSON result into words and charts for people.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from deliberation import selectors as session_selectors
from deliberation.cookies import current_participant
from deliberation.models import Participant, Session
from voting import charts, selectors, services
from voting.forms import BallotForm, QuestionForm, SessionQuestionVisibilityForm, rule_title
from voting.models import Question
from voting.presentation import result_context
from voting.services import BallotRejected

# ---------------------------------------------------------------------------------------------
# Access


def is_organizer(request: HttpRequest, session: Session) -> bool:
    """Whether the signed-in user organizes this session."""
    return session_selectors.is_organizer(session, request.user)


def organized_session(request: HttpRequest, pk: int) -> Session:
    """The session with this id if the signed-in user organizes it (404 otherwise)."""
    session = get_object_or_404(Session, pk=pk)
    if not is_organizer(request, session):
        raise Http404("No such session among yours.")
    return session


def organized_question(request: HttpRequest, pk: int) -> Question:
    """The question with this id if the signed-in user organizes its session (404 otherwise)."""
    question = get_object_or_404(Question.objects.select_related("session"), pk=pk)
    if not is_organizer(request, question.session):
        raise Http404("No such question among yours.")
    return question


# ---------------------------------------------------------------------------------------------
# Citizen: ballots


def question_card(
    question: Question, participant: Participant, *, form: BallotForm | None = None, notice: str = "", error: str = ""
) -> dict[str, Any]:
    """What the template needs to show one question to a participant, with their current ballot."""
    options = list(question.options.all())
    ballot = selectors.current_ballot(question, participant)
    if form is None:
        form = BallotForm(question, options, content=ballot.content if ballot is not None else None)
    card = {
        "question": question,
        "options": options,
        "form": form,
        "ballot": ballot,
        "notice": notice,
        "error": error,
        "rule_title": rule_title(question.rule),
        "rows": form.rows(),
    }
    card.update(_control_settings(question, form, len(options)))
    return card


def _control_settings(question: Question, form: BallotForm, m: int) -> dict[str, Any]:
    """Ranges and current values the ballot controls of a question's kind need."""
    params = question.params or {}
    if question.kind == Question.Kind.SINGLE:
        return {"form_choice": form.value_of("choice")}
    if question.kind == Question.Kind.RANKING:
        return {"positions": [("", "not ranked")] + [(str(i), str(i)) for i in range(1, m + 1)]}
    if question.kind == Question.Kind.SCORES:
        return {"score_min": 0, "score_max": 10}
    if question.kind == Question.Kind.NUMBER:
        lo = charts.exact(params.get("lo", 0))
        hi = charts.exact(params.get("hi", 100))
        step = (hi - lo) / 100 if hi > lo else Fraction(1)
        return {
            "lo": float(lo),
            "hi": float(hi),
            "lo_text": charts.format_number(lo),
            "hi_text": charts.format_number(hi),
            "step": float(step) if step.denominator != 1 else int(step),
            "mid": float((lo + hi) / 2),
            "number_value": form.value_of("value"),
        }
    if question.kind == Question.Kind.BUDGET:
        total = charts.exact(params.get("total", 100))
        return {"total": float(total), "total_text": charts.format_number(total)}
    return {}


def question_cards(
    session: Session, participant: Participant, override: dict[int, dict] | None = None
) -> list[dict[str, Any]]:
    """The cards of every question a participant can see (open and closed, not drafts)."""
    override = override or {}
    return [
        override.get(question.pk) or question_card(question, participant)
        for question in selectors.session_questions(session, include_drafts=False)
    ]


def _form_error_text(form: BallotForm) -> str:
    texts = [str(text) for text in form.non_field_errors()]
    for name, errors in form.errors.items():
        if name != "__all__":
            label = form.fields[name].label if name in form.fields else name
            texts.extend(
                f"{label}: {text}" if name.startswith(("rank-", "score-", "amount-")) else str(text) for text in errors
            )
    return " ".join(texts)


@require_POST
def cast(request: HttpRequest, pk: int) -> HttpResponse:
    """Cast or change a ballot: the htmx fragment of the question (422 with the message when refused)."""
    question = get_object_or_404(Question.objects.select_related("session"), pk=pk)
    session = question.session
    participant = current_participant(request, session)
    if participant is None:
        return render(request, "deliberation/not_joined.html", {"session": session}, status=403)
    options = list(question.options.all())
    form = BallotForm(question, options, request.POST)
    error = ""
    ballot = None
    if form.is_valid():
        try:
            ballot = services.cast_ballot(question, participant, form.cleaned_data["content"], source="web")
        except BallotRejected as rejected:
            error = rejected.message
    else:
        error = _form_error_text(form)
    question.refresh_from_db()
    if ballot is not None:
        notice = "Your ballot is counted." if ballot.revision == 1 else "Your changed ballot is counted."
        card = question_card(question, participant, notice=notice)
        status = 200
    else:
        card = question_card(question, participant, form=form, error=error)
        status = 422
    if request.htmx:
        return render(request, "voting/_question_card.html", {"card": card, "session": session}, status=status)
    if ballot is not None:
        messages.success(request, f"{card['notice']} ({question.text})")
        return redirect(f"{reverse('session_page', args=[session.pk])}#question-{question.pk}")
    context = {
        "session": session,
        "participant": participant,
        "cards": question_cards(session, participant, override={question.pk: card}),
        "is_organizer": is_organizer(request, session),
    }
    return render(request, "deliberation/session_page.html", context, status=status)


# ---------------------------------------------------------------------------------------------
# Organizer: questions


def _questions_context(session: Session, form: QuestionForm | None = None) -> dict[str, Any]:
    return {
        "session": session,
        "questions": selectors.session_questions(session, include_drafts=True),
        "question_form": form or QuestionForm(),
    }


@login_required
@require_POST
def question_create(request: HttpRequest, session_pk: int) -> HttpResponse:
    """Add a question; the engine (through the service) judges the rule and its parameters."""
    session = organized_session(request, session_pk)
    form = QuestionForm(request.POST)
    created = None
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = services.create_question(
                session,
                text=data["text"],
                description=data["description"],
                kind=data["kind"],
                rule=data["rule"],
                params=data["params"],
                option_labels=data["options"],
                visibility=data["visibility"],
            )
        except ValidationError as error:
            form.add_service_errors(error)
    if created is None:
        if request.htmx:
            return render(
                request, "voting/_question_form.html", {"session": session, "question_form": form}, status=422
            )
        return render(request, "voting/question_new.html", {"session": session, "question_form": form}, status=422)
    if request.htmx:
        response = render(request, "voting/_organizer_questions.html", _questions_context(session))
        response["HX-Retarget"] = "#questions"
        response["HX-Reswap"] = "outerHTML"
        return response
    messages.success(request, f"Question added: {created.text}")
    return redirect(f"{reverse('session_manage', args=[session.pk])}#question-{created.pk}")


@login_required
@require_http_methods(["GET", "POST"])
def question_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit a question: everything while it is a draft; afterwards only its text, description and visibility."""
    question = organized_question(request, pk)
    session = question.session
    draft = question.status == Question.Status.DRAFT
    status = 200
    if request.method == "POST":
        data = request.POST.copy()
        if not draft:  # the ballot's meaning is fixed once voting opened: keep the stored structure
            structure = QuestionForm.for_question(question).initial
            for name in QuestionForm.STRUCTURE_FIELDS:
                data.pop(name, None)
            data.update({name: value for name, value in structure.items() if name not in QuestionForm.EDITABLE_FIELDS})
        form = QuestionForm(data)
        if form.is_valid():
            fields = {name: form.cleaned_data[name] for name in QuestionForm.EDITABLE_FIELDS}
            if draft:
                fields.update(
                    kind=form.cleaned_data["kind"],
                    rule=form.cleaned_data["rule"],
                    params=form.cleaned_data["params"],
                    option_labels=form.cleaned_data["options"],
                )
            try:
                services.update_question(question, **fields)
            except ValidationError as error:
                form.add_service_errors(error)
            else:
                messages.success(request, f"Question saved: {question.text}")
                return redirect(f"{reverse('session_manage', args=[session.pk])}#question-{question.pk}")
        status = 422
    else:
        form = QuestionForm.for_question(question)
    context = {"session": session, "question": question, "question_form": form, "locked": not draft}
    return render(request, "voting/question_edit.html", context, status=status)


@login_required
@require_GET
def question_form(request: HttpRequest, session_pk: int) -> HttpResponse:
    """The question form again after the ballot kind or rule changed (rule choices and parameters follow)."""
    session = organized_session(request, session_pk)
    form = QuestionForm(initial=request.GET.dict())
    editing = None
    if request.GET.get("editing", "").isdigit():
        editing = organized_question(request, int(request.GET["editing"]))
    if request.htmx:
        return render(
            request, "voting/_question_form.html", {"session": session, "question_form": form, "question": editing}
        )
    template = "voting/question_edit.html" if editing else "voting/question_new.html"
    return render(request, template, {"session": session, "question_form": form, "question": editing})


def _row_response(request: HttpRequest, question: Question, error: str = "") -> HttpResponse:
    if request.htmx:
        question.refresh_from_db()
        context = {"question": question, "session": question.session, "row_error": error}
        return render(request, "voting/_organizer_question.html", context, status=422 if error else 200)
    if error:
        messages.error(request, error)
    return redirect(f"{reverse('session_manage', args=[question.session_id])}#question-{question.pk}")


def _change_state(request: HttpRequest, pk: int, change: Any) -> HttpResponse:
    question = organized_question(request, pk)
    try:
        change(question)
    except ValidationError as error:
        return _row_response(request, question, " ".join(error.messages))
    return _row_response(request, question)


@login_required
@require_POST
def question_open(request: HttpRequest, pk: int) -> HttpResponse:
    """Open a question for voting."""
    return _change_state(request, pk, services.open_question)


@login_required
@require_POST
def question_close(request: HttpRequest, pk: int) -> HttpResponse:
    """Close a question: no more ballots; the final result is computed."""
    return _change_state(request, pk, services.close_question)


@login_required
@require_POST
def question_visibility(request: HttpRequest, pk: int) -> HttpResponse:
    """Show results while voting, or only after closing."""
    form = SessionQuestionVisibilityForm(request.POST)
    if not form.is_valid():
        return _row_response(request, organized_question(request, pk), "Choose when results are visible.")
    visibility = form.cleaned_data["visibility"]
    return _change_state(request, pk, lambda question: services.update_question(question, visibility=visibility))


# ---------------------------------------------------------------------------------------------
# Results


def _results_access(request: HttpRequest, question: Question) -> tuple[bool, Participant | None]:
    organizer = is_organizer(request, question.session)
    participant = None if organizer else current_participant(request, question.session)
    return organizer, participant


@require_GET
def results(request: HttpRequest, pk: int) -> HttpResponse:
    """A question's result: winners in words, rounds, chart, certificate and the other rules side by side."""
    question = get_object_or_404(Question.objects.select_related("session"), pk=pk)
    organizer, participant = _results_access(request, question)
    if not organizer and participant is None:
        return render(request, "deliberation/not_joined.html", {"session": question.session}, status=403)
    result = selectors.visible_result(question, is_organizer=organizer)
    options = list(question.options.all())
    context: dict[str, Any] = {
        "question": question,
        "session": question.session,
        "is_organizer": organizer,
        "options": options,
        "hidden": result is None and not organizer and question.visibility == Question.Visibility.AFTER_CLOSE,
    }
    if result is not None:
        context.update(result_context(question, result, options, selectors.number_reports(question)))
    template = "voting/_results.html" if request.htmx else "voting/results.html"
    return render(request, template, context)


@require_GET
def chart(request: HttpRequest, pk: int) -> HttpResponse:
    """The result's chart as a standalone SVG image (same visibility as the results page)."""
    question = get_object_or_404(Question.objects.select_related("session"), pk=pk)
    organizer, participant = _results_access(request, question)
    if not organizer and participant is None:
        return HttpResponse("Join the session to see its results.", status=403, content_type="text/plain")
    result = selectors.visible_result(question, is_organizer=organizer)
    if result is None:
        return HttpResponse("No result to show.", status=404, content_type="text/plain")
    options = list(question.options.all())
    svg = charts.result_chart(
        result.payload,
        {option.key: option.label for option in options},
        kind=question.kind,
        params=result.params,
        reports=selectors.number_reports(question),
        comparison=result.comparison,
    )
    return HttpResponse(svg, content_type="image/svg+xml")

"""Pages of sessions: the organizer's dashboard and session page, joining by invite, the citizen's page.

Views are thin: they read with selectors, write with services, and render templates.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from deliberation import selectors, services
from deliberation.cookies import current_participant, remember_participant
from deliberation.forms import JoinForm, MintParticipantForm, SessionForm
from deliberation.models import Session
from voting import live
from voting import selectors as voting_selectors
from voting.forms import QuestionForm
from voting.views import organized_session, question_cards


def add_service_errors(form: Form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form's fields (unknown keys above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for key, texts in error.message_dict.items():
        form.add_error(key if key in form.fields else None, texts)


def invite_url(request: HttpRequest, session: Session) -> str:
    """The absolute invite link of a session."""
    return request.build_absolute_uri(reverse("join", args=[session.invite_token]))


def home(request: HttpRequest) -> HttpResponse:
    """The organizer's dashboard when signed in, else a short welcome with the sign-in link."""
    if not request.user.is_authenticated:
        return render(request, "deliberation/welcome.html")
    sessions = selectors.sessions_organized_by(request.user)
    return render(request, "deliberation/dashboard.html", {"sessions": sessions})


@login_required
@require_http_methods(["GET", "POST"])
def session_create(request: HttpRequest) -> HttpResponse:
    """Create a session, then go to its organizer page."""
    form = SessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            session = services.create_session(request.user, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Session created. Add questions and share the invite link.")
            return redirect("session_manage", pk=session.pk)
    return render(request, "deliberation/session_form.html", {"form": form, "session": None})


@login_required
@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Change a session's title, prompt, open/closed state and join policy."""
    session = organized_session(request, pk)
    form = SessionForm(request.POST) if request.method == "POST" else SessionForm.for_session(session)
    if request.method == "POST" and form.is_valid():
        try:
            services.update_session(session, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, "Session saved.")
            return redirect("session_manage", pk=session.pk)
    return render(request, "deliberation/session_form.html", {"form": form, "session": session})


@login_required
def session_manage(request: HttpRequest, pk: int) -> HttpResponse:
    """The organizer's page of one session: invite link, questions, API participants."""
    session = organized_session(request, pk)
    context = {
        "session": session,
        "invite_url": invite_url(request, session),
        "questions": voting_selectors.session_questions(session, include_drafts=True),
        "question_form": QuestionForm(),
        "mint_form": MintParticipantForm(),
        "summary": live.render_session_summary(session, is_organizer=True)[1],
    }
    return render(request, "deliberation/session_manage.html", context)


@login_required
@require_POST
def mint_participant(request: HttpRequest, pk: int) -> HttpResponse:
    """Create a participant with an API token (for agents, scripts, load tests) and show the token once."""
    session = organized_session(request, pk)
    form = MintParticipantForm(request.POST)
    minted = None
    status = 200
    if form.is_valid():
        try:
            minted = services.mint_participant(session, **form.cleaned_data)
        except ValidationError as error:
            add_service_errors(form, error)
        else:
            form = MintParticipantForm()
    if minted is None:
        status = 422
    context = {"session": session, "mint_form": form, "minted": minted}
    if request.htmx:
        return render(request, "deliberation/_mint.html", context, status=status)
    if minted is not None:
        messages.success(request, f"API token for {minted.display_name}: {minted.api_token}")
        return redirect("session_manage", pk=session.pk)
    return render(request, "deliberation/mint_page.html", context, status=status)


@require_http_methods(["GET", "POST"])
def join(request: HttpRequest, token: str) -> HttpResponse:
    """The invite link: confirm, then get a participant identity (a signed cookie, or the user's account)."""
    session = selectors.session_by_invite(token)
    if session is None:
        return render(request, "deliberation/join_unknown.html", status=404)
    if session.join_policy == Session.JoinPolicy.SIGNED_IN and not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if current_participant(request, session) is not None:
        return redirect("session_page", pk=session.pk)
    if not session.is_open:
        return render(
            request,
            "deliberation/join_closed.html",
            {"session": session, "reason": "This session no longer accepts new participants."},
            status=403,
        )
    form = JoinForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user if request.user.is_authenticated else None
        try:
            participant = services.join_session(session, user=user, display_name=form.cleaned_data["display_name"])
        except services.JoinRefused as refused:
            return render(
                request, "deliberation/join_closed.html", {"session": session, "reason": refused.message}, status=403
            )
        except ValidationError as error:
            form.add_error("display_name", error.message_dict.get("display_name", error.messages))
        else:
            response = redirect("session_page", pk=session.pk)
            remember_participant(response, participant)
            return response
    return render(request, "deliberation/join.html", {"session": session, "form": form})


def session_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The citizen's page: the prompt and every open or closed question with its ballot."""
    session = get_object_or_404(Session, pk=pk)
    participant = current_participant(request, session)
    if participant is None:
        if session.join_policy == Session.JoinPolicy.SIGNED_IN and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        return render(request, "deliberation/not_joined.html", {"session": session}, status=403)
    context = {
        "session": session,
        "participant": participant,
        "cards": question_cards(session, participant),
        "is_organizer": selectors.is_organizer(session, request.user),
        "summary": live.render_session_summary(session, is_organizer=False)[1],
    }
    return render(request, "deliberation/session_page.html", context)

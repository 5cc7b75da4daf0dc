"""Fixtures for the platform tests: an organizer, a session, participants and one question per kind."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from deliberation.models import Participant, Session
from deliberation.services import create_session, mint_participant
from voting.models import Question
from voting.services import create_question, open_question

LABELS = ["Alpha", "Beta", "Gamma"]  # keys alpha, beta, gamma
# kind -> (rule, params, option labels) of a question the tests open.
KIND_SETUP: dict[str, tuple[str, dict[str, Any], list[str]]] = {
    "single": ("plurality", {}, LABELS),
    "ranking": ("schulze", {}, LABELS),
    "scores": ("runoff", {}, LABELS),
    "number": ("uniform_phantom", {"lo": 0, "hi": 100}, []),
    "budget": ("independent_markets", {"total": 100}, LABELS),
}
# kind -> a valid ballot for the question above.
VALID_BALLOTS: dict[str, dict[str, Any]] = {
    "single": {"choice": "beta"},
    "ranking": {"ranking": ["gamma", "alpha", "beta"]},
    "scores": {"scores": {"alpha": 1.5, "beta": "-1/5", "gamma": 0}},
    "number": {"value": 42.5},
    "budget": {"allocation": {"alpha": 30, "beta": 70}},
}


@pytest.fixture
def valid_ballots() -> dict[str, dict[str, Any]]:
    """kind -> a valid ballot for the question ``make_question(kind)`` creates."""
    return VALID_BALLOTS


@pytest.fixture
def organizer(django_user_model: Any) -> Any:
    """A user who runs sessions."""
    return django_user_model.objects.create_user(username="org", password="organizer-password")


@pytest.fixture
def session(organizer: Any) -> Session:
    """An open invite-link session."""
    return create_session(organizer, title="Town budget", prompt="What should we fund?")


@pytest.fixture
def participant(session: Session) -> Participant:
    """A participant of ``session`` with an API token."""
    return mint_participant(session, display_name="Ada")


@pytest.fixture
def other_participant(session: Session) -> Participant:
    """A second participant of ``session``."""
    return mint_participant(session, display_name="Grace")


@pytest.fixture
def make_question(session: Session) -> Callable[..., Question]:
    """Create (and by default open) a question of a kind with the standard rule, params and options."""

    def make(kind: str, *, rule: str | None = None, params: dict | None = None, opened: bool = True, **extra: Any):
        default_rule, default_params, labels = KIND_SETUP[kind]
        question = create_question(
            session,
            text=f"A {kind} question",
            kind=kind,
            rule=rule or default_rule,
            params=default_params if params is None else params,
            option_labels=labels,
            **extra,
        )
        return open_question(question) if opened else question

    return make

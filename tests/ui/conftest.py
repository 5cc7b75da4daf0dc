"""Fixtures of the web UI tests: an organizer, a session, questions of every kind and participants.

Everything is made through the real services and the real engine; participants join
through the invite link exactly as a browser does.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from deliberation import services as session_services
from deliberation.models import Participant, Session
from voting import services
from voting.models import Question

PASSWORD = "a-long-test-password"

# One open question per ballot kind: (kind, rule, params, option labels).
KINDS = {
    "single": ("plurality", {}, ["Park", "Bikes", "Library"]),
    "ranking": ("irv", {}, ["Park", "Bikes", "Library"]),
    "scores": ("runoff", {}, ["Park", "Bikes", "Library"]),
    "number": ("uniform_phantom", {"lo": 0, "hi": 100, "out_of_range": "reject"}, []),
    "budget": ("independent_markets", {"total": 100}, ["Park", "Bikes", "Library"]),
}


@pytest.fixture
def organizer(db):
    """A signed-up organizer."""
    return get_user_model().objects.create_user("organizer", password=PASSWORD)


@pytest.fixture
def organizer_client(organizer) -> Client:
    """A browser signed in as the organizer."""
    client = Client()
    client.force_login(organizer)
    return client


@pytest.fixture
def session(organizer) -> Session:
    """An open session anyone with the invite link may join."""
    return session_services.create_session(organizer, title="Town hall", prompt="What should we do first?")


@pytest.fixture
def make_question(session) -> Callable[..., Question]:
    """Create (and by default open) a question of a kind with the rule and params of KINDS unless given."""

    def make(
        kind: str,
        *,
        rule: str | None = None,
        params: dict | None = None,
        visibility: str = "live",
        open_it: bool = True,
        labels: list[str] | None = None,
    ) -> Question:
        default_rule, default_params, default_labels = KINDS[kind]
        question = services.create_question(
            session,
            text=f"A {kind} question",
            kind=kind,
            rule=rule or default_rule,
            params=default_params if params is None else params,
            option_labels=default_labels if labels is None else labels,
            visibility=visibility,
        )
        if open_it:
            services.open_question(question)
            question.refresh_from_db()
        return question

    return make


def join(client: Client, session: Session, name: str = "") -> Participant:
    """Join a session through its invite link as a browser does; returns the new participant."""
    response = client.post(f"/join/{session.invite_token}/", {"display_name": name})
    assert response.status_code == 302, response.content.decode()[:500]
    return Participant.objects.filter(session=session).order_by("-id").first()


@pytest.fixture
def citizen(session) -> tuple[Client, Participant]:
    """A browser that joined the session without an account, and its participant."""
    client = Client()
    participant = join(client, session, "Ada")
    return client, participant

"""Writes for sessions and participants: create and edit sessions, join them, mint API participants.

Views, the JSON API, management commands and tasks all call these functions, so the rules
(who may join, what a weight is) live in one place.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from aggregation.core import InvalidInput, to_weight
from deliberation.models import Participant, Session

MAX_MINT = 1000
SESSION_FIELDS = ("title", "prompt", "join_policy", "is_open")


class JoinRefused(Exception):
    """Someone may not join a session (closed to newcomers, or sign-in required); ``message`` says why."""

    def __init__(self, message: str, code: str) -> None:
        self.message = message
        self.code = code
        super().__init__(message)


def _clean_session_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Check session fields, raising ValidationError with one message per bad field."""
    errors: dict[str, str] = {}
    if "title" in fields:
        fields["title"] = str(fields["title"] or "").strip()
        if not fields["title"]:
            errors["title"] = "A session needs a title."
        elif len(fields["title"]) > Session._meta.get_field("title").max_length:
            errors["title"] = "The title is too long (at most 200 characters)."
    if "prompt" in fields:
        fields["prompt"] = str(fields["prompt"] or "").strip()
    if "join_policy" in fields and fields["join_policy"] not in Session.JoinPolicy.values:
        errors["join_policy"] = (
            f"Unknown join policy {fields['join_policy']!r}; use one of: {', '.join(Session.JoinPolicy.values)}."
        )
    if "is_open" in fields and not isinstance(fields["is_open"], bool):
        errors["is_open"] = "is_open must be true or false."
    if errors:
        raise ValidationError(errors)
    return fields


def create_session(
    organizer: AbstractBaseUser,
    *,
    title: str,
    prompt: str = "",
    join_policy: str = Session.JoinPolicy.INVITE_LINK,
    is_open: bool = True,
) -> Session:
    """Create a session run by ``organizer``; raises ValidationError on a bad field."""
    fields = _clean_session_fields({"title": title, "prompt": prompt, "join_policy": join_policy, "is_open": is_open})
    return Session.objects.create(organizer=organizer, **fields)


def update_session(session: Session, **fields: Any) -> Session:
    """Change a session's title, prompt, join policy or openness; raises ValidationError on a bad field."""
    unknown = sorted(set(fields) - set(SESSION_FIELDS))
    if unknown:
        raise ValidationError({unknown[0]: f"{unknown[0]} cannot be changed here."})
    cleaned = _clean_session_fields(dict(fields))
    for name, value in cleaned.items():
        setattr(session, name, value)
    session.save(update_fields=list(cleaned))
    return session


def _clean_display_name(display_name: str) -> str:
    name = " ".join(str(display_name or "").split())
    limit = Participant._meta.get_field("display_name").max_length
    if len(name) > limit:
        raise ValidationError({"display_name": f"The display name is too long (at most {limit} characters)."})
    return name


def join_session(
    session: Session, *, user: AbstractBaseUser | AnonymousUser | None = None, display_name: str = ""
) -> Participant:
    """Make someone a participant of ``session`` (or return their existing row, for a signed-in user).

    Raises JoinRefused when the session requires sign-in and there is no user, or when it is
    closed to newcomers; ValidationError for a bad display name.
    """
    signed_in = user is not None and user.is_authenticated
    name = _clean_display_name(display_name)
    if signed_in:
        existing = Participant.objects.filter(session=session, user=user).first()
        if existing is not None:
            return existing
    if session.join_policy == Session.JoinPolicy.SIGNED_IN and not signed_in:
        raise JoinRefused("This session is for signed-in users only; please sign in to join.", code="sign_in_required")
    if not session.is_open:
        raise JoinRefused("This session is closed to new participants.", code="session_closed")
    if not signed_in:
        return Participant.objects.create(session=session, display_name=name)
    try:
        with transaction.atomic():
            return Participant.objects.create(session=session, user=user, display_name=name or user.get_username())
    except IntegrityError:
        # Two requests of the same user raced; the other one created the row.
        return Participant.objects.get(session=session, user=user)


def clean_weight(weight: Any) -> str:
    """Normalise a participant weight to its exact "p/q" (or integer) text; ValidationError if invalid."""
    try:
        value = to_weight(weight)
    except InvalidInput as exc:
        raise ValidationError({"weight": exc.message}) from None
    text = str(value)
    if len(text) > Participant._meta.get_field("weight").max_length:
        raise ValidationError({"weight": "The weight is too long; use a simpler fraction."})
    return text


def mint_participant(
    session: Session, *, display_name: str, kind: str = Participant.Kind.HUMAN, weight: Any = "1"
) -> Participant:
    """Create a participant with an API token (for agents, scripts and load tests), bypassing join rules.

    Only organizers reach this (the admin, the organizer UI, the API and ``mint_tokens``).
    """
    if kind not in Participant.Kind.values:
        raise ValidationError(
            {"kind": f"Unknown participant kind {kind!r}; use one of: {', '.join(Participant.Kind.values)}."}
        )
    return Participant.objects.create(
        session=session, kind=kind, display_name=_clean_display_name(display_name), weight=clean_weight(weight)
    )


def mint_participants(
    session: Session, count: int, *, prefix: str = "", kind: str = Participant.Kind.HUMAN, weight: Any = "1"
) -> list[Participant]:
    """Mint ``count`` participants named "<prefix> 1", "<prefix> 2", ... in one transaction."""
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= MAX_MINT:
        raise ValidationError({"count": f"count must be an integer from 1 to {MAX_MINT}."})
    label = " ".join(str(prefix or "").split()) or ("agent" if kind == Participant.Kind.AGENT else "participant")
    with transaction.atomic():
        return [
            mint_participant(session, display_name=f"{label} {number}", kind=kind, weight=weight)
            for number in range(1, count + 1)
        ]

"""Reads for sessions and participants: look-ups by invite token, API token, cookie or user."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from deliberation.models import Participant, Session


def session_by_invite(token: str) -> Session | None:
    """The session whose invite link carries ``token``, or None."""
    if not token:
        return None
    return Session.objects.filter(invite_token=token).first()


def participant_by_token(token: str) -> Participant | None:
    """The participant whose API bearer token is ``token`` (with its session loaded), or None."""
    if not token:
        return None
    return Participant.objects.select_related("session").filter(api_token=token).first()


def participant_for_session(
    session: Session,
    participant_id: int | None = None,
    user: AbstractBaseUser | AnonymousUser | None = None,
) -> Participant | None:
    """Who the requester is in ``session``: the participant id from their signed cookie, else their user's row.

    The cookie id is only trusted within its own session, so a cookie of one session never
    identifies anyone in another.
    """
    if participant_id is not None:
        found = Participant.objects.filter(session=session, pk=participant_id).first()
        if found is not None:
            return found
    if user is not None and user.is_authenticated:
        return Participant.objects.filter(session=session, user=user).first()
    return None


def is_organizer(session: Session, user: AbstractBaseUser | AnonymousUser | None) -> bool:
    """True when ``user`` runs ``session`` (superusers count as organizers of every session)."""
    if user is None or not user.is_authenticated:
        return False
    return session.organizer_id == user.pk or bool(getattr(user, "is_superuser", False))


def sessions_organized_by(user: AbstractBaseUser) -> list[Session]:
    """The sessions ``user`` organizes, newest first."""
    return list(Session.objects.filter(organizer=user).order_by("-created_at"))

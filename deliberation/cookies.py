"""The participant identity cookie: a signed cookie per session holding the participant's id.

People without an account are recognised by this cookie alone, so it is signed
(django.core.signing via set_signed_cookie), HttpOnly and SameSite=Lax.
"""

from __future__ import annotations

from collections.abc import Mapping

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from deliberation import selectors
from deliberation.models import Participant, Session

COOKIE_SALT = "plenum.participant"
COOKIE_MAX_AGE = 60 * 60 * 24 * 365


def cookie_name(session: Session | int) -> str:
    """The cookie that holds the participant id for one session."""
    session_id = session if isinstance(session, int) else session.pk
    return f"plenum_p{session_id}"


def participant_id_from_cookies(cookies: Mapping[str, str], session_id: int) -> int | None:
    """The participant id that a request's (or a websocket's) signed cookie claims for the session, or None."""
    carrier = HttpRequest()  # Django's signed-cookie check is a request method; websockets have no request
    carrier.COOKIES = dict(cookies)
    raw = carrier.get_signed_cookie(cookie_name(session_id), default=None, salt=COOKIE_SALT, max_age=COOKIE_MAX_AGE)
    return int(raw) if raw is not None and raw.isdigit() else None


def remember_participant(response: HttpResponse, participant: Participant) -> None:
    """Set the signed identity cookie for the participant's session on a response."""
    response.set_signed_cookie(
        cookie_name(participant.session_id),
        str(participant.pk),
        salt=COOKIE_SALT,
        max_age=COOKIE_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def current_participant(request: HttpRequest, session: Session) -> Participant | None:
    """Who the request is in this session: the signed-in user's participant, else the cookie's."""
    user = request.user if request.user.is_authenticated else None
    return selectors.participant_for_session(
        session, participant_id=participant_id_from_cookies(request.COOKIES, session.pk), user=user
    )

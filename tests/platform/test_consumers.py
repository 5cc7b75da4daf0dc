"""Websocket consumers of live results, through the full ASGI stack (origin check, auth, routing).

Each test runs one async scenario on the test's own thread and database connection; ballots
are cast through the real services, their on-commit tally runs eagerly and publishes on the
configured channel layer (in memory, or Redis in services mode).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.http import HttpResponse
from django.test import Client

from config.asgi import application
from deliberation.cookies import remember_participant
from deliberation.services import create_session, mint_participant
from voting.models import Question, Result
from voting.services import cast_ballot, close_question, update_question

# Committed rows: channels closes "old" connections around each database_sync_to_async step.
pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://127.0.0.1:8000")
TIMEOUT = 5


def bearer(participant: Any) -> tuple[bytes, bytes]:
    return (b"authorization", f"Bearer {participant.api_token}".encode())


def version_of(html: str) -> tuple[int, int]:
    """(data-version, data-ballot-count) of a pushed fragment's first element."""
    match = re.search(r'data-version="(\d+)"(?: data-ballot-count="(\d+)")?', html)
    assert match, html[:200]
    return int(match.group(1)), int(match.group(2) or 0)


def run(scenario: Callable[[], Any]) -> Any:
    """Run an async scenario to its end from this synchronous test."""
    return async_to_sync(scenario)()


@pytest.fixture
def cast() -> Callable[..., Any]:
    """Cast a ballot; on commit its tally runs eagerly and publishes the new version."""
    return database_sync_to_async(cast_ballot)


@pytest.fixture
def organizer_cookie(organizer: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(organizer)
    return (b"cookie", f"sessionid={client.cookies['sessionid'].value}".encode())


def connect(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=list(headers))


def test_participant_gets_the_snapshot_then_strictly_newer_versions(
    make_question, participant, other_participant, cast
):
    question = make_question("single")

    async def scenario() -> list[tuple[int, int]]:
        await cast(question, other_participant, {"choice": "alpha"})
        socket = connect(f"/ws/questions/{question.pk}/", ORIGIN, bearer(participant))
        connected, _ = await socket.connect(timeout=TIMEOUT)
        assert connected
        seen = [version_of(await socket.receive_from(timeout=TIMEOUT))]
        await cast(question, participant, {"choice": "beta"})
        seen.append(version_of(await socket.receive_from(timeout=TIMEOUT)))
        await cast(question, participant, {"choice": "gamma"})  # a change of mind: same count, new version
        seen.append(version_of(await socket.receive_from(timeout=TIMEOUT)))
        assert await socket.receive_nothing(timeout=0.3)
        await socket.disconnect()
        return seen

    seen = run(scenario)
    latest = Result.objects.filter(question=question).order_by("-version").first()
    assert [count for _, count in seen] == [1, 2, 2]
    versions = [version for version, _ in seen]
    assert versions == sorted(set(versions)) and versions[-1] == latest.version


def test_an_older_version_is_never_sent(make_question, participant, cast):
    question = make_question("single")

    async def scenario() -> None:
        await cast(question, participant, {"choice": "alpha"})
        socket = connect(f"/ws/questions/{question.pk}/", ORIGIN, bearer(participant))
        assert (await socket.connect(timeout=TIMEOUT))[0]
        current, _ = version_of(await socket.receive_from(timeout=TIMEOUT))
        layer = get_channel_layer()
        group = f"question-{question.pk}-participants"
        for stale in (current, current - 1):
            await layer.group_send(group, {"type": "live.update", "version": stale, "html": "<p>stale</p>"})
        assert await socket.receive_nothing(timeout=0.3)
        await layer.group_send(group, {"type": "live.update", "version": current + 1, "html": "<p>newer</p>"})
        assert await socket.receive_from(timeout=TIMEOUT) == "<p>newer</p>"
        await socket.disconnect()

    run(scenario)


@pytest.mark.parametrize("who", ["anonymous", "other session", "unknown token"])
def test_outsiders_are_refused_at_connect(make_question, organizer, who):
    question = make_question("single")
    stranger = mint_participant(create_session(organizer, title="Elsewhere"), display_name="Eve")
    headers = {
        "anonymous": [ORIGIN],
        "other session": [ORIGIN, bearer(stranger)],
        "unknown token": [ORIGIN, (b"authorization", b"Bearer not-a-token")],
    }[who]

    async def scenario() -> bool:
        connected, _ = await connect(f"/ws/questions/{question.pk}/", *headers).connect(timeout=TIMEOUT)
        return connected

    assert run(scenario) is False


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
def test_foreign_or_missing_origin_is_refused_even_for_a_participant(make_question, participant, origin):
    question = make_question("single")
    headers = [bearer(participant)] + ([(b"origin", origin)] if origin else [])

    async def scenario() -> bool:
        connected, _ = await connect(f"/ws/questions/{question.pk}/", *headers).connect(timeout=TIMEOUT)
        return connected

    assert run(scenario) is False


def test_draft_and_missing_questions_are_refused(make_question, participant):
    draft = make_question("single", opened=False)

    async def scenario(path: str) -> bool:
        connected, _ = await connect(path, ORIGIN, bearer(participant)).connect(timeout=TIMEOUT)
        return connected

    assert async_to_sync(scenario)(f"/ws/questions/{draft.pk}/") is False
    assert async_to_sync(scenario)("/ws/questions/987654/") is False


def test_the_identity_cookie_and_the_organizers_login_are_accepted(make_question, participant, organizer_cookie):
    question = make_question("single")
    response = HttpResponse()
    remember_participant(response, participant)
    name = f"plenum_p{participant.session_id}"
    participant_cookie = (b"cookie", f"{name}={response.cookies[name].value}".encode())

    async def scenario(header: tuple[bytes, bytes]) -> bool:
        socket = connect(f"/ws/questions/{question.pk}/", ORIGIN, header)
        connected, _ = await socket.connect(timeout=TIMEOUT)
        if connected:
            await socket.receive_from(timeout=TIMEOUT)
            await socket.disconnect()
        return connected

    assert async_to_sync(scenario)(participant_cookie) is True
    assert async_to_sync(scenario)(organizer_cookie) is True
    forged = (b"cookie", f"{name}={participant.pk}:forged".encode())
    assert async_to_sync(scenario)(forged) is False


def test_hidden_results_reach_organizers_but_not_participants_until_closing(
    make_question, participant, other_participant, organizer_cookie, cast
):
    question = make_question("single", visibility=Question.Visibility.AFTER_CLOSE)

    close = database_sync_to_async(close_question)

    async def scenario() -> tuple[str, str, str]:
        watcher = connect(f"/ws/questions/{question.pk}/", ORIGIN, bearer(participant))
        organizer = connect(f"/ws/questions/{question.pk}/", ORIGIN, organizer_cookie)
        assert (await watcher.connect(timeout=TIMEOUT))[0] and (await organizer.connect(timeout=TIMEOUT))[0]
        snapshot = await watcher.receive_from(timeout=TIMEOUT)
        await organizer.receive_from(timeout=TIMEOUT)
        await cast(question, other_participant, {"choice": "gamma"})
        await cast(question, participant, {"choice": "gamma"})
        organizer_view = await organizer.receive_from(timeout=TIMEOUT)
        organizer_view = await organizer.receive_from(timeout=TIMEOUT)
        assert await watcher.receive_nothing(timeout=0.5), "a participant received a hidden result"
        await close(question)
        final = await watcher.receive_from(timeout=TIMEOUT)
        await watcher.disconnect()
        await organizer.disconnect()
        return snapshot, organizer_view, final

    snapshot, organizer_view, final = run(scenario)
    assert version_of(snapshot) == (0, 0)
    assert "only after the question closes" in snapshot and "Gamma" not in snapshot
    assert version_of(organizer_view)[1] == 2 and "Gamma" in organizer_view
    assert "Final result" in final and version_of(final)[1] == 2 and "Gamma" in final


def test_session_summary_shows_counts_only_where_results_are_visible(
    make_question, participant, other_participant, organizer_cookie, cast
):
    live_question = make_question("single")
    hidden_question = make_question("ranking", visibility=Question.Visibility.AFTER_CLOSE)

    async def scenario() -> tuple[str, str, str]:
        await cast(hidden_question, other_participant, {"ranking": ["beta", "alpha"]})
        watcher = connect(f"/ws/sessions/{participant.session_id}/", ORIGIN, bearer(participant))
        organizer = connect(f"/ws/sessions/{participant.session_id}/", ORIGIN, organizer_cookie)
        assert (await watcher.connect(timeout=TIMEOUT))[0] and (await organizer.connect(timeout=TIMEOUT))[0]
        first = await watcher.receive_from(timeout=TIMEOUT)
        organizer_first = await organizer.receive_from(timeout=TIMEOUT)
        await cast(live_question, participant, {"choice": "beta"})
        update = await watcher.receive_from(timeout=TIMEOUT)
        await watcher.disconnect()
        await organizer.disconnect()
        return first, organizer_first, update

    first, organizer_first, update = run(scenario)
    hidden_row = re.search(rf'data-question="{hidden_question.pk}">(.*?)</li>', first, re.S).group(1)
    assert "1 ballot" not in hidden_row and "after the question closes" in hidden_row
    organizer_hidden_row = re.search(rf'data-question="{hidden_question.pk}">(.*?)</li>', organizer_first, re.S)
    assert "1 ballot" in organizer_hidden_row.group(1)
    live_row = re.search(rf'data-question="{live_question.pk}">(.*?)</li>', update, re.S).group(1)
    assert "1 ballot" in live_row and "Beta" in live_row
    assert version_of(update)[0] > version_of(first)[0]


def test_changing_visibility_reaches_participants_pages_both_ways(make_question, participant, other_participant, cast):
    question = make_question("single")
    set_visibility = database_sync_to_async(update_question)

    async def scenario() -> list[str]:
        await cast(question, other_participant, {"choice": "gamma"})
        watcher = connect(f"/ws/questions/{question.pk}/", ORIGIN, bearer(participant))
        summary = connect(f"/ws/sessions/{participant.session_id}/", ORIGIN, bearer(participant))
        assert (await watcher.connect(timeout=TIMEOUT))[0] and (await summary.connect(timeout=TIMEOUT))[0]
        seen = [await watcher.receive_from(timeout=TIMEOUT)]
        await summary.receive_from(timeout=TIMEOUT)
        await set_visibility(question, visibility=Question.Visibility.AFTER_CLOSE)
        seen.append(await watcher.receive_from(timeout=TIMEOUT))
        seen.append(await summary.receive_from(timeout=TIMEOUT))
        await cast(question, participant, {"choice": "beta"})
        assert await watcher.receive_nothing(timeout=0.5), "a hidden result reached a participant"
        await set_visibility(question, visibility=Question.Visibility.LIVE)
        seen.append(await watcher.receive_from(timeout=TIMEOUT))
        await cast(question, participant, {"choice": "alpha"})
        seen.append(await watcher.receive_from(timeout=TIMEOUT))
        await watcher.disconnect()
        await summary.disconnect()
        return seen

    shown, hidden, hidden_summary, shown_again, newer = run(scenario)
    assert "Gamma" in shown and version_of(shown)[1] == 1
    assert 'data-reset="true"' in hidden and "only after the question closes" in hidden and "Gamma" not in hidden
    row = re.search(rf'data-question="{question.pk}">(.*?)</li>', hidden_summary, re.S).group(1)
    assert 'data-reset="true"' in hidden_summary and "ballot" not in row
    assert 'data-reset="true"' in shown_again and version_of(shown_again)[1] == 2
    assert version_of(newer)[0] > version_of(shown_again)[0] and version_of(newer)[1] == 2

"""End to end on the real stack: PostgreSQL, Redis, a Celery worker and the ASGI server.

Ballots go over HTTP to the server, the server enqueues tallies on Redis, the worker stores
the results; the test polls (bounded) until the stored result reflects every ballot.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from django.db import connection

from deliberation.models import Participant
from deliberation.services import mint_participants
from voting.models import Ballot, BallotRevision, Result
from voting.services import cast_ballot, close_question, recompute_result

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True)]
WAIT_SECONDS = 60


def wait_for(check: Callable[[], Any], what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail after WAIT_SECONDS."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {WAIT_SECONDS} s waiting for {what}")


def bearer(participant: Participant) -> dict[str, str]:
    return {"Authorization": f"Bearer {participant.api_token}"}


def test_ballots_over_http_are_tallied_by_the_worker(celery_worker_process, asgi_server, session, make_question):
    question = make_question("single")
    voters = mint_participants(session, 12, kind="agent")
    choices = ["alpha"] * 6 + ["beta"] * 4 + ["gamma"] * 2
    ballots_path = f"/api/v1/questions/{question.pk}/ballots"
    with httpx.Client(base_url=asgi_server, timeout=30) as http:
        for voter, choice in zip(voters, choices, strict=True):
            response = http.post(ballots_path, json={"choice": choice}, headers=bearer(voter))
            assert response.status_code == 201, response.text
        changed = http.post(ballots_path, json={"choice": "gamma"}, headers=bearer(voters[0]))
        assert (changed.status_code, changed.json()["revision"]) == (200, 2)
        refused = http.post(ballots_path, json={"choice": "delta"}, headers=bearer(voters[1]))
        assert refused.status_code == 422 and refused.json()["field"] == "choice"

        def settled() -> dict | None:
            response = http.get(f"/api/v1/questions/{question.pk}/result", headers=bearer(voters[0]))
            if response.status_code != 200:
                return None
            body = response.json()
            return body if body["tallies"] == {"alpha": 5, "beta": 4, "gamma": 3} else None

        body = wait_for(settled, "the worker's result of all 12 ballots")
        assert body["winners"] == ["alpha"] and body["ballot_count"] == 12 and body["is_final"] is False
        assert "majority" in body["comparison"]
        close_question(question)
        late = http.post(ballots_path, json={"choice": "beta"}, headers=bearer(voters[2]))
        assert (late.status_code, late.json()["error"]) == (
            409,
            "This question is closed; ballots are no longer accepted.",
        )

        def final() -> dict | None:
            body = http.get(f"/api/v1/questions/{question.pk}/result", headers=bearer(voters[0])).json()
            return body if body.get("is_final") else None

        closing = wait_for(final, "the worker's final result")
    assert closing["tallies"] == {"alpha": 5, "beta": 4, "gamma": 3} and closing["version"] > body["version"]
    versions = list(Result.objects.filter(question=question).order_by("version").values_list("version", flat=True))
    assert versions == list(range(1, len(versions) + 1))
    assert Ballot.objects.filter(question=question).count() == 12
    assert BallotRevision.objects.filter(question=question).count() == 13
    assert "voting.tally_question" in celery_worker_process.log()


def test_concurrent_first_ballots_of_one_participant_leave_one_current_row(session, make_question):
    """Eight threads cast the same participant's first ballot at once (PostgreSQL row locks, no worker)."""
    question = make_question("ranking")
    voter = mint_participants(session, 1)[0]
    contents = [{"ranking": order} for order in (["alpha"], ["beta"], ["gamma"], ["alpha", "beta"])] * 2
    barrier = threading.Barrier(len(contents))
    outcomes: list[Any] = []

    def cast(content: dict) -> None:
        try:
            barrier.wait()
            outcomes.append(cast_ballot(question, voter, content, source="api").revision)
        except Exception as exc:  # recorded, and the assertion below shows it
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=cast, args=(content,)) for content in contents]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT_SECONDS)
    assert sorted(outcomes) == list(range(1, len(contents) + 1)), outcomes
    current = Ballot.objects.get(question=question, participant=voter)
    assert current.revision == len(contents)
    history = list(
        BallotRevision.objects.filter(question=question).order_by("revision").values_list("revision", flat=True)
    )
    assert history == list(range(1, len(contents) + 1))
    latest = recompute_result(question.pk)
    assert latest.ballot_count == 1
    versions = list(Result.objects.filter(question=question).values_list("version", flat=True))
    assert len(versions) == len(set(versions))
    assert recompute_result(question.pk).pk == latest.pk

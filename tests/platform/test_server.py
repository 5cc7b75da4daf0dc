"""The JSON API on the real ASGI server, in whichever mode the environment selects.

Embedded (no DATABASE_URL/REDIS_URL): the server uses the SQLite test database and tallies
eagerly in its own process; services mode: PostgreSQL, still eager without a worker.
"""

from __future__ import annotations

import time

import httpx
import pytest

from deliberation.services import mint_participants

pytestmark = pytest.mark.django_db(transaction=True)
WAIT_SECONDS = 30


def test_api_on_the_real_server(asgi_server, session, make_question):
    question = make_question("number")
    voters = mint_participants(session, 3)
    headers = [{"Authorization": f"Bearer {voter.api_token}"} for voter in voters]
    with httpx.Client(base_url=asgi_server, timeout=30) as http:
        for header, value in zip(headers, [10, "45/2", 90.5], strict=True):
            response = http.post(f"/api/v1/questions/{question.pk}/ballots", json={"value": value}, headers=header)
            assert response.status_code == 201, response.text
        assert "/questions/{question_id}/ballots" in http.get("/api/v1/openapi.json").json()["paths"]
        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            result = http.get(f"/api/v1/questions/{question.pk}/result", headers=headers[0]).json()
            if result.get("ballot_count") == 3:
                break
            assert time.monotonic() < deadline, f"no result of the three reports after {WAIT_SECONDS} s: {result}"
            time.sleep(0.2)
    assert result["comparison"]["median"]["outcome_exact"] == "45/2"
    assert result["comparison"]["mean"]["outcome_exact"] == 41

"""Smoke tests of the shared process fixtures: the real ASGI server and Celery worker start and
work on the test database (see tests/conftest.py)."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from django.contrib.auth import get_user_model

from deliberation import services as deliberation_services
from voting import services as voting_services
from voting.models import Result


def test_asgi_server_sees_rows_the_test_commits(asgi_server: str) -> None:
    get_user_model().objects.create_user("organizer", password="a long passphrase", is_staff=True)

    with httpx.Client(base_url=asgi_server, timeout=10) as client:
        form = client.get("/admin/login/")
        assert form.status_code == 200
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
        login = client.post(
            "/admin/login/?next=/admin/",
            data={"username": "organizer", "password": "a long passphrase", "csrfmiddlewaretoken": token},
        )
        assert login.status_code == 302, login.text[:500]
        assert client.get("/admin/").status_code == 200


@pytest.mark.services
def test_celery_worker_tallies_a_ballot_cast_in_the_test(celery_worker_process) -> None:
    organizer = get_user_model().objects.create_user("organizer", password="a long passphrase")
    session = deliberation_services.create_session(organizer, title="Lunch")
    question = voting_services.create_question(
        session, text="Where?", kind="single", rule="plurality", option_labels=["Canteen", "Park"]
    )
    voting_services.open_question(question)
    voter = deliberation_services.mint_participant(session, display_name="Ada")
    park = question.options.get(label="Park").key

    voting_services.cast_ballot(question, voter, {"choice": park}, source="api")

    deadline = time.monotonic() + 30
    while not Result.objects.filter(question=question, ballot_count=1).exists():
        assert time.monotonic() < deadline, "no result after 30 s (the worker's log is in the report)"
        time.sleep(0.2)
    latest = Result.objects.filter(question=question).order_by("-version").first()
    assert latest.ballot_count == 1
    assert latest.payload["winners"] == [park]
    assert "Task voting.tally_question" in celery_worker_process.log()

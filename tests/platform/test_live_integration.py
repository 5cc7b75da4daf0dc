"""Live results end to end on the real stack: daphne, a Celery worker, PostgreSQL and Redis.

A websocket client (the ``websockets`` library) watches a question the way a browser does,
with the site's Origin and a participant's ``Authorization: Bearer`` token (or an organizer's
session cookie). Ballots go over HTTP to the JSON API; the server enqueues the debounced
tally on Redis, the worker stores a Result version and publishes it through the Redis channel
layer to daphne, which pushes it to the client. Every wait is bounded.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django.test import Client
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from deliberation.models import Participant
from deliberation.services import mint_participants
from voting.models import Result, TallyChange
from voting.selectors import latest_result
from voting.services import close_question

pytestmark = [pytest.mark.services, pytest.mark.django_db(transaction=True), pytest.mark.timeout(180)]

PUSH_SECONDS = 2.0  # a ballot's new version reaches a watcher within this (debounce 0.5 s included)
WAIT_SECONDS = 30.0  # bound of every other wait
# A watcher that hears nothing for this long must stay connected. Longer than channels-redis'
# blocking read of a channel (5 s), and than redis-py's default socket timeout (5 s).
IDLE_SECONDS = 8.0
BURST = 40
MAX_BURST_VERSIONS = 10
VERSION_RE = re.compile(r'data-version="(\d+)"')
COUNT_RE = re.compile(r'data-ballot-count="(\d+)"')


@dataclass(frozen=True)
class Frame:
    """One pushed fragment: when it was read, its version and ballot count (0 if it has none), its HTML."""

    at: float
    version: int
    count: int
    html: str


def frame_of(html: str) -> Frame:
    """Parse the version and ballot count from a fragment's first element."""
    head = html[: html.index(">") + 1]
    version = VERSION_RE.search(head)
    assert version, f"a pushed fragment without data-version: {html[:300]}"
    count = COUNT_RE.search(head)
    return Frame(time.monotonic(), int(version.group(1)), int(count.group(1)) if count else 0, html)


class Watcher:
    """A websocket client on one live route; keeps every frame it read, in order."""

    def __init__(self, server: str, path: str, headers: dict[str, str]) -> None:
        self.frames: list[Frame] = []
        self.socket: ClientConnection = connect(
            server.replace("http://", "ws://", 1) + path,
            origin=server,  # the site's own origin: AllowedHostsOriginValidator refuses others
            additional_headers=headers,
            proxy=None,
            open_timeout=WAIT_SECONDS,
        )

    def _read(self, timeout: float, what: str) -> Frame:
        try:
            html = self.socket.recv(timeout=max(timeout, 0.001))
        except TimeoutError:
            html = None
            problem = "timed out"
        except ConnectionClosed as closed:
            html = None
            problem = f"the server closed the websocket ({closed})"
        if html is None:  # failing outside the except clause keeps the report to the point
            pytest.fail(f"{problem} while waiting for {what}; frames so far: {self.summary()}")
        frame = frame_of(html)
        self.frames.append(frame)
        return frame

    def next(self, timeout: float) -> Frame:
        """The next frame; fails when none arrives within ``timeout`` seconds."""
        return self._read(timeout, f"a message within {timeout:.1f} s")

    def until(self, done: Callable[[Frame], bool], timeout: float, what: str) -> Frame:
        """Read frames until one satisfies ``done``; fails with ``what`` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            frame = self._read(deadline - time.monotonic(), f"{what} (at most {timeout:.1f} s)")
            if done(frame):
                return frame

    def stays_open_and_silent(self, seconds: float) -> None:
        """Nothing arrives for ``seconds`` and the server keeps the connection open all along."""
        started = time.monotonic()
        try:
            html = self.socket.recv(timeout=seconds)
        except TimeoutError:
            return
        except ConnectionClosed as closed:
            html = None
            reason = str(closed)
        if html is None:
            pytest.fail(
                f"the server closed an idle websocket after {time.monotonic() - started:.1f} s ({reason}); "
                "watchers must stay connected while nothing happens"
            )
        pytest.fail(f"an unexpected message while nothing happened: {html[:300]}")

    def summary(self) -> list[tuple[int, int]]:
        return [(frame.version, frame.count) for frame in self.frames]

    def close(self) -> None:
        self.socket.close()


@pytest.fixture
def watch(asgi_server: str):
    """Open watchers on the server; all are closed at the end of the test."""
    opened: list[Watcher] = []

    def open_watcher(path: str, headers: dict[str, str]) -> Watcher:
        watcher = Watcher(asgi_server, path, headers)
        opened.append(watcher)
        return watcher

    yield open_watcher
    for watcher in opened:
        watcher.close()


def bearer(participant: Participant) -> dict[str, str]:
    return {"Authorization": f"Bearer {participant.api_token}"}


def wait_for(check: Callable[[], Any], what: str, timeout: float = WAIT_SECONDS) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def opened_result(question) -> Result:
    """The worker's first result of a just-opened question (version 1, no ballots)."""
    return wait_for(lambda: latest_result(question), "the worker's first result of the opened question")


def settled_result(question, ballots: int) -> Result:
    """The latest result once it counts ``ballots`` and no ballot change waits to be folded."""

    def check() -> Result | None:
        latest = latest_result(question)
        pending = TallyChange.objects.filter(question=question).exists()
        return latest if latest is not None and latest.ballot_count == ballots and not pending else None

    return wait_for(check, f"a stored result of {ballots} ballots with nothing left to fold")


def test_a_ballot_over_the_api_reaches_a_watcher_within_two_seconds(
    celery_worker_process, asgi_server, watch, session, participant, make_question
):
    question = make_question("single")
    first = opened_result(question)
    results = watch(f"/ws/questions/{question.pk}/", bearer(participant))
    summary = watch(f"/ws/sessions/{session.pk}/", bearer(participant))

    snapshot = results.next(WAIT_SECONDS)
    assert snapshot.html.startswith(f'<article class="results" id="results-{question.pk}"')
    assert (snapshot.version, snapshot.count) == (first.version, 0)
    summary_snapshot = summary.next(WAIT_SECONDS)
    assert f'id="session-summary-{session.pk}"' in summary_snapshot.html

    with httpx.Client(base_url=asgi_server, timeout=WAIT_SECONDS) as http:
        started = time.monotonic()
        response = http.post(
            f"/api/v1/questions/{question.pk}/ballots", json={"choice": "beta"}, headers=bearer(participant)
        )
        assert response.status_code == 201, response.text
        pushed = results.until(lambda frame: frame.count == 1, PUSH_SECONDS, "the pushed result of one ballot")
        elapsed = pushed.at - started
        stored = http.get(f"/api/v1/questions/{question.pk}/result", headers=bearer(participant)).json()

    assert elapsed < PUSH_SECONDS, f"the new version took {elapsed:.2f} s"
    assert pushed.version > snapshot.version
    assert "1 ballot<" in pushed.html and "“Beta” wins." in pushed.html
    assert (stored["version"], stored["ballot_count"], stored["tallies"]) == (
        pushed.version,
        1,
        {"alpha": 0, "beta": 1, "gamma": 0},
    )
    # The session's summary panel follows too.
    panel = summary.until(lambda frame: "1 ballot<" in frame.html, WAIT_SECONDS, "the summary panel of one ballot")
    assert panel.version > summary_snapshot.version
    assert "voting.tally_question" in celery_worker_process.log()


def test_a_burst_of_ballots_is_debounced_into_few_versions(
    celery_worker_process, asgi_server, watch, session, make_question
):
    question = make_question("single")
    before = opened_result(question)
    voters = mint_participants(session, BURST, kind="agent")
    results = watch(f"/ws/questions/{question.pk}/", bearer(voters[0]))
    snapshot = results.next(WAIT_SECONDS)
    assert (snapshot.version, snapshot.count) == (before.version, 0)

    choices = (["alpha", "beta", "gamma", "beta"] * BURST)[:BURST]  # alpha 10, beta 20, gamma 10
    path = f"/api/v1/questions/{question.pk}/ballots"
    start = threading.Barrier(BURST)
    limits = httpx.Limits(max_connections=BURST, max_keepalive_connections=BURST)
    with httpx.Client(base_url=asgi_server, timeout=WAIT_SECONDS, limits=limits) as http:

        def post(voter: Participant, choice: str) -> int:
            start.wait(timeout=WAIT_SECONDS)
            return http.post(path, json={"choice": choice}, headers=bearer(voter)).status_code

        burst_started = time.monotonic()
        with ThreadPoolExecutor(max_workers=BURST) as pool:
            statuses = list(pool.map(post, voters, choices))
        burst_seconds = time.monotonic() - burst_started
        assert statuses == [201] * BURST
        last = results.until(lambda frame: frame.count == BURST, WAIT_SECONDS, f"the result of all {BURST} ballots")
        final = settled_result(question, BURST)
        body = http.get(f"/api/v1/questions/{question.pk}/result", headers=bearer(voters[0])).json()

    # Nothing was left to fold when the 40-ballot version was stored, so it is the newest there will be,
    # and it is what the watcher read last.
    assert last.version == final.version and results.frames[-1] == last
    assert body["ballot_count"] == BURST and body["tallies"] == {"alpha": 10, "beta": 20, "gamma": 10}
    versions = [frame.version for frame in results.frames]
    assert versions == sorted(set(versions)), f"versions did not strictly increase: {results.summary()}"
    counts = [frame.count for frame in results.frames]
    assert counts == sorted(counts)
    burst_versions = Result.objects.filter(question=question, version__gt=before.version).count()
    assert 1 <= burst_versions <= MAX_BURST_VERSIONS, (
        f"{burst_versions} versions for {BURST} ballots posted in {burst_seconds:.2f} s: {results.summary()}"
    )
    assert len(results.frames) - 1 <= burst_versions  # the snapshot, then at most one frame per version


def test_closing_pushes_the_final_result_to_organizers_and_participants(
    celery_worker_process, asgi_server, watch, session, organizer, participant, other_participant, make_question
):
    question = make_question("single", visibility="after_close")
    opened_result(question)
    browser = Client()
    browser.force_login(organizer)
    organizer_cookie = {"Cookie": f"sessionid={browser.cookies['sessionid'].value}"}
    by_organizer = watch(f"/ws/questions/{question.pk}/", organizer_cookie)
    by_participant = watch(f"/ws/questions/{question.pk}/", bearer(participant))

    hidden = by_participant.next(WAIT_SECONDS)
    assert hidden.version == 0 and "shows this result only after the question closes" in hidden.html
    assert by_organizer.next(WAIT_SECONDS).count == 0

    with httpx.Client(base_url=asgi_server, timeout=WAIT_SECONDS) as http:
        path = f"/api/v1/questions/{question.pk}/ballots"
        for voter, choice in ((participant, "gamma"), (other_participant, "gamma")):
            assert http.post(path, json={"choice": choice}, headers=bearer(voter)).status_code == 201
        counted = by_organizer.until(
            lambda frame: frame.count == 2, WAIT_SECONDS, "the organizer's result of 2 ballots"
        )
        assert "Participants cannot see this result until you close the question." in counted.html
        settled_result(question, 2)

        started = time.monotonic()
        close_question(question)
        final_for_organizer = by_organizer.until(
            lambda frame: "Final result" in frame.html, WAIT_SECONDS, "the final result (organizer)"
        )
        final_for_participant = by_participant.until(
            lambda frame: "Final result" in frame.html, WAIT_SECONDS, "the final result (participant)"
        )
        elapsed = max(final_for_organizer.at, final_for_participant.at) - started
        body = http.get(f"/api/v1/questions/{question.pk}/result", headers=bearer(participant)).json()

    assert body["is_final"] is True and body["version"] == final_for_participant.version
    assert final_for_participant.version == final_for_organizer.version > counted.version
    assert final_for_participant.count == 2 and "“Gamma” wins." in final_for_participant.html
    assert "badge-closed" in final_for_participant.html
    assert "Participants cannot see" not in final_for_organizer.html
    # The participant saw nothing between the hidden snapshot and the final result.
    assert by_participant.summary() == [(0, 0), (final_for_participant.version, 2)]
    assert elapsed < PUSH_SECONDS, f"the final result took {elapsed:.2f} s to reach both watchers"


def test_an_idle_watcher_stays_connected_and_still_gets_the_next_version(
    celery_worker_process, asgi_server, watch, participant, make_question
):
    question = make_question("single")
    first = opened_result(question)
    results = watch(f"/ws/questions/{question.pk}/", bearer(participant))
    assert results.next(WAIT_SECONDS).version == first.version

    results.stays_open_and_silent(IDLE_SECONDS)

    with httpx.Client(base_url=asgi_server, timeout=WAIT_SECONDS) as http:
        started = time.monotonic()
        response = http.post(
            f"/api/v1/questions/{question.pk}/ballots", json={"choice": "alpha"}, headers=bearer(participant)
        )
        assert response.status_code == 201, response.text
        pushed = results.until(lambda frame: frame.count == 1, PUSH_SECONDS, "the pushed result of one ballot")
    assert pushed.version > first.version and pushed.at - started < PUSH_SECONDS

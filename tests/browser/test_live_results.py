"""Live results in real browsers: a ballot cast in one browser shows up in others without a reload.

Marked ``browser``: Chromium (Debian package) through Playwright, against daphne. In the
embedded mode the server runs the tally eagerly and publishes on its in-memory channel layer;
in services mode (DATABASE_URL and REDIS_URL) it publishes through Redis. Either way every
action that must reach the browsers is taken in a browser, so it happens in the server process:
this process's channel layer is not the server's in the embedded mode, and while Playwright's
sync API runs its event loop in this thread, a publish from here (async_to_sync) cannot run at all.
The ``hall`` fixture comes first, so its questions are opened (and published) before that loop starts.

Each page records the version of every websocket message it receives (an init script listening
to ``htmx:wsBeforeMessage``) and carries ``window.__marker``: a reload or navigation would lose it.
A reconnecting socket gets a fresh snapshot, so a version may repeat but never go back.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from deliberation import services as session_services
from deliberation.models import Participant
from voting import services
from voting.models import Question
from voting.selectors import latest_result

from .conftest import DESKTOP, settled

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
PASSWORD = "a-long-test-password"
HIDDEN = "The organizer shows this result only after the question closes."
# Runs before the page's own scripts: remember the data-version of every message the live socket delivers.
RECORD_MESSAGES = """
window.__liveVersions = [];
document.addEventListener("htmx:wsBeforeMessage", function (event) {
  var found = /data-version="(\\d+)"/.exec(String(event.detail.message || ""));
  window.__liveVersions.push(found ? parseInt(found[1], 10) : -1);
}, true);
"""


@pytest.fixture
def hall(transactional_db):
    """An organizer's session with two open single-choice questions: results live, and results after closing."""
    organizer = get_user_model().objects.create_user("organizer", password=PASSWORD)
    session = session_services.create_session(organizer, title="Town hall", prompt="What should we do first?")
    questions = {}
    for visibility, text in (("live", "Which project first?"), ("after_close", "Which project next?")):
        question = services.create_question(
            session,
            text=text,
            kind="single",
            rule="plurality",
            option_labels=["Park", "Bikes", "Library"],
            visibility=visibility,
        )
        questions[visibility] = services.open_question(question)
    return session, questions


def new_page(browser):
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_MESSAGES)
    return context.new_page()


def join(page, server: str, session, name: str) -> Participant:
    page.goto(f"{server}/join/{session.invite_token}/")
    page.get_by_label("Your name (optional)").fill(name)
    page.get_by_role("button", name="Join the session").click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"), timeout=TIMEOUT)
    return Participant.objects.get(session=session, display_name=name)


def sign_in(page, server: str) -> None:
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("Username").fill("organizer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/", timeout=TIMEOUT)


def open_live_results(page, server: str, question: Question) -> None:
    """Open the results page, wait until its websocket is open, and mark the document."""
    page.goto(f"{server}/questions/{question.pk}/results/")
    page.locator("[data-live-status][data-state=open]").wait_for(timeout=TIMEOUT)
    expect(page.locator("[data-live-status]")).to_have_text("Live: this page updates itself when something changes.")
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page, url: str) -> None:
    assert page.url == url
    assert page.evaluate("window.__marker") == 1, "the page was reloaded or navigated"


def received_versions(page) -> list[int]:
    return page.evaluate("window.__liveVersions")


def cast_single(page, question: Question, label: str) -> None:
    """Choose ``label`` on the question's card of the session page and cast it, as a person would."""
    box = page.locator(f"#question-{question.pk}")
    box.get_by_label(label).check()
    box.get_by_role("button", name="Cast my ballot").click()
    page.locator(f"#question-{question.pk} .notice").filter(has_text="Your ballot is counted.").wait_for(
        timeout=TIMEOUT
    )
    settled(page)


def test_a_ballot_cast_in_one_browser_updates_the_results_open_in_others(hall, browser, asgi_server, shot):
    session, questions = hall
    question = questions["live"]
    results_url = f"{asgi_server}/questions/{question.pk}/results/"

    voting = new_page(browser)
    join(voting, asgi_server, session, "Ada")
    own_results = voting.context.new_page()  # Ada's second tab
    other = new_page(browser)
    join(other, asgi_server, session, "Grace")
    watchers = {"ada": own_results, "grace": other}
    for page in watchers.values():
        open_live_results(page, asgi_server, question)
        article = page.locator(f"#results-{question.pk}")
        expect(article).to_have_attribute("data-ballot-count", "0")
        expect(article.locator(".meta")).to_contain_text("0 ballots")
    before = int(other.locator(f"#results-{question.pk}").get_attribute("data-version"))

    cast_single(voting, question, "Bikes")

    for name, page in watchers.items():
        article = page.locator(f"#results-{question.pk}")
        expect(article).to_have_attribute("data-ballot-count", "1", timeout=TIMEOUT)
        expect(article.locator(".meta")).to_contain_text("1 ballot")
        expect(article.locator(".outcome-sentence")).to_have_text("“Bikes” wins.")
        bikes = article.locator(".tally-table tr").filter(has=page.locator("th", has_text="Bikes"))
        expect(bikes.locator("td")).to_have_text("1")
        assert_not_reloaded(page, results_url)
        assert int(article.get_attribute("data-version")) > before
        versions = received_versions(page)
        assert versions == sorted(versions), versions  # never backwards (a reconnect repeats its snapshot)
        assert versions[-1] == int(article.get_attribute("data-version"))
        shot(page, f"browser-live-results-{name}")
    expect(other.locator("[data-live-status]")).to_have_attribute("data-state", "open")
    # Ada's voting page: its live summary panel counts the ballot too.
    expect(
        voting.locator(f"#session-summary-{session.pk} .summary-row[data-question='{question.pk}']")
    ).to_contain_text("1 ballot", timeout=TIMEOUT)
    assert latest_result(question).ballot_count == 1


def test_a_hidden_result_appears_when_the_organizer_closes_the_question(hall, browser, asgi_server, shot):
    session, questions = hall
    question = questions["after_close"]
    results_url = f"{asgi_server}/questions/{question.pk}/results/"

    # Ada watches the results page of a question that shows its result only after closing.
    watching = new_page(browser)
    join(watching, asgi_server, session, "Ada")
    open_live_results(watching, asgi_server, question)
    article = watching.locator(f"#results-{question.pk}")
    expect(article).to_contain_text(HIDDEN)

    # The organizer watches the same question, then Ada votes in her second tab.
    organizer_results = new_page(browser)
    sign_in(organizer_results, asgi_server)
    open_live_results(organizer_results, asgi_server, question)
    voting = watching.context.new_page()
    voting.goto(f"{asgi_server}/sessions/{session.pk}/")
    cast_single(voting, question, "Library")
    organizer_article = organizer_results.locator(f"#results-{question.pk}")
    expect(organizer_article).to_have_attribute("data-ballot-count", "1", timeout=TIMEOUT)
    expect(organizer_article).to_contain_text("Participants cannot see this result until you close the question.")
    expect(article).to_contain_text(HIDDEN)  # still hidden for Ada
    shot(watching, "browser-live-hidden-participant")

    # The organizer closes voting on the session's manage page (htmx form with a confirm dialog).
    manage = organizer_results.context.new_page()
    manage.goto(f"{asgi_server}/sessions/{session.pk}/manage/")
    manage.once("dialog", lambda dialog: dialog.accept())
    manage.locator(f"#question-{question.pk}").get_by_role("button", name="Close voting").click()
    expect(manage.locator(f"#question-{question.pk} .badge")).to_have_text("Closed", timeout=TIMEOUT)

    for page in (watching, organizer_results):
        final = page.locator(f"#results-{question.pk}")
        expect(final.locator(".meta")).to_contain_text("Final result", timeout=TIMEOUT)
        expect(final.locator(".meta")).to_contain_text("1 ballot")
        expect(final.locator(".outcome-sentence")).to_have_text("“Library” wins.")
        expect(final.locator(".badge")).to_have_text("Closed")
        expect(final).not_to_contain_text(HIDDEN)
        expect(final).not_to_contain_text("Participants cannot see")
        assert_not_reloaded(page, results_url)
    stored = latest_result(question)
    assert stored.is_final and stored.ballot_count == 1
    assert int(article.get_attribute("data-version")) == stored.version
    # Ada's page got the hidden snapshot and then the final result, never the organizer's interim version.
    received = received_versions(watching)
    assert set(received) == {0, stored.version} and received[-1] == stored.version, received
    shot(watching, "browser-live-final-participant")
    shot(organizer_results, "browser-live-final-organizer")


def test_the_organizer_hiding_and_showing_results_reaches_an_open_page(hall, browser, asgi_server, shot):
    session, questions = hall
    question = questions["live"]
    results_url = f"{asgi_server}/questions/{question.pk}/results/"

    watching = new_page(browser)
    join(watching, asgi_server, session, "Ada")
    voting = watching.context.new_page()
    voting.goto(f"{asgi_server}/sessions/{session.pk}/")
    cast_single(voting, question, "Park")
    open_live_results(watching, asgi_server, question)
    article = watching.locator(f"#results-{question.pk}")
    expect(article.locator(".outcome-sentence")).to_have_text("“Park” wins.")

    manage = new_page(browser)
    sign_in(manage, asgi_server)
    manage.goto(f"{asgi_server}/sessions/{session.pk}/manage/")
    visibility = manage.locator(f"#visibility-{question.pk}")

    visibility.select_option("after_close")
    expect(article).to_contain_text(HIDDEN, timeout=TIMEOUT)
    expect(article).not_to_contain_text("Park” wins")
    summary_row = voting.locator(f"#session-summary-{session.pk} .summary-row[data-question='{question.pk}']")
    expect(summary_row).to_contain_text("after the question closes", timeout=TIMEOUT)
    shot(watching, "browser-live-hidden-by-organizer")

    manage.locator(f"#visibility-{question.pk}").select_option("live")
    expect(article.locator(".outcome-sentence")).to_have_text("“Park” wins.", timeout=TIMEOUT)
    expect(summary_row).to_contain_text("1 ballot", timeout=TIMEOUT)
    assert_not_reloaded(watching, results_url)

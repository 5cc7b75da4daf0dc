"""An organizer signs in, creates a session and questions with the htmx forms, and opens them.

Marked ``browser``: Chromium (Debian package) through Playwright, against daphne.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from deliberation.models import Participant, Session
from voting.models import Question

from .conftest import DESKTOP, PHONE, settled

pytestmark = pytest.mark.browser

TIMEOUT = 15_000
PASSWORD = "a-long-test-password"


@pytest.fixture
def organizer(transactional_db):
    return get_user_model().objects.create_user("organizer", password=PASSWORD)


def sign_in(page, server: str) -> None:
    page.goto(f"{server}/accounts/login/")
    page.get_by_label("Username").fill("organizer")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{server}/", timeout=TIMEOUT)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_organizer_creates_a_session_and_questions(browser, asgi_server, organizer, shot, viewport):
    size = "desktop" if viewport is DESKTOP else "phone"
    page = browser.new_context(viewport=viewport).new_page()
    page.goto(f"{asgi_server}/accounts/login/")
    shot(page, f"browser-login-{size}")
    sign_in(page, asgi_server)
    shot(page, f"browser-dashboard-empty-{size}")
    page.get_by_role("link", name="New session").click()
    page.get_by_label("Title").fill("Budget 2027")
    page.get_by_label("Prompt").fill("How should we spend it?")
    shot(page, f"browser-session-form-{size}")
    page.get_by_role("button", name="Create session").click()
    session = Session.objects.get(title="Budget 2027")
    page.wait_for_url(f"{asgi_server}/sessions/{session.pk}/manage/", timeout=TIMEOUT)
    invite = page.locator("#invite-url").input_value()
    assert invite == f"{asgi_server}/join/{session.invite_token}/"

    # The rule list follows the ballot kind, and the parameters follow the rule (htmx swaps the form).
    page.get_by_text("Add a question").click()
    form = page.locator("#question-form")
    form.get_by_label("Question", exact=True).fill("Which rule should we use?")
    form.get_by_label("Ballot", exact=True).select_option("ranking")
    page.wait_for_function("document.querySelector('#id_rule option[value=irv]') !== null", timeout=TIMEOUT)
    settled(page)
    form = page.locator("#question-form")
    assert sorted(form.locator("#id_rule option").evaluate_all("os => os.map(o => o.value)")) == [
        "borda",
        "irv",
        "runoff",
        "schulze",
    ]
    form.get_by_label("Rule", exact=True).select_option("irv")
    page.wait_for_selector("#id_tie_rule", timeout=TIMEOUT)
    settled(page)
    form = page.locator("#question-form")
    assert form.get_by_label("Question", exact=True).input_value() == "Which rule should we use?"  # kept across swaps
    form.get_by_label("Elimination ties").select_option("order")
    form.get_by_label("Options", exact=True).fill("Alpha\nBeta\nGamma")
    form.get_by_role("button", name="Add question").click()
    row = page.locator(".question-row").filter(has_text="Which rule should we use?")
    row.wait_for(timeout=TIMEOUT)
    settled(page)
    question = Question.objects.get(session=session)
    assert (question.kind, question.rule, question.params["tie_rule"]) == ("ranking", "irv", "order")

    # An impossible parameter: the engine's message appears on the field, nothing is stored.
    page.get_by_text("Add a question").click()
    form = page.locator("#question-form")
    form.get_by_label("Question", exact=True).fill("Fare?")
    form.get_by_label("Ballot", exact=True).select_option("number")
    page.wait_for_selector("#id_lo", timeout=TIMEOUT)
    settled(page)
    form = page.locator("#question-form")
    form.get_by_label("Lowest value").fill("100")
    form.get_by_label("Highest value").fill("10")
    form.get_by_role("button", name="Add question").click()
    page.locator("#question-form .field-invalid .error").first.wait_for(timeout=TIMEOUT)
    settled(page)
    shot(page, f"browser-question-error-{size}")
    assert Question.objects.filter(session=session).count() == 1
    form = page.locator("#question-form")
    form.get_by_label("Lowest value").fill("0")
    form.get_by_role("button", name="Add question").click()
    page.locator(".question-row").filter(has_text="Fare?").wait_for(timeout=TIMEOUT)
    assert Question.objects.get(session=session, text="Fare?").params["hi"] == 10

    # Open voting, hide live results, mint an API participant.
    row = page.locator(".question-row").filter(has_text="Which rule should we use?")
    row.get_by_role("button", name="Open voting").click()
    page.locator(".question-row").filter(has_text="Which rule should we use?").get_by_role(
        "button", name="Close voting"
    ).wait_for(timeout=TIMEOUT)
    settled(page)
    with page.expect_response(lambda response: "/visibility/" in response.url, timeout=TIMEOUT) as answer:
        page.locator(".question-row").filter(has_text="Which rule should we use?").get_by_label(
            "Result visibility"
        ).select_option("after_close")
    assert answer.value.status == 200
    question.refresh_from_db()
    assert (question.status, question.visibility) == ("open", "after_close")
    page.locator("#mint").get_by_label("Name").fill("agent-1")
    page.locator("#mint").get_by_role("button", name="Create participant and token").click()
    page.locator("#minted-token").wait_for(timeout=TIMEOUT)
    minted = Participant.objects.get(session=session, display_name="agent-1")
    assert page.locator("#minted-token").input_value() == minted.api_token
    shot(page, f"browser-manage-{size}")
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]

    page.goto(f"{asgi_server}/")
    assert "Budget 2027" in page.locator(".session-list").text_content()
    shot(page, f"browser-dashboard-{size}")

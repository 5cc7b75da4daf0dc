"""A participant votes with every kind of ballot in a real browser, as a person would.

Marked ``browser``: Chromium (Debian package) through Playwright, against daphne.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import expect

from deliberation import services as session_services
from deliberation.models import Participant
from voting import services
from voting.models import Ballot

from .conftest import DESKTOP, PHONE, settled

pytestmark = pytest.mark.browser

TIMEOUT = 15_000


@pytest.fixture
def town(transactional_db):
    """A session with one open question of every ballot kind (created through the services)."""
    organizer = get_user_model().objects.create_user("organizer", password="a-long-test-password")
    session = session_services.create_session(organizer, title="Town hall", prompt="What should we do first?")
    labels = ["Park", "Bikes", "Library"]
    specs = {
        "single": ("Which project first?", "plurality", {}, labels),
        "ranking": ("Rank the projects", "irv", {}, labels),
        "scores": ("Score the projects", "runoff", {}, labels),
        "number": ("Fare in cents?", "uniform_phantom", {"lo": 0, "hi": 100}, []),
        "budget": ("Split 100", "independent_markets", {"total": 100}, labels),
    }
    questions = {}
    for kind, (text, rule, params, options) in specs.items():
        question = services.create_question(
            session, text=text, kind=kind, rule=rule, params=params, option_labels=options, visibility="live"
        )
        services.open_question(question)
        questions[kind] = question
    return session, questions


def card(page, question):
    return page.locator(f"#question-{question.pk}")


def submit_and_wait(page, question, expected: str) -> None:
    box = card(page, question)
    box.get_by_role("button", name=re.compile("my ballot")).click()
    box = card(page, question)  # swapped in by htmx
    box.locator(".notice, .ballot-error").filter(has_text=expected).wait_for(timeout=TIMEOUT)
    settled(page)


def join(page, server: str, session, name: str = "Ada") -> Participant:
    page.goto(f"{server}/join/{session.invite_token}/")
    page.get_by_label("Your name (optional)").fill(name)
    page.get_by_role("button", name="Join the session").click()
    page.wait_for_url(re.compile(rf"/sessions/{session.pk}/$"), timeout=TIMEOUT)
    return Participant.objects.get(session=session, display_name=name)


def test_participant_casts_every_kind_and_sees_it_counted(browser, asgi_server, town, shot):
    session, q = town
    page = browser.new_context(viewport=DESKTOP).new_page()
    participant = join(page, asgi_server, session)
    assert page.locator("#api-token").input_value() == participant.api_token
    shot(page, "browser-session-desktop")

    # Single choice: pick a radio button.
    card(page, q["single"]).get_by_label("Bikes").check()
    submit_and_wait(page, q["single"], "Your ballot is counted.")

    # Ranking, with the keyboard only: focus "Library" and move it to the top with Alt+ArrowUp.
    ranking = card(page, q["ranking"])
    library = ranking.locator('li.rank-item[data-key="library"]')
    library.focus()
    page.keyboard.press("Alt+ArrowUp")
    page.keyboard.press("Alt+ArrowUp")
    assert ranking.locator("li.rank-item").evaluate_all("items => items.map(i => i.dataset.key)") == [
        "library",
        "park",
        "bikes",
    ]
    assert page.evaluate("document.activeElement.dataset.key") == "library"
    expect(ranking.locator("[data-rank-status]")).to_have_text("Library moved to position 1 of 3.")
    # And "Bikes" up one with its button.
    ranking.get_by_role("button", name="Move Bikes up").click()
    submit_and_wait(page, q["ranking"], "Your ballot is counted.")
    # The card htmx swapped in is a sortable list again, in the order just cast.
    ranking = card(page, q["ranking"])
    expect(ranking.locator(".rank-move")).to_have_count(6)
    expect(ranking.locator(".rank-position")).to_have_text(["1", "2", "3"])
    assert ranking.locator("li.rank-item").evaluate_all("items => items.map(i => i.dataset.key)") == [
        "library",
        "bikes",
        "park",
    ]

    # Scores: number inputs (the slider follows).
    scores = card(page, q["scores"])
    for label, value in (("Park", "2"), ("Bikes", "9"), ("Library", "5")):
        scores.get_by_label(label, exact=True).fill(value)
    assert scores.locator("input[type=range]").nth(1).input_value() == "9"
    submit_and_wait(page, q["scores"], "Your ballot is counted.")

    # A number: move the slider with the keyboard, then type the exact value.
    number = card(page, q["number"])
    number.locator("input[type=range]").fill("30")
    assert number.locator("input[type=number]").input_value() == "30"
    number.get_by_label("Your number", exact=True).fill("42")
    assert number.locator("input[type=range]").input_value() == "42"
    submit_and_wait(page, q["number"], "Your ballot is counted.")

    # Budget: the remaining amount updates as one types; an allocation that misses the total is refused.
    budget = card(page, q["budget"])
    budget.get_by_label("Park").fill("50")
    budget.get_by_label("Bikes").fill("30")
    assert budget.locator("[data-budget-status]").text_content() == "Remaining: 20 of 100."
    submit_and_wait(page, q["budget"], "100")
    error = card(page, q["budget"]).locator(".ballot-error")
    assert error.is_visible() and error.text_content().strip()
    assert not Ballot.objects.filter(question=q["budget"]).exists()
    shot(page, "browser-invalid-allocation-desktop")
    budget = card(page, q["budget"])
    assert budget.get_by_label("Park").input_value() == "50"  # what was typed is kept
    budget.get_by_label("Library").fill("20")
    assert budget.locator("[data-budget-status]").text_content() == "All 100 allocated."
    submit_and_wait(page, q["budget"], "Your ballot is counted.")
    shot(page, "browser-session-voted-desktop")

    stored = {
        kind: Ballot.objects.get(question=question, participant=participant).content for kind, question in q.items()
    }
    assert stored == {
        "single": {"choice": "bikes"},
        "ranking": {"ranking": ["library", "bikes", "park"]},
        "scores": {"scores": {"park": 2, "bikes": 9, "library": 5}},
        "number": {"value": 42},
        "budget": {"allocation": {"park": 50, "bikes": 30, "library": 20}},
    }

    expected = {
        "single": "“Bikes” wins.",
        "ranking": "“Library” wins.",
        "scores": "“Bikes” wins.",
        "number": "The outcome is 42.",
        "budget": "The budget is split: Park 50; Bikes 30; Library 20.",
    }
    for kind, question in q.items():
        page.goto(f"{asgi_server}/questions/{question.pk}/results/")
        assert page.locator(".outcome-sentence").text_content().strip() == expected[kind]
        assert "1 ballot" in page.locator(".results .meta").text_content()
        assert page.locator("figure.chart-figure svg").count() == 1
        shot(page, f"browser-results-{kind}-desktop")


def test_changed_ballot_is_prefilled_after_reload(browser, asgi_server, town):
    session, q = town
    page = browser.new_context(viewport=DESKTOP).new_page()
    participant = join(page, asgi_server, session)
    card(page, q["single"]).get_by_label("Park").check()
    submit_and_wait(page, q["single"], "Your ballot is counted.")
    card(page, q["single"]).get_by_label("Library").check()
    submit_and_wait(page, q["single"], "Your changed ballot is counted.")
    page.reload()
    assert card(page, q["single"]).get_by_label("Library").is_checked()
    assert Ballot.objects.get(question=q["single"], participant=participant).revision == 2


def test_ranking_by_drag_and_drop(browser, asgi_server, town):
    session, q = town
    page = browser.new_context(viewport=DESKTOP).new_page()
    participant = join(page, asgi_server, session)
    ranking = card(page, q["ranking"])
    ranking.locator('li[data-key="library"]').drag_to(
        ranking.locator('li[data-key="park"]'), target_position={"x": 20, "y": 4}
    )
    order = ranking.locator("li.rank-item").evaluate_all("items => items.map(i => i.dataset.key)")
    assert order[0] == "library"
    submit_and_wait(page, q["ranking"], "Your ballot is counted.")
    assert Ballot.objects.get(question=q["ranking"], participant=participant).content == {"ranking": order}


def test_without_javascript_the_forms_still_work(browser, asgi_server, town):
    session, q = town
    page = browser.new_context(viewport=DESKTOP, java_script_enabled=False).new_page()
    participant = join(page, asgi_server, session)
    ranking = card(page, q["ranking"])
    ranking.get_by_label("Bikes").select_option("1")
    ranking.get_by_label("Park").select_option("2")
    ranking.get_by_role("button", name="Cast my ballot").click()
    page.wait_for_url(re.compile(rf"#question-{q['ranking'].pk}$"), timeout=TIMEOUT)
    assert "Your ballot is counted." in page.locator(".messages").text_content()
    assert Ballot.objects.get(question=q["ranking"], participant=participant).content == {"ranking": ["bikes", "park"]}
    budget = card(page, q["budget"])
    budget.get_by_label("Park").fill("10")
    budget.get_by_role("button", name="Cast my ballot").click()
    assert card(page, q["budget"]).locator(".ballot-error").text_content().strip()
    assert not Ballot.objects.filter(question=q["budget"]).exists()


def test_phone_sized_screen(browser, asgi_server, town, shot):
    session, q = town
    page = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True).new_page()
    participant = join(page, asgi_server, session, "Phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "browser-session-phone")
    for kind in ("single", "ranking", "scores", "number", "budget"):
        box = card(page, q[kind])
        box_width = box.bounding_box()["width"]
        assert box_width <= PHONE["width"]
        button = box.get_by_role("button", name=re.compile("my ballot"))
        assert button.bounding_box()["x"] + button.bounding_box()["width"] <= PHONE["width"]
    card(page, q["single"]).get_by_label("Library").tap()
    submit_and_wait(page, q["single"], "Your ballot is counted.")
    assert Ballot.objects.get(question=q["single"], participant=participant).content == {"choice": "library"}
    page.goto(f"{asgi_server}/questions/{q['single'].pk}/results/")
    assert page.locator(".outcome-sentence").text_content().strip() == "“Library” wins."
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    shot(page, "browser-results-phone")

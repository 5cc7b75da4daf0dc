"""The demo seeder and the token minting command."""

from __future__ import annotations

import io

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command

from deliberation.models import Participant, Session
from voting.models import Ballot, BallotRevision, Question, Result

pytestmark = pytest.mark.django_db


def seed(**options) -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out, **options)
    return out.getvalue()


def test_seed_demo_builds_an_open_question_of_every_kind_with_results(monkeypatch):
    monkeypatch.delenv("PLENUM_DEMO_PASSWORD", raising=False)
    output = seed(participants=40, base_url="http://demo.example:9000/")
    session = Session.objects.get(title="Plenum demo")
    questions = list(Question.objects.filter(session=session))
    assert {q.kind for q in questions} == {"single", "ranking", "scores", "number", "budget"}
    assert all(q.status == Question.Status.OPEN for q in questions)
    assert Participant.objects.filter(session=session).count() == 40
    for question in questions:
        result = Result.objects.filter(question=question).order_by("-version").first()
        assert result is not None, question.text
        assert result.ballot_count == Ballot.objects.filter(question=question).count() > 20
        assert result.payload["status"] not in ("no_ballots", "no_valid_votes", "no_reports")
    assert BallotRevision.objects.count() == Ballot.objects.count()
    assert f"http://demo.example:9000/join/{session.invite_token}/" in output
    assert "username: organizer  password: plenum-demo" in output
    assert authenticate(username="organizer", password="plenum-demo") is not None


def test_seed_demo_twice_replaces_the_demo_session(monkeypatch):
    monkeypatch.setenv("PLENUM_DEMO_PASSWORD", "another-secret")
    seed(participants=15, seed=1)
    first = Session.objects.get(title="Plenum demo")
    seed(participants=15, seed=1)
    assert Session.objects.filter(title="Plenum demo").count() == 1
    assert Session.objects.get(title="Plenum demo").pk != first.pk
    assert Participant.objects.count() == 15
    assert authenticate(username="organizer", password="another-secret") is not None


def test_seed_demo_refuses_a_silly_size():
    with pytest.raises(CommandError) as caught:
        seed(participants=0)
    assert caught.value.returncode == 2


def test_mint_tokens_prints_one_token_per_line(session):
    out = io.StringIO()
    call_command("mint_tokens", str(session.pk), "3", "--weight", "1/2", "--prefix", "load", stdout=out)
    tokens = out.getvalue().split()
    assert len(tokens) == 3
    minted = Participant.objects.filter(api_token__in=tokens)
    assert sorted(p.display_name for p in minted) == ["load 1", "load 2", "load 3"]
    assert {(p.kind, p.weight) for p in minted} == {("agent", "1/2")}


def test_mint_tokens_reports_bad_input_with_status_2(session):
    with pytest.raises(CommandError) as caught:
        call_command("mint_tokens", "999999", "1")
    assert caught.value.returncode == 2 and "no session" in str(caught.value)
    with pytest.raises(CommandError) as caught:
        call_command("mint_tokens", str(session.pk), "1", "--weight", "0.5")
    assert caught.value.returncode == 2 and str(caught.value).startswith("weight:")

"""Admin: every model is registered; ballots, ballot history and results cannot be edited there."""

from __future__ import annotations

import pytest

from voting.services import cast_ballot, recompute_result

pytestmark = pytest.mark.django_db

MODELS = ["deliberation/session", "deliberation/participant", "voting/question", "voting/option"]
READ_ONLY = ["voting/ballot", "voting/ballotrevision", "voting/result"]


def test_admin_lists_every_model_and_protects_ballots(client, django_user_model, make_question, participant):
    question = make_question("single")
    cast_ballot(question, participant, {"choice": "alpha"}, source="web")
    recompute_result(question.pk)
    client.force_login(django_user_model.objects.create_superuser(username="root", password="root-password"))
    for model in MODELS + READ_ONLY:
        assert client.get(f"/admin/{model}/").status_code == 200, model
    for model in MODELS:
        assert client.get(f"/admin/{model}/add/").status_code == 200, model
    for model in READ_ONLY:
        assert client.get(f"/admin/{model}/add/").status_code == 403, model
    revision = participant.ballot_revisions.get()
    page = client.get(f"/admin/voting/ballotrevision/{revision.pk}/change/")
    assert page.status_code == 200 and b'name="content"' not in page.content
    assert client.post(f"/admin/voting/ballotrevision/{revision.pk}/delete/", {"post": "yes"}).status_code == 403
    assert participant.ballot_revisions.count() == 1

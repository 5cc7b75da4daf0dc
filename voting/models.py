"""Questions, their options, ballots (current and history) and versioned results."""

from __future__ import annotations

from django.db import models

from deliberation.models import Participant, Session


class Question(models.Model):
    """A question in a session: a ballot kind, an aggregation rule and its parameters."""

    class Kind(models.TextChoices):
        SINGLE = "single", "Single choice"
        RANKING = "ranking", "Ranking"
        SCORES = "scores", "Scores per option"
        NUMBER = "number", "A number in a range"
        BUDGET = "budget", "Budget allocation"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        OPEN = "open", "Open for voting"
        CLOSED = "closed", "Closed"

    class Visibility(models.TextChoices):
        LIVE = "live", "Results visible while voting"
        AFTER_CLOSE = "after_close", "Results only after closing"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="questions")
    text = models.CharField(max_length=500)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    rule = models.CharField(max_length=32, help_text="Engine rule name, e.g. plurality, schulze.")
    params = models.JSONField(default=dict, blank=True, help_text="Engine parameters, validated by the engine.")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.DRAFT)
    visibility = models.CharField(max_length=16, choices=Visibility.choices, default=Visibility.LIVE)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.text


class Option(models.Model):
    """One option (candidate) of a question; ``key`` is its id in ballots and the API."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="options")
    key = models.SlugField(max_length=40)
    label = models.CharField(max_length=200)
    position = models.PositiveIntegerField(default=0, help_text="Order shown; also the tie-break order.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["question", "key"], name="option_key_unique_per_question")]

    def __str__(self) -> str:
        return self.label


class Ballot(models.Model):
    """The current ballot of one participant on one question (one row, replaced in place).

    ``content`` is the engine's JSON ballot form with option keys, e.g.
    ``{"ranking": ["b", "a"]}``; ``revision`` counts how often it was cast.
    """

    class Source(models.TextChoices):
        WEB = "web", "Browser"
        API = "api", "JSON API"
        AGENT = "agent", "LLM agent"

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="ballots")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ballots")
    content = models.JSONField()
    weight = models.CharField(max_length=32, default="1")
    revision = models.PositiveIntegerField(default=1)
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    cast_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["question", "participant"], name="one_current_ballot_per_participant_and_question"
            ),
        ]

    def __str__(self) -> str:
        return f"ballot of {self.participant_id} on question {self.question_id} (revision {self.revision})"


class BallotRevision(models.Model):
    """Append-only history: every ballot ever cast, never updated or deleted by Plenum."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="ballot_revisions")
    participant = models.ForeignKey(Participant, on_delete=models.CASCADE, related_name="ballot_revisions")
    revision = models.PositiveIntegerField()
    content = models.JSONField()
    weight = models.CharField(max_length=32, default="1")
    source = models.CharField(max_length=8, choices=Ballot.Source.choices, default=Ballot.Source.WEB)
    cast_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["question", "participant", "revision"], name="ballot_revision_unique"),
        ]

    def __str__(self) -> str:
        return f"revision {self.revision} of {self.participant_id} on question {self.question_id}"


class Result(models.Model):
    """A computed result of a question, versioned: a higher version is always newer.

    ``payload`` is the engine's JSON result (option keys as candidate ids); ``comparison``
    maps every other rule of the same ballot kind to its JSON result on the same ballots.
    """

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="results")
    version = models.PositiveIntegerField()
    rule = models.CharField(max_length=32)
    params = models.JSONField(default=dict)
    ballot_count = models.PositiveIntegerField()
    payload = models.JSONField()
    comparison = models.JSONField(default=dict)
    is_final = models.BooleanField(default=False, help_text="Computed after the question closed.")
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        constraints = [models.UniqueConstraint(fields=["question", "version"], name="result_version_unique")]

    def __str__(self) -> str:
        return f"result v{self.version} of question {self.question_id}"


class TallyState(models.Model):
    """The question's incremental tallies, one per rule its results page shows, as engine snapshots.

    Only the tally task writes it, holding this row's lock, so at most one recompute per
    question runs at a time. ``basis`` fingerprints rule, params and options: when they no
    longer match, the tallies are rebuilt from the current ballots.
    """

    question = models.OneToOneField(Question, on_delete=models.CASCADE, related_name="tally_state")
    basis = models.CharField(max_length=64, blank=True)
    ballots = models.PositiveIntegerField(default=0, help_text="Current ballots folded into the tallies.")
    tallies = models.JSONField(default=dict, help_text="rule -> {state, refused, reason}.")
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"tallies of question {self.question_id}"


class TallyChange(models.Model):
    """A ballot change not yet folded into the question's tallies: written with the ballot, deleted when folded.

    ``replaces`` is the revision the change takes out of the tallies (None for a first ballot).
    """

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="pending_changes")
    revision = models.ForeignKey(BallotRevision, on_delete=models.CASCADE, related_name="+")
    replaces = models.ForeignKey(BallotRevision, on_delete=models.CASCADE, related_name="+", null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["question", "id"], name="tally_change_by_question")]

    def __str__(self) -> str:
        return f"pending change {self.revision_id} of question {self.question_id}"

"""Voting app: questions, options, ballots, results, tally tasks."""

from django.apps import AppConfig


class VotingConfig(AppConfig):
    """App config for voting."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "voting"

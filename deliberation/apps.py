"""Deliberation app: sessions, participants and (later) statements and opinion groups."""

from django.apps import AppConfig


class DeliberationConfig(AppConfig):
    """App config for deliberation."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "deliberation"

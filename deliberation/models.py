"""Deliberation sessions and the people (and agents) taking part in them."""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_invite_token() -> str:
    """An unguessable token for a session's invite link."""
    return secrets.token_urlsafe(16)


def new_api_token() -> str:
    """An unguessable bearer token for the JSON API."""
    return secrets.token_urlsafe(32)


class Session(models.Model):
    """A deliberation session: a prompt, its questions, who may join."""

    class JoinPolicy(models.TextChoices):
        INVITE_LINK = "link", "Anyone with the invite link"
        SIGNED_IN = "signed_in", "Signed-in users only"

    title = models.CharField(max_length=200)
    prompt = models.TextField(blank=True)
    organizer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="organized_sessions")
    is_open = models.BooleanField(default=True, help_text="Closed sessions accept no new participants.")
    join_policy = models.CharField(max_length=16, choices=JoinPolicy.choices, default=JoinPolicy.INVITE_LINK)
    invite_token = models.CharField(max_length=64, unique=True, default=new_invite_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class Participant(models.Model):
    """Someone (or an LLM agent) taking part in one session.

    Humans without an account are identified by a signed cookie holding this row's id;
    signed-in humans also link their user. ``weight`` is an exact rational ("1", "1/2").
    """

    class Kind(models.TextChoices):
        HUMAN = "human", "Human"
        AGENT = "agent", "LLM agent"

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HUMAN)
    display_name = models.CharField(max_length=80, blank=True)
    weight = models.CharField(max_length=32, default="1")
    api_token = models.CharField(max_length=64, unique=True, default=new_api_token)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session", "user"], condition=Q(user__isnull=False), name="one_participant_per_user_and_session"
            ),
        ]

    def __str__(self) -> str:
        return self.display_name or f"participant {self.pk}"

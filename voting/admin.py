"""Admin pages for questions and options; ballots, ballot history and results are read-only.

Ballots and results only change through the services (validation, history, versioning),
so the admin shows them but cannot edit them.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from voting.models import Ballot, BallotRevision, Option, Question, Result


class ReadOnlyAdmin(admin.ModelAdmin):
    """An admin that lists and shows rows but cannot add, change or delete them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OptionInline(admin.TabularInline):
    """A question's options in tie-break order."""

    model = Option
    extra = 0
    fields = ("position", "key", "label")


@admin.register(Question)
class QuestionAdmin(admin.ModelAdmin):
    """Questions with their options; rule and params are checked by the services, not here."""

    list_display = ("text", "session", "kind", "rule", "status", "visibility", "position")
    list_filter = ("kind", "rule", "status", "visibility")
    search_fields = ("text", "session__title")
    raw_id_fields = ("session",)
    inlines = [OptionInline]


@admin.register(Option)
class OptionAdmin(admin.ModelAdmin):
    """Options of every question."""

    list_display = ("label", "key", "question", "position")
    search_fields = ("label", "key", "question__text")
    raw_id_fields = ("question",)


@admin.register(Ballot)
class BallotAdmin(ReadOnlyAdmin):
    """Current ballots (read-only)."""

    list_display = ("id", "question", "participant", "revision", "source", "weight", "cast_at")
    list_filter = ("source",)
    search_fields = ("question__text", "participant__display_name")


@admin.register(BallotRevision)
class BallotRevisionAdmin(ReadOnlyAdmin):
    """The append-only ballot history (read-only)."""

    list_display = ("id", "question", "participant", "revision", "source", "weight", "cast_at")
    list_filter = ("source",)
    search_fields = ("question__text", "participant__display_name")


@admin.register(Result)
class ResultAdmin(ReadOnlyAdmin):
    """Computed result versions (read-only)."""

    list_display = ("question", "version", "rule", "ballot_count", "is_final", "computed_at")
    list_filter = ("rule", "is_final")
    search_fields = ("question__text",)

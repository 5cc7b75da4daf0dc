"""Admin pages for sessions and participants (API tokens shown read-only)."""

from __future__ import annotations

from django.contrib import admin

from deliberation.models import Participant, Session


class ParticipantInline(admin.TabularInline):
    """Participants listed on their session's page."""

    model = Participant
    extra = 0
    fields = ("display_name", "kind", "user", "weight", "created_at")
    readonly_fields = ("created_at",)
    raw_id_fields = ("user",)
    show_change_link = True


@admin.register(Session)
class SessionAdmin(admin.ModelAdmin):
    """Sessions: title, organizer, openness and join policy."""

    list_display = ("title", "organizer", "is_open", "join_policy", "created_at")
    list_filter = ("is_open", "join_policy")
    search_fields = ("title", "prompt")
    readonly_fields = ("invite_token", "created_at")
    raw_id_fields = ("organizer",)
    inlines = [ParticipantInline]


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    """Participants of every session; the API token is shown but never edited by hand."""

    list_display = ("__str__", "session", "kind", "weight", "user", "created_at")
    list_filter = ("kind",)
    search_fields = ("display_name", "session__title")
    readonly_fields = ("api_token", "created_at")
    raw_id_fields = ("session", "user")

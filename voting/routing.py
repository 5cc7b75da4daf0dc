"""Websocket routes of live results (mounted by config.asgi behind origin and auth checks)."""

from django.urls import path

from voting.consumers import QuestionResultsConsumer, SessionSummaryConsumer

websocket_urlpatterns = [
    path("ws/questions/<int:question_id>/", QuestionResultsConsumer.as_asgi()),
    path("ws/sessions/<int:session_id>/", SessionSummaryConsumer.as_asgi()),
]

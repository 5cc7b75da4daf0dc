"""URLs of the JSON API, mounted at /api/v1/ (a trailing slash is optional)."""

from django.urls import re_path

from voting import api

urlpatterns = [
    re_path(r"^questions/(?P<question_id>[0-9]+)/ballots/?$", api.ballots, name="api-ballots"),
    re_path(r"^questions/(?P<question_id>[0-9]+)/result/?$", api.result, name="api-result"),
    re_path(r"^sessions/(?P<session_id>[0-9]+)/?$", api.session_detail, name="api-session"),
    re_path(r"^sessions/(?P<session_id>[0-9]+)/participants/?$", api.participants, name="api-participants"),
    re_path(r"^openapi\.json$", api.openapi, name="api-openapi"),
]

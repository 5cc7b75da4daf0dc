"""URLs of sessions: dashboard, organizer pages, invite links and the citizen's session page."""

from django.urls import path

from deliberation import views

urlpatterns = [
    path("", views.home, name="home"),
    path("sessions/new/", views.session_create, name="session_create"),
    path("sessions/<int:pk>/", views.session_page, name="session_page"),
    path("sessions/<int:pk>/manage/", views.session_manage, name="session_manage"),
    path("sessions/<int:pk>/edit/", views.session_edit, name="session_edit"),
    path("sessions/<int:pk>/participants/mint/", views.mint_participant, name="mint_participant"),
    path("join/<str:token>/", views.join, name="join"),
]

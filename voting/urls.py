"""URLs of questions: organizer controls, casting ballots, results and their charts."""

from django.urls import path

from voting import views

urlpatterns = [
    path("sessions/<int:session_pk>/questions/new/", views.question_create, name="question_create"),
    path("sessions/<int:session_pk>/questions/form/", views.question_form, name="question_form"),
    path("questions/<int:pk>/edit/", views.question_edit, name="question_edit"),
    path("questions/<int:pk>/open/", views.question_open, name="question_open"),
    path("questions/<int:pk>/close/", views.question_close, name="question_close"),
    path("questions/<int:pk>/visibility/", views.question_visibility, name="question_visibility"),
    path("questions/<int:pk>/ballot/", views.cast, name="cast"),
    path("questions/<int:pk>/results/", views.results, name="results"),
    path("questions/<int:pk>/chart.svg", views.chart, name="results_chart"),
]

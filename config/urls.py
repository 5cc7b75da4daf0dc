"""URL map: organizer and citizen pages, the JSON API, accounts and the admin."""

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("api/v1/", include("voting.api_urls")),
    path("", include("deliberation.urls")),
    path("", include("voting.urls")),
]

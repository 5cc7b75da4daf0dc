"""URL patterns (filled in by the platform work)."""

urlpatterns: list = []

"""URLs of the scoring app (pages and API routes)."""
from django.urls import path

app_name = "scoring"
urlpatterns: list = []

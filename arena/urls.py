"""URLs of the arena app (pages and API routes)."""
from django.urls import path

app_name = "arena"
urlpatterns: list = []

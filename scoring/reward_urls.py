"""URLs of the reward model's pages and API: agreement, per-prompt rankings."""
from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []

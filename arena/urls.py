"""URLs of the arena: the rater's page at / and the REST API under /api/."""
from django.urls import include, path

from arena import views

app_name = "arena"
urlpatterns = [
    path("", views.arena_page, name="arena"),
    path("api/", include("arena.api_urls")),
]

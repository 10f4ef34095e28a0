"""URLs of the annotation app; campaigns will route their pages and API here."""
from django.urls import URLPattern, URLResolver, path

from annotation import views

app_name = "annotation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("c/<slug:slug>/dashboard/", views.dashboard_page, name="campaign-dashboard"),
]

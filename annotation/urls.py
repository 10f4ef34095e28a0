"""URLs of the annotation app; campaigns will route their pages and API here."""
from django.urls import URLPattern, URLResolver

app_name = "annotation"
urlpatterns: list[URLPattern | URLResolver] = []

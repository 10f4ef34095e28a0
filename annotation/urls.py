"""URLs of the annotation app (pages and API routes)."""
from django.urls import path

app_name = "annotation"
urlpatterns: list = []

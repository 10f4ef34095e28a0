"""A URL map for the test of the campaign admin's dashboard link: the campaign in an admin site of its own (the
project's campaign admin lives on another branch until the merge), beside the annotation pages."""
from django.contrib import admin
from django.urls import include, path

from annotation.models import Campaign

site = admin.AdminSite(name="admin")
site.register(Campaign)

urlpatterns = [
    path("admin/", site.urls),
    path("", include("annotation.urls")),
]

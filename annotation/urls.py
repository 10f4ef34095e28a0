"""URLs of the annotation app, mounted at /c/: a campaign's rater pages and its staff dashboard (the API is
annotation.api_urls)."""
from django.urls import URLPattern, URLResolver, path

from annotation import rater_views, views

app_name = "annotation"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:slug>/", rater_views.campaign_page, name="campaign"),
    path("<slug:slug>/consent/", rater_views.campaign_consent, name="campaign-consent"),
    path("<slug:slug>/done/", rater_views.campaign_done, name="campaign-done"),
    path("<slug:slug>/dashboard/", views.dashboard_page, name="campaign-dashboard"),
]

"""The campaigns' REST API, mounted under /api/campaigns/: a rater's join, consent, next item and skip, and the
staff dashboard."""
from django.urls import URLPattern, URLResolver, path

from annotation import dashboard_api, rater_api

app_name = "annotation-api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:slug>/join/", rater_api.CampaignJoinApi.as_view(), name="campaign-join"),
    path("<slug:slug>/consent/", rater_api.CampaignConsentApi.as_view(), name="campaign-consent-api"),
    path("<slug:slug>/next/", rater_api.CampaignNextApi.as_view(), name="campaign-next"),
    path("<slug:slug>/skip/", rater_api.CampaignSkipApi.as_view(), name="campaign-skip"),
    path("<slug:slug>/dashboard/", dashboard_api.CampaignDashboardApi.as_view(), name="campaign-dashboard"),
]

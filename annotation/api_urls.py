"""REST routes of a campaign's raters under /api/campaigns/."""
from django.urls import URLPattern, URLResolver, path

from annotation import rater_api

urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:slug>/join/", rater_api.CampaignJoinApi.as_view(), name="campaign-join"),
    path("<slug:slug>/consent/", rater_api.CampaignConsentApi.as_view(), name="campaign-consent-api"),
    path("<slug:slug>/next/", rater_api.CampaignNextApi.as_view(), name="campaign-next"),
    path("<slug:slug>/skip/", rater_api.CampaignSkipApi.as_view(), name="campaign-skip"),
]

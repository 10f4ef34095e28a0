"""The campaigns' REST API, mounted under /api/campaigns/."""
from django.urls import URLPattern, URLResolver, path

from annotation import dashboard_api

app_name = "annotation-api"
urlpatterns: list[URLPattern | URLResolver] = [
    path("<slug:slug>/dashboard/", dashboard_api.CampaignDashboardApi.as_view(), name="campaign-dashboard"),
]

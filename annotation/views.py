"""Pages of campaigns: the staff dashboard (progress, raters, boards per axis, agreement), live."""
from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from annotation.dashboard_api import dashboard_data
from annotation.errors import CampaignNotFound


@staff_member_required
def dashboard_page(request: HttpRequest, slug: str) -> HttpResponse:
    """/c/<slug>/dashboard/: renders from embedded data, then refetches the API whenever a campaign board is
    pushed on its websocket."""
    try:
        data = dashboard_data(slug=slug)
    except CampaignNotFound as error:
        return render(request, "annotation/dashboard.html", {"error": error.message}, status=error.status)
    return render(request, "annotation/dashboard.html", {"dashboard": data, "campaign": data["campaign"]})

"""REST URLs of preference exports, mounted at /api/exports/."""
from django.urls import URLPattern, URLResolver, path

from annotation import export_api

app_name = "annotation-exports"
urlpatterns: list[URLPattern | URLResolver] = [
    path("", export_api.ExportListApi.as_view(), name="exports"),
    path("<uuid:export_id>/", export_api.ExportDetailApi.as_view(), name="export"),
    path("<uuid:export_id>/files/<path:name>", export_api.ExportFileApi.as_view(), name="export-file"),
]

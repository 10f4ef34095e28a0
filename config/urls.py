"""Top-level URL map: pages, the REST API with its OpenAPI schema and docs, and the admin.

Media files are never served by URL: clips reach listeners only through per-battle audio URLs.
"""
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView

from config.admin_login import admin_login
from config.api_docs import RedocDocsView, SwaggerDocsView
from config.health import healthz

handler400 = "config.error_views.bad_request"
handler404 = "config.error_views.page_not_found"
handler500 = "config.error_views.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/login/", admin_login, name="admin-login"),  # before the admin's own, which it wraps
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SwaggerDocsView.as_view(url_name="schema"), name="api-docs"),
    path("api/redoc/", RedocDocsView.as_view(url_name="schema"), name="api-redoc"),
    path("api/exports/", include("annotation.export_urls")),
    path("", include("scoring.urls")),
    path("", include("reward.urls")),
    path("api/campaigns/", include("annotation.api_urls")),
    path("c/", include("annotation.urls")),
    path("", include("arena.urls")),
]

"""The API's documentation pages: Swagger UI at /api/docs/ and ReDoc at /api/redoc/, both from static files.

drf-spectacular-sidecar ships both UIs, so the pages load nothing from another host and work offline.
"""
from typing import Any

from django.conf import settings
from django.utils.csp import CSP
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.request import Request
from rest_framework.response import Response


class SwaggerDocsView(SpectacularSwaggerSplitView):
    """Swagger UI; its start-up script is served by this same view (?script), not inline, so the page's
    Content-Security-Policy need not allow inline scripts."""


class RedocDocsView(SpectacularRedocView):
    """ReDoc under the site's policy plus one directive: ReDoc's search index runs in a Web Worker that its own
    script makes from a blob: URL. Only a script the policy already let run can make one."""

    template_name = "api/redoc.html"

    @extend_schema(exclude=True)  # as on the view it extends: the docs pages are not part of the API
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        response: Response = super().get(request, *args, **kwargs)
        if settings.SECURE_CSP:
            # What django.views.decorators.csp.csp_override sets, read per response so that the base policy can
            # change with the settings.
            response._csp_config = {**settings.SECURE_CSP, "worker-src": [CSP.SELF, "blob:"]}  # type: ignore[attr-defined]
        return response

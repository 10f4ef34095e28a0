"""REST API of preference exports (admins only): queue one, follow its progress, download its files with Range."""
from __future__ import annotations

import mimetypes
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.http import HttpResponse, StreamingHttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotation.export_jobs import export_file_path, export_get, export_queue
from annotation.export_schema import Shape
from annotation.exports import AXIS_NAMES, FORMATS, ExportSpec
from annotation.models import DatasetExport
from arena.delivery import RangeNotSatisfiable, byte_range, range_header, range_refused
from core.api import ErrorSerializer

TAG = "exports"
CHUNK = 1 << 20


class ExportPermission(BasePermission):
    """Creating needs annotation.add_datasetexport, reading and downloading annotation.view_datasetexport (admins:
    superusers have both; staff researchers have neither unless given them)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated and user.is_staff):
            return False
        needed = "annotation.add_datasetexport" if request.method == "POST" else "annotation.view_datasetexport"
        return bool(user.has_perm(needed))


class ExportInputSerializer(serializers.Serializer):
    sources = serializers.ListField(child=serializers.CharField(), default=["arena"],
                                    help_text="Leaderboard bases to export: arena and/or campaign:<slug>.")
    shape = serializers.ChoiceField(choices=[shape.value for shape in Shape], default=Shape.VOTES.value,
                                    help_text="votes (a row per vote), pairs (a row per clip pair with counts and "
                                    "majority) or chosen_rejected (a row per decided vote and axis).")
    formats = serializers.ListField(child=serializers.ChoiceField(choices=FORMATS), default=list(FORMATS))
    since = serializers.DateTimeField(required=False, allow_null=True, default=None)
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)
    axes = serializers.ListField(child=serializers.ChoiceField(choices=AXIS_NAMES), default=list(AXIS_NAMES),
                                 help_text="Per-axis columns to fill (the others are null).")
    include_flagged = serializers.BooleanField(default=False,
                                               help_text="Also the votes of raters left out of the boards.")
    min_votes = serializers.IntegerField(default=1, min_value=1, help_text="Only clip pairs with this many votes.")
    include_feedback = serializers.BooleanField(default=False, help_text="Include the raters' free-text reasons.")
    embargo_days = serializers.FloatField(required=False, allow_null=True, default=None, min_value=0,
                                          help_text="Public release: leave out votes younger than this.")
    bundle = serializers.BooleanField(default=False, help_text="Copy the audio and write a tar of the whole export.")
    license = serializers.CharField(default="cc-by-4.0", max_length=64)

    def spec(self) -> ExportSpec:
        data = self.validated_data
        embargo = data["embargo_days"]
        return ExportSpec(
            sources=tuple(data["sources"]), shape=Shape(data["shape"]), formats=tuple(data["formats"]),
            since=data["since"], until=data["until"], axes=tuple(data["axes"]),
            include_flagged=data["include_flagged"], min_votes=data["min_votes"],
            include_feedback=data["include_feedback"], embargo=timedelta(days=embargo) if embargo is not None else None,
            bundle=data["bundle"], license=data["license"],
        )


class ExportFileSerializer(serializers.Serializer):
    name = serializers.CharField()
    url = serializers.CharField()


class ExportOutputSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id")
    status = serializers.ChoiceField(choices=DatasetExport.Status.choices,
                                     help_text="queued or running: ask again; done: download `files`; failed: "
                                     "`reason` says why, and nothing was left behind.")
    progress = serializers.SerializerMethodField()
    files = serializers.SerializerMethodField()
    status_url = serializers.SerializerMethodField()

    class Meta:
        model = DatasetExport
        fields = ["id", "kind", "status", "progress", "rows_done", "rows_total", "rows_written", "spec", "boards",
                  "files", "bundle_sha256", "reason", "created_at", "started_at", "finished_at", "status_url"]

    @extend_schema_field(serializers.FloatField(allow_null=True, help_text="Votes read / votes to read, 0 to 1 "
                                                "(null before the worker knows the total)."))
    def get_progress(self, export: DatasetExport) -> float | None:
        if export.status == DatasetExport.Status.DONE:
            return 1.0
        return export.rows_done / export.rows_total if export.rows_total else None

    @extend_schema_field(ExportFileSerializer(many=True))
    def get_files(self, export: DatasetExport) -> list[dict[str, str]]:
        if export.status != DatasetExport.Status.DONE:
            return []
        request = self.context.get("request")
        found = []
        for name in export.files:
            url = reverse("annotation-exports:export-file", args=[export.public_id, name])
            found.append({"name": name, "url": request.build_absolute_uri(url) if request else url})
        return found

    def get_status_url(self, export: DatasetExport) -> str:
        url = reverse("annotation-exports:export", args=[export.public_id])
        request = self.context.get("request")
        return request.build_absolute_uri(url) if request else url


class ExportListApi(APIView):
    permission_classes = [ExportPermission]

    @extend_schema(tags=[TAG], operation_id="exports_list", summary="Recent exports",
                   responses={200: ExportOutputSerializer(many=True), 403: ErrorSerializer})
    def get(self, request: Request) -> Response:
        exports = DatasetExport.objects.all()[:50]
        return Response(ExportOutputSerializer(exports, many=True, context={"request": request}).data)

    @extend_schema(
        tags=[TAG], operation_id="exports_create", summary="Queue a preference export",
        description="Validates the settings and queues the export for a Celery worker; follow `status_url` "
        "(progress in votes read) until `done`, then download `files`. Rater ids are hashed with a fresh secret "
        "salt per export; IPs, e-mails and crowd ids are never written; feedback only with include_feedback.",
        request=ExportInputSerializer,
        responses={202: ExportOutputSerializer, 400: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer},
    )
    def post(self, request: Request) -> Response:
        incoming = ExportInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        export = export_queue(spec=incoming.spec(), by=request.user)
        export.refresh_from_db()  # eager Celery (the embedded demo) has run it already
        return Response(ExportOutputSerializer(export, context={"request": request}).data,
                        status=status.HTTP_202_ACCEPTED)


class ExportDetailApi(APIView):
    permission_classes = [ExportPermission]

    @extend_schema(tags=[TAG], operation_id="exports_retrieve", summary="One export's state and files",
                   responses={200: ExportOutputSerializer, 403: ErrorSerializer, 404: ErrorSerializer})
    def get(self, request: Request, export_id: UUID) -> Response:
        return Response(ExportOutputSerializer(export_get(public_id=export_id), context={"request": request}).data)


def _chunks(path: Path, start: int, end: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(start)
        left = end - start + 1
        while left > 0:
            block = handle.read(min(CHUNK, left))
            if not block:
                return
            left -= len(block)
            yield block


class ExportFileApi(APIView):
    permission_classes = [ExportPermission]

    @extend_schema(
        tags=[TAG], operation_id="exports_file", summary="Download one file of a finished export",
        description="Streams the file; supports HTTP Range (206 Partial Content, 416 outside the file), so a "
        "large download can resume.",
        responses={
            (200, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The file."),
            (206, "application/octet-stream"): OpenApiResponse(OpenApiTypes.BINARY, description="The range."),
            403: ErrorSerializer, 404: ErrorSerializer, 416: ErrorSerializer,
        },
    )
    def get(self, request: Request, export_id: UUID, name: str) -> HttpResponse | StreamingHttpResponse:
        path = export_file_path(export=export_get(public_id=export_id), name=name)
        size = path.stat().st_size
        header = range_header(request._request)
        try:
            wanted = byte_range(header, size)
        except RangeNotSatisfiable as exc:
            return range_refused(header, exc, size=size, max_age=0)
        start, end = wanted if wanted is not None else (0, size - 1)
        response = StreamingHttpResponse(
            _chunks(path, start, end), status=206 if wanted is not None else 200,
            content_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
        )
        if wanted is not None:
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(max(0, end - start + 1))
        response["Accept-Ranges"] = "bytes"
        response["Content-Disposition"] = f'attachment; filename="{path.name}"'
        response["Cache-Control"] = "private, no-store"
        return response

"""Exports as jobs: queue one (admin page, admin action, API), run it in a Celery worker with its progress on the
row, and publish the rolling public release. The web half only validates and queues (the task is named, not
imported); `export_job_run` is what the worker (or eager Celery) runs."""
from __future__ import annotations

import json
import logging
from dataclasses import asdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from annotation.errors import ExportFailed, ExportInvalid, ExportNotFound
from annotation.export_schema import Shape
from annotation.exports import ExportSpec, export_run
from annotation.models import DatasetExport
from core.oncommit import enqueue_on_commit, task_by_name

logger = logging.getLogger(__name__)
EXPORT_TASK = "annotation.tasks.export_job_task"
# Progress is written to the row at most this often (votes read), so a million-row export costs a few hundred UPDATEs.
PROGRESS_EVERY = 20_000


def spec_to_json(spec: ExportSpec) -> dict[str, Any]:
    body = asdict(spec)
    for name in ("since", "until"):
        body[name] = body[name].isoformat() if body[name] else None
    body["embargo_days"] = spec.embargo.total_seconds() / 86400 if spec.embargo is not None else None
    body.pop("embargo")
    body["shape"] = spec.shape.value
    return {key: list(value) if isinstance(value, tuple) else value for key, value in body.items()}


def spec_from_json(body: dict[str, Any]) -> ExportSpec:
    def moment(value: str | None) -> datetime | None:
        return parse_datetime(value) if value else None

    return ExportSpec(
        sources=tuple(body["sources"]), shape=Shape(body["shape"]), formats=tuple(body["formats"]),
        since=moment(body.get("since")), until=moment(body.get("until")), axes=tuple(body["axes"]),
        include_flagged=body["include_flagged"], min_votes=body["min_votes"],
        include_feedback=body["include_feedback"],
        embargo=timedelta(days=body["embargo_days"]) if body.get("embargo_days") is not None else None,
        bundle=body["bundle"], license=body["license"], title=body["title"],
    )


def export_folder(export: DatasetExport) -> Path:
    return Path(settings.EARSHOT_EXPORT_ROOT) / str(export.public_id)


def export_queue(*, spec: ExportSpec, by: Any = None, kind: str = DatasetExport.Kind.EXPORT) -> DatasetExport:
    """Validate the spec (ExportInvalid / UnknownScope name the problem), record the job, queue it on commit."""
    spec = spec.validated()
    with transaction.atomic():
        export = DatasetExport.objects.create(spec=spec_to_json(spec), kind=kind,
                                              created_by=by if getattr(by, "pk", None) else None)
        enqueue_on_commit(task_by_name(EXPORT_TASK).clone(args=(str(export.public_id),)))
    return export


def export_get(*, public_id: UUID | str) -> DatasetExport:
    export = DatasetExport.objects.filter(public_id=public_id).first()
    if export is None:
        raise ExportNotFound()
    return export


def export_job_run(*, public_id: UUID | str, destination: Path | None = None) -> DatasetExport:
    """Run a queued export (the worker's task). A job already running, done or failed is left as it is (a
    redelivered message does nothing twice); a failure is recorded with its reason and leaves no folder."""
    claimed = DatasetExport.objects.filter(public_id=public_id, status=DatasetExport.Status.QUEUED).update(
        status=DatasetExport.Status.RUNNING, started_at=timezone.now())
    export = export_get(public_id=public_id)
    if not claimed:
        return export
    target = destination or export_folder(export)
    last = [0]

    def progress(done: int, total: int) -> None:
        if done - last[0] >= PROGRESS_EVERY or done == total:
            last[0] = done
            DatasetExport.objects.filter(pk=export.pk).update(rows_done=done, rows_total=total)

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        result = export_run(spec=spec_from_json(export.spec), destination=target, progress=progress)
    except (ExportFailed, ExportInvalid) as exc:
        DatasetExport.objects.filter(pk=export.pk).update(status=DatasetExport.Status.FAILED, reason=exc.message,
                                                          finished_at=timezone.now())
        logger.warning("export %s failed: %s", export.public_id, exc.message)
    except Exception as exc:  # noqa: BLE001 - anything else is recorded too, never a job left "running"
        DatasetExport.objects.filter(pk=export.pk).update(status=DatasetExport.Status.FAILED, reason=str(exc),
                                                          finished_at=timezone.now())
        logger.exception("export %s failed", export.public_id)
    else:
        boards = {source: {key: board[key] for key in ("digest", "seed", "live_snapshot", "vote_count")}
                  for source, board in result.boards.items()}
        files = [*result.files, *([result.bundle.name] if result.bundle else [])]
        DatasetExport.objects.filter(pk=export.pk).update(
            status=DatasetExport.Status.DONE, rows_done=result.votes, rows_total=result.votes,
            rows_written=result.rows, files=files, boards=json.loads(json.dumps(boards)),
            bundle_sha256=result.bundle_sha256, finished_at=timezone.now())
    export.refresh_from_db()
    return export


def export_file_path(*, export: DatasetExport, name: str) -> Path:
    """The path of one of a finished export's files, or ExportNotFound (names come from the job's own list only)."""
    if export.status != DatasetExport.Status.DONE or name not in export.files:
        raise ExportNotFound(f"The export has no file {name!r}.", file=name)
    folder = export_folder(export)
    return folder.with_name(folder.name + ".tar") if name.endswith(".tar") else folder / name


def release_publish(*, now: datetime | None = None) -> DatasetExport | None:
    """The rolling public release: the arena's votes older than the embargo, in every format, into
    EARSHOT_RELEASE_ROOT/<UTC date>/; nothing when no root is set or today's release exists."""
    if not settings.EARSHOT_RELEASE_ROOT:
        return None
    now = now or timezone.now()
    destination = Path(settings.EARSHOT_RELEASE_ROOT) / f"earshot-{now:%Y-%m-%d}"
    if destination.exists():
        return None
    spec = ExportSpec(embargo=timedelta(days=settings.EARSHOT_RELEASE_EMBARGO_DAYS),
                      license=settings.EARSHOT_RELEASE_LICENSE, title=f"Earshot arena release {now:%Y-%m-%d}")
    export = DatasetExport.objects.create(spec=spec_to_json(spec), kind=DatasetExport.Kind.RELEASE)
    return export_job_run(public_id=export.public_id, destination=destination)

"""`manage.py reencode_deliveries`: copies made before the constant-bitrate layout are encoded again from the
originals; the old file goes once the clip points at the new one; a second run has nothing to do."""
from __future__ import annotations

import io
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command

from arena.models import Clip
from tests.arena.arena_support import catalogue_import
from tests.arena.mp3_support import mp3_layout

pytestmark = pytest.mark.django_db


def old_layout_copy(clip: Clip) -> str:
    """Give the clip a delivery copy as ingest made them before: VBR at the source's rate, with a Xing frame."""
    samples, rate = sf.read(clip.original.path, dtype="float32")
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format="MP3")
    assert mp3_layout(buffer.getvalue()).frames[0].vbr_tag == b"Xing"
    clip.delivery.save("old-layout.mp3", ContentFile(buffer.getvalue()), save=False)
    clip.delivery_frame_bytes = 0
    clip.save(update_fields=["delivery", "delivery_frame_bytes"])
    return clip.delivery.name


def test_it_reencodes_only_the_old_copies_and_deletes_their_old_files(
    tmp_path: Path, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    catalogue = catalogue_import(tmp_path, systems=3, prompts=1, seconds=1.5)
    old, current = catalogue.clips[:2], catalogue.clips[2]
    old_names = [old_layout_copy(clip) for clip in old]
    current_name = current.delivery.name
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True) as deletions:
        call_command("reencode_deliveries", "--no-progress", stdout=out, stderr=StringIO())
    assert "re-encoded 2 delivery copies; 0 failed" in out.getvalue()
    assert len(deletions) == 2  # each old file, once its clip's switch committed
    for clip, old_name in zip(old, old_names, strict=True):
        clip.refresh_from_db()
        assert clip.delivery.name != old_name and not default_storage.exists(old_name)
        assert clip.delivery_frame_bytes == 576
        with clip.delivery.open("rb") as handle:
            layout = mp3_layout(handle.read())
        assert {(f.sample_rate, f.channels, f.bitrate_kbps, f.vbr_tag) for f in layout.frames} == {(48000, 2, 192, b"")}
        assert abs(clip.delivery_lufs - settings.EARSHOT_TARGET_LUFS) < 0.5
    current.refresh_from_db()
    assert current.delivery.name == current_name
    again = StringIO()
    call_command("reencode_deliveries", "--no-progress", stdout=again, stderr=StringIO())
    assert "re-encoded 0 delivery copies" in again.getvalue()


def test_all_reencodes_every_clip_for_example_after_a_bitrate_change(tmp_path: Path, settings: Any) -> None:
    catalogue = catalogue_import(tmp_path, systems=2, prompts=1, seconds=1.0)
    settings.EARSHOT_DELIVERY_BITRATE_KBPS = 128
    out = StringIO()
    call_command("reencode_deliveries", "--no-progress", stdout=out, stderr=StringIO())
    assert "re-encoded 2 delivery copies" in out.getvalue()  # at another bitrate, the copies are outdated
    assert {clip.delivery_frame_bytes for clip in Clip.objects.all()} == {384}
    names = {clip.delivery.name for clip in Clip.objects.all()}
    call_command("reencode_deliveries", "--all", "--no-progress", stdout=out, stderr=StringIO())
    assert out.getvalue().count("re-encoded 2 delivery copies") == 2
    assert names.isdisjoint(clip.delivery.name for clip in Clip.objects.all())
    assert len(catalogue.clips) == 2

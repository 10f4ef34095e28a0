"""`manage.py reencode_deliveries`: encode clips' delivery files again, in today's layout, with a progress bar."""
from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from arena.audio import mp3_frame_bytes
from arena.errors import ClipRefused
from arena.ingest import clip_delivery_reencode
from arena.models import Clip
from core.progress import progress_bar


class Command(BaseCommand):
    help = (
        "Encode delivery copies again from the originals: 48 kHz stereo MP3 at EARSHOT_DELIVERY_BITRATE_KBPS, "
        "constant bitrate, without the encoder's Info frame, loudness normalised to EARSHOT_TARGET_LUFS. By default "
        "only the clips whose copy is not in that layout (made before it, or at another bitrate); --all redoes "
        "every clip (e.g. after an encoder upgrade). Each clip switches to its new file in a transaction of its own."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="re-encode every clip, not only outdated copies")
        parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        clips = Clip.objects.order_by("id")
        if not options["all"]:
            clips = clips.exclude(delivery_frame_bytes=mp3_frame_bytes(settings.EARSHOT_DELIVERY_BITRATE_KBPS))
        ids = list(clips.values_list("id", flat=True))
        done, failed = 0, 0
        with progress_bar(stream=self.stderr, total=len(ids), enabled=not options["no_progress"]) as bar:
            for clip_id in ids:
                try:
                    clip_delivery_reencode(clip=Clip.objects.get(pk=clip_id))
                    done += 1
                except ClipRefused as exc:
                    failed += 1
                    bar.say(f"failed   {exc.message}")
                bar.update(1)
        self.stdout.write(f"re-encoded {done} delivery copies; {failed} failed")
        if failed:
            raise CommandError(f"{failed} clip(s) kept their old delivery copy")

"""`manage.py import_clips`: summary line, one line per refusal, non-zero exit when a line was refused."""
from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from arena.models import Clip
from tests.factories import write_tone

pytestmark = pytest.mark.django_db


def test_it_prints_a_summary_and_names_each_refused_file(tmp_path: Path) -> None:
    write_tone(tmp_path / "ok.wav")
    (tmp_path / "bad.wav").write_text("plain text")
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"system": "gamma", "prompt": "A waltz", "audio": "ok.wav"}) + "\n"
        + json.dumps({"system": "gamma", "prompt": "A waltz", "audio": "bad.wav"}) + "\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 line"):
        call_command("import_clips", str(manifest), "--create-systems", stdout=out, stderr=err)
    assert "imported 1, skipped 0 (already there), refused 1" in out.getvalue()
    assert "bad.wav" in err.getvalue() and "not a recognised audio file" in err.getvalue()
    assert Clip.objects.count() == 1


def test_it_reports_a_missing_manifest_clearly(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="no such manifest"):
        call_command("import_clips", str(tmp_path / "none.jsonl"))

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


def test_a_non_integer_prompt_id_refuses_its_line_and_the_run_goes_on(tmp_path: Path) -> None:
    write_tone(tmp_path / "a.wav", seed=1)
    write_tone(tmp_path / "b.wav", seed=2)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        json.dumps({"system": "gamma", "prompt_id": "abc", "audio": "a.wav"}) + "\n"
        + json.dumps({"system": "gamma", "prompt": "A waltz", "audio": "b.wav"}) + "\n"
    )
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError, match="1 line"):
        call_command("import_clips", str(manifest), "--create-systems", "--no-progress", stdout=out, stderr=err)
    assert "imported 1, skipped 0 (already there), refused 1" in out.getvalue()
    assert 'refused  line 1: a.wav: prompt_id must be a positive integer id, not "abc"' in err.getvalue()
    assert Clip.objects.count() == 1

"""The catalogue's admin pages: a prompt's reference audio is checked on the form and a worker stores it as a
re-encoded copy."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import soundfile as sf
from django.test import Client

from arena import audio_processing
from arena.models import Prompt
from tests.factories import write_tone

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_celery() -> Iterator[None]:
    """Celery as the embedded demo runs it: the worker's task in the process that queues it."""
    from config.celery import app

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = saved


def prompt_add(client: Client, path: Path) -> object:
    with path.open("rb") as handle:
        return client.post("/admin/arena/prompt/add/", {
            "text": "A harp at dawn", "lyrics": "", "reference_audio": handle, "tags": "[]", "language": "en",
            "source": "",
        })


@pytest.mark.usefixtures("eager_celery")
def test_an_uploaded_reference_is_stored_as_its_re_encoded_delivery_copy(  # type: ignore[no-untyped-def]
    admin_client, tmp_path: Path, media_root: Path, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):  # the worker's encode runs once the prompt is committed
        response = prompt_add(
            admin_client, write_tone(tmp_path / "harp-take-3.flac", seconds=1.5, fmt="FLAC", level=0.05)
        )
    assert response.status_code == 302, response.content[:500]  # type: ignore[attr-defined]
    stored = Prompt.objects.get().reference_audio
    assert stored.name.startswith("references/") and stored.name.endswith(".mp3")
    assert "harp" not in stored.name
    with stored.open("rb") as handle:
        samples, rate = sf.read(handle, always_2d=True)
    assert audio_processing.integrated_loudness(samples, rate) == pytest.approx(-16.0, abs=1.0)
    assert [p.name for p in media_root.rglob("*") if p.is_file()] == [Path(stored.name).name]


@pytest.mark.parametrize(("name", "content", "words"), [
    ("page.html", b"<html><script>alert(document.cookie)</script></html>", "not a recognised audio file"),
    ("song.wav", b"RIFF\x00\x00\x00\x00WAVEfmt ", "not a recognised audio file"),
])
def test_a_reference_that_is_not_audio_is_refused_on_the_form(  # type: ignore[no-untyped-def]
    admin_client, tmp_path: Path, media_root: Path, name: str, content: bytes, words: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    response = prompt_add(admin_client, path)
    assert response.status_code == 200  # type: ignore[attr-defined]
    assert words in response.content.decode()  # type: ignore[attr-defined]
    assert not Prompt.objects.exists()
    assert [p for p in media_root.rglob("*") if p.is_file()] == []


def test_a_reference_past_the_decode_limit_is_refused_on_the_form(  # type: ignore[no-untyped-def]
    admin_client, tmp_path: Path, settings
) -> None:
    settings.EARSHOT_MAX_DECODED_BYTES = 1024 * 1024
    response = prompt_add(admin_client, write_tone(tmp_path / "long.wav", seconds=4.0))
    assert response.status_code == 200 and "EARSHOT_MAX_DECODED_BYTES" in response.content.decode()  # type: ignore[attr-defined]
    assert not Prompt.objects.exists()

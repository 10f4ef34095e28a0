"""Audio delivery: each battle's own copy of a clip with HTTP Range, the right type, private caching, nothing
identifying; the hand-off to a front server writes that copy to a file of its own, pruned once its battle ended."""
from __future__ import annotations

import io
import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
import soundfile as sf
from django.core.files.base import ContentFile
from django.utils import timezone
from rest_framework.test import APIClient

from arena.delivery import RangeNotSatisfiable, battle_copies_prune, byte_range
from arena.models import Battle
from tests.arena.arena_support import arena_isolated, catalogue_import  # noqa: F401 - autouse fixture
from tests.arena.mp3_support import mp3_layout
from tests.factories import ClipFactory, write_tone

pytestmark = pytest.mark.django_db


@pytest.fixture
def started(tmp_path: Path) -> tuple[APIClient, Battle, bytes]:
    """A rater's client, their battle of two real imported clips, and the bytes of clip A as this battle has it."""
    catalogue_import(tmp_path, systems=2, prompts=1, seconds=2.0)
    client = APIClient()
    body = client.post("/api/battles/").json()
    battle = Battle.objects.select_related("clip_a", "clip_b").get(public_id=body["id"])
    return client, battle, client.get(audio_url(battle)).content


def audio_url(battle: Battle, side: str = "a") -> str:
    return f"/api/battles/{battle.public_id}/audio/{side}"


def stored(battle: Battle, side: str) -> bytes:
    with (battle.clip_a if side == "a" else battle.clip_b).delivery.open("rb") as handle:
        return handle.read()


def unmarked(data: bytes) -> bytes:
    """The frames of a battle's copy without its tag and with every private bit cleared."""
    layout = mp3_layout(data)
    frames = bytearray(data[layout.id3_bytes :])
    for frame in layout.frames:
        frames[frame.offset - layout.id3_bytes + 2] &= 0xFE
    return bytes(frames)


def test_it_serves_the_whole_clip_as_mp3_that_decodes(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    response = client.get(audio_url(battle), HTTP_ACCEPT="audio/webm,audio/ogg,audio/*;q=0.9")
    assert response.status_code == 200
    assert response.content == data  # the same battle reads the same bytes every time
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Content-Length"] == str(len(data))
    assert response["Accept-Ranges"] == "bytes"
    assert response["Cache-Control"].startswith("private, max-age=")
    for header in ("Content-Disposition", "ETag", "Last-Modified", "Content-Range"):
        assert header not in response
    samples, rate = sf.read(io.BytesIO(response.content), always_2d=True)
    # 48 kHz stereo from a 44.1 kHz source; the encoder's delay (no Info frame to trim it) adds under 50 ms
    assert rate == 48000 and samples.shape[1] == 2 and 2.0 <= len(samples) / rate < 2.05


def test_the_battles_copy_is_the_stored_stream_behind_a_padding_tag_with_private_bits_of_its_own(started) -> None:  # type: ignore[no-untyped-def]
    _, battle, data = started
    layout = mp3_layout(data)
    assert data[:3] == b"ID3" and layout.id3_body == bytes(len(layout.id3_body))  # padding, naming nothing
    assert unmarked(data) == stored(battle, "a")
    marked = [frame.private for frame in layout.frames]
    assert 0 < sum(marked) < len(marked)
    assert not any(frame.private for frame in mp3_layout(stored(battle, "a")).frames)


def test_side_b_is_the_other_clip(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    response = client.get(audio_url(battle, "b"))
    assert unmarked(response.content) == stored(battle, "b") != unmarked(data)


def test_a_copy_made_before_the_constant_bitrate_layout_is_served_as_stored(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    legacy = ClipFactory(prompt=battle.prompt)
    assert legacy.delivery_frame_bytes == 0
    Battle.objects.filter(pk=battle.pk).update(clip_a=legacy)
    with legacy.delivery.open("rb") as handle:
        assert client.get(audio_url(battle)).content == handle.read()


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [("bytes=0-99", 0, 99), ("bytes=100-", 100, None), ("bytes=-500", -500, None), ("bytes=10-20, 30-40", 10, 40)],
)
def test_it_answers_a_range_with_206_partial_content(started, header: str, first: int, last: int | None) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    size = len(data)
    start = first if first >= 0 else size + first
    end = size - 1 if last is None else last
    response = client.get(audio_url(battle), HTTP_RANGE=header)
    assert response.status_code == 206
    assert response.content == data[start : end + 1]
    assert response["Content-Range"] == f"bytes {start}-{end}/{size}"
    assert response["Content-Length"] == str(end - start + 1)
    assert response["Content-Type"] == "audio/mpeg"


def test_a_range_running_past_the_end_is_cut_at_the_end(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    response = client.get(audio_url(battle), HTTP_RANGE=f"bytes=10-{len(data) * 2}")
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 10-{len(data) - 1}/{len(data)}"


@pytest.mark.parametrize("header", ["bytes={size}-", "bytes={size}-{more}", "bytes=50-10", "bytes=abc", "bytes=-0"])
def test_it_answers_416_for_a_range_it_cannot_satisfy(started, header: str) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    size = len(data)
    response = client.get(audio_url(battle), HTTP_RANGE=header.format(size=size, more=size + 10))
    assert response.status_code == 416
    assert response["Content-Range"] == f"bytes */{size}"
    assert response.json()["code"] == "range_not_satisfiable"


def test_other_units_and_if_range_get_the_whole_file(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    assert client.get(audio_url(battle), HTTP_RANGE="items=0-1").status_code == 200
    whole = client.get(audio_url(battle), HTTP_RANGE="bytes=0-1", HTTP_IF_RANGE='"something"')
    assert whole.status_code == 200 and whole.content == data


def test_only_the_battles_rater_may_fetch_its_audio(started) -> None:  # type: ignore[no-untyped-def]
    _, battle, _ = started
    stranger = APIClient()
    stranger.post("/api/battles/")
    for client in (stranger, APIClient()):
        response = client.get(audio_url(battle))
        assert response.status_code == 404
        assert response.json()["code"] == "battle_not_found"
        assert response["Content-Type"] == "application/json"


def test_an_unknown_side_is_not_found(started) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    assert client.get(audio_url(battle, "c")).status_code == 404
    assert client.get(audio_url(battle, "reference")).status_code == 404  # the prompt has none


def test_it_serves_the_prompts_reference_audio_in_its_own_format(started, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    reference = write_tone(tmp_path / "reference.flac", seconds=1.0, seed=42)
    battle.prompt.reference_audio.save("reference-7f3a.flac", ContentFile(reference.read_bytes()))
    body = client.get(f"/api/battles/{battle.public_id}/").json()
    assert body["prompt"]["reference_audio_url"].endswith(audio_url(battle, "reference"))
    response = client.get(audio_url(battle, "reference"), HTTP_RANGE="bytes=0-3")
    assert response.status_code == 206
    assert response.content == b"fLaC"
    assert response["Content-Type"] == "audio/flac"


def test_it_hands_nginx_the_battles_own_copy_written_on_the_first_request(started, settings, media_root) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    settings.EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    response = client.get(audio_url(battle), HTTP_RANGE="bytes=0-99")
    assert response.status_code == 200
    assert response.content == b""
    handed = response["X-Accel-Redirect"]
    assert re.fullmatch(r"/protected-media/battles/[0-9a-f]{32}\.mp3", handed)
    assert (media_root / handed.removeprefix("/protected-media/")).read_bytes() == data
    assert response["Content-Type"] == "audio/mpeg"
    assert response["Cache-Control"].startswith("private")
    other = client.get(audio_url(battle, "b"))["X-Accel-Redirect"]
    assert other != handed and client.get(audio_url(battle))["X-Accel-Redirect"] == handed


def test_it_hands_the_battles_copy_to_the_server_with_x_sendfile_when_asked(started, settings) -> None:  # type: ignore[no-untyped-def]
    client, battle, data = started
    settings.EARSHOT_AUDIO_X_SENDFILE = True
    response = client.get(audio_url(battle))
    path = Path(response["X-Sendfile"])
    assert path.read_bytes() == data
    assert path.name != Path(battle.clip_a.delivery.name).name


def test_pruning_deletes_the_copies_of_battles_that_have_ended_and_keeps_the_others(started, settings) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    settings.EARSHOT_AUDIO_X_SENDFILE = True
    old = Path(client.get(audio_url(battle, "a"))["X-Sendfile"])
    recent = Path(client.get(audio_url(battle, "b"))["X-Sendfile"])
    now = timezone.now()
    written_before_any_open_battle = (now - timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS + 1)).timestamp()
    os.utime(old, (written_before_any_open_battle, written_before_any_open_battle))
    assert battle_copies_prune(now=now) == 1
    assert not old.exists() and recent.exists()
    assert Path(client.get(audio_url(battle, "a"))["X-Sendfile"]) == old and old.exists()  # asked again: written again


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [(None, 10, None), ("bytes=0-0", 10, (0, 0)), ("bytes=-3", 10, (7, 9)), ("bytes=-30", 10, (0, 9)),
     ("bytes=2-4,8-", 10, (2, 9)), ("bytes=0-,20-30", 10, (0, 9))],
)
def test_byte_range_reads_what_rfc_9110_allows(header: str | None, size: int, expected: tuple[int, int] | None) -> None:
    assert byte_range(header, size) == expected


@pytest.mark.parametrize("header", ["bytes=", "bytes=-", "bytes=1-2-3", "bytes=20-30"])
def test_byte_range_refuses_what_it_cannot_satisfy(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        byte_range(header, 10)


def test_every_audio_response_carries_a_sandbox_policy(started, settings) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    answers = [client.get(audio_url(battle, side)) for side in ("a", "b")]
    answers.append(client.get(audio_url(battle), HTTP_RANGE="bytes=0-9"))
    answers.append(client.get(audio_url(battle), HTTP_RANGE="bytes=999999999-"))
    settings.EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX = "/protected-media/"
    answers.append(client.get(audio_url(battle)))
    assert [answer.status_code for answer in answers] == [200, 200, 206, 416, 200]
    assert all(answer["Content-Security-Policy"] == "sandbox" for answer in answers)


@pytest.mark.parametrize("name", ["page.html", "image.svg", "notes.txt", "no-suffix"])
def test_a_stored_reference_that_is_not_audio_is_never_served(started, name: str) -> None:  # type: ignore[no-untyped-def]
    client, battle, _ = started
    # A reference stored before uploads were checked (an admin set an .html file, served as text/html).
    battle.prompt.reference_audio.save(name, ContentFile(b"<script>alert(document.cookie)</script>"))
    response = client.get(audio_url(battle, "reference"))
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "audio_not_found"
    assert response["Content-Security-Policy"] == "sandbox"

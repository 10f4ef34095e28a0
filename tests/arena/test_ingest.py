"""clip_import and the manifest import: real files of every format, every refusal, no leftovers, idempotence."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from arena import audio, audio_processing
from arena.errors import ClipRefused
from arena.ingest import clip_import, manifest_import
from arena.models import Clip, Prompt
from tests.factories import PromptFactory, SystemFactory, write_tone

pytestmark = pytest.mark.django_db


def stored_files(media_root: Path) -> list[Path]:
    return [p for p in media_root.rglob("*") if p.is_file()]


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "OGG", "MP3"])
def test_it_imports_every_common_format(tmp_path: Path, media_root: Path, fmt: str) -> None:
    path = write_tone(tmp_path / f"clip.{fmt.lower()}", seconds=3.0, fmt=fmt)
    clip, created = clip_import(system=SystemFactory(), prompt=PromptFactory(), path=path)
    assert created
    assert clip.duration_s == pytest.approx(3.0, abs=0.1)
    assert clip.sample_rate == 44100 and clip.channels == 2
    assert len(clip.sha256) == 64
    assert clip.delivery.name.endswith(".mp3")
    assert "clip" not in Path(clip.delivery.name).name and "clip" not in Path(clip.original.name).name
    assert len(stored_files(media_root)) == 2


def test_the_delivery_copy_is_within_half_a_lu_of_the_target(tmp_path: Path, settings) -> None:
    settings.EARSHOT_TARGET_LUFS = -18.0
    quiet = write_tone(tmp_path / "quiet.wav", seconds=4.0, level=0.02, seed=1)
    loud = write_tone(tmp_path / "loud.wav", seconds=4.0, level=0.9, seed=2)
    for path in (quiet, loud):
        clip, _ = clip_import(system=SystemFactory(), prompt=PromptFactory(), path=path)
        with clip.delivery.open("rb") as handle:
            samples, rate = sf.read(handle, dtype="float32", always_2d=True)
        measured = audio_processing.integrated_loudness(samples, rate)
        assert abs(measured - -18.0) < 0.5, (path.name, measured)
        assert abs(clip.delivery_lufs - -18.0) < 0.5
        assert np.max(np.abs(samples)) <= 1.0
    assert clip.loudness_lufs > -10  # the loud original really was loud


def test_the_delivery_copy_carries_no_metadata_tag(tmp_path: Path) -> None:
    path = tmp_path / "tagged.wav"
    t = np.arange(2 * 44100) / 44100
    with sf.SoundFile(str(path), "w", samplerate=44100, channels=1, format="WAV") as handle:
        handle.title = "SecretSystemName v2"
        handle.artist = "Secret Lab"
        handle.write((0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32))
    assert b"SecretSystemName" in path.read_bytes()
    clip, _ = clip_import(system=SystemFactory(), prompt=PromptFactory(), path=path)
    data = clip.delivery.read()
    assert b"SecretSystemName" not in data and b"Secret Lab" not in data
    assert not data.startswith(b"ID3")
    assert sf.info(clip.delivery.path).extra_info.find("Secret") == -1


def refusal(tmp_path: Path, path: Path) -> ClipRefused:
    with pytest.raises(ClipRefused) as caught:
        clip_import(system=SystemFactory(), prompt=PromptFactory(), path=path)
    return caught.value


def test_it_refuses_a_renamed_text_file(tmp_path: Path, media_root: Path) -> None:
    path = tmp_path / "song.wav"
    path.write_text("this is not audio at all\n" * 50)
    error = refusal(tmp_path, path)
    assert error.reason == "not_audio" and "song.wav" in error.message
    assert Clip.objects.count() == 0 and stored_files(media_root) == []


def test_it_refuses_a_corrupt_file(tmp_path: Path, media_root: Path) -> None:
    path = tmp_path / "corrupt.wav"
    path.write_bytes(b"RIFF" + bytes(range(256)) * 20)
    assert refusal(tmp_path, path).reason == "not_audio"
    assert Clip.objects.count() == 0 and stored_files(media_root) == []


@pytest.mark.parametrize("fmt", ["WAV", "FLAC", "MP3", "OGG"])
def test_it_refuses_a_truncated_file(tmp_path: Path, media_root: Path, fmt: str) -> None:
    whole = write_tone(tmp_path / f"whole.{fmt.lower()}", seconds=3.0, fmt=fmt)
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    assert refusal(tmp_path, cut).reason in {"truncated", "undecodable"}
    assert Clip.objects.count() == 0 and stored_files(media_root) == []


def test_it_refuses_a_silent_file(tmp_path: Path, media_root: Path) -> None:
    path = tmp_path / "silence.wav"
    sf.write(str(path), np.zeros((44100, 2), dtype=np.float32), 44100)
    assert refusal(tmp_path, path).reason == "silent"
    assert stored_files(media_root) == []


def test_it_refuses_a_clip_longer_than_the_limit(tmp_path: Path, settings) -> None:
    settings.EARSHOT_MAX_CLIP_SECONDS = 2.0
    path = write_tone(tmp_path / "long.wav", seconds=3.0)
    error = refusal(tmp_path, path)
    assert error.reason == "too_long" and "limit of 2 s" in error.message


def test_it_refuses_a_file_larger_than_the_limit(tmp_path: Path, settings, media_root: Path) -> None:
    settings.EARSHOT_MAX_UPLOAD_BYTES = 10_000
    path = write_tone(tmp_path / "big.wav", seconds=1.0)
    error = refusal(tmp_path, path)
    assert error.reason == "too_large" and "10000 bytes" in error.message
    assert stored_files(media_root) == []


def test_it_refuses_the_same_audio_for_another_system(tmp_path: Path) -> None:
    path = write_tone(tmp_path / "a.wav")
    prompt = PromptFactory()
    first, _ = clip_import(system=SystemFactory(), prompt=prompt, path=path)
    error = refusal(tmp_path, path)
    assert error.reason == "duplicate" and first.public_id in error.message
    assert Clip.objects.count() == 1


def write_manifest(folder: Path, lines: list[object]) -> Path:
    manifest = folder / "manifest.jsonl"
    manifest.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return manifest


def test_a_manifest_imports_good_lines_and_refuses_bad_ones_with_a_reason(tmp_path: Path, media_root: Path) -> None:
    SystemFactory(slug="alpha", name="Alpha")
    write_tone(tmp_path / "good.wav", seed=1)
    write_tone(tmp_path / "good2.flac", fmt="FLAC", seed=2)
    (tmp_path / "text.mp3").write_text("not audio")
    (tmp_path.parent / "outside.wav").write_bytes((tmp_path / "good.wav").read_bytes())
    manifest = write_manifest(tmp_path, [
        {"system": "alpha", "prompt": "A calm piano piece", "audio": "good.wav"},
        {"system": "alpha", "prompt": "A sad song", "lyrics": "la la", "audio": "good2.flac"},
        {"system": "alpha", "prompt": "A calm piano piece", "audio": "text.mp3"},
        {"system": "alpha", "prompt": "Escape", "audio": "../outside.wav"},
        {"system": "ghost", "prompt": "A calm piano piece", "audio": "good.wav"},
        {"system": "alpha", "prompt": "Missing", "audio": "nope.wav"},
        "{not json",
    ])
    summary = manifest_import(manifest=manifest)
    assert (summary.imported, summary.skipped, summary.refused) == (2, 0, 5)
    messages = [o.message for o in summary.outcomes if o.status == "refused"]
    assert "not a recognised audio file" in messages[0]
    assert "leaves the manifest's folder" in messages[1]
    assert "'ghost' is not registered" in messages[2]
    assert "no such file" in messages[3]
    assert "not valid JSON" in messages[4]
    assert Clip.objects.count() == 2
    assert Prompt.objects.filter(text__in=["Escape", "Missing"]).count() == 0
    assert Prompt.objects.get(text="A sad song").lyrics == "la la"
    assert len(stored_files(media_root)) == 4


def test_running_the_same_manifest_twice_adds_nothing(tmp_path: Path, media_root: Path) -> None:
    write_tone(tmp_path / "one.wav", seed=1)
    write_tone(tmp_path / "two.ogg", fmt="OGG", seed=2)
    write_tone(tmp_path / "ref.wav", seed=3)
    manifest = write_manifest(tmp_path, [
        {"system": "beta", "prompt": "Energetic synth", "audio": "one.wav", "reference_audio": "ref.wav"},
        {"system": "beta", "prompt": "Energetic synth", "audio": "two.ogg", "reference_audio": "ref.wav"},
    ])
    first = manifest_import(manifest=manifest, create_systems=True)
    files_after_first = sorted(stored_files(media_root))
    second = manifest_import(manifest=manifest, create_systems=True)
    assert (first.imported, second.imported, second.skipped) == (2, 0, 2)
    assert Clip.objects.count() == 2 and Prompt.objects.count() == 1
    assert sorted(stored_files(media_root)) == files_after_first
    assert Prompt.objects.get().reference_audio.name.startswith("references/")


def test_it_refuses_a_source_that_would_decode_past_the_limit_before_decoding(  # type: ignore[no-untyped-def]
    tmp_path: Path, settings, media_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Like the probe's file (192 kHz, 8 channels, 30 s), at a size a test can write: small compressed, large decoded.
    path = write_tone(tmp_path / "wide.flac", seconds=3.0, sample_rate=192000, channels=4, fmt="FLAC")
    decoded_bytes = 3 * 192000 * 4 * 4
    settings.EARSHOT_MAX_DECODED_BYTES = decoded_bytes - 1

    def decoded_anyway(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was decoded")

    monkeypatch.setattr(audio.sf, "read", decoded_anyway)
    error = refusal(tmp_path, path)
    assert error.reason == "too_large"
    assert "3.0 s at 192000 Hz in 4 channels decodes to 9.2 MB" in error.message
    assert "EARSHOT_MAX_DECODED_BYTES" in error.message
    assert stored_files(media_root) == []
    monkeypatch.undo()
    settings.EARSHOT_MAX_DECODED_BYTES = decoded_bytes
    clip, created = clip_import(system=SystemFactory(), prompt=PromptFactory(), path=path)
    assert created and clip.channels == 4


def test_the_default_decode_limit_holds_the_longest_stereo_clip(settings) -> None:
    assert settings.EARSHOT_MAX_DECODED_BYTES == settings.EARSHOT_MAX_CLIP_SECONDS * 48000 * 2 * 4


@pytest.mark.parametrize(("rate", "channels", "words"), [
    (768000, 1, "768000 Hz is above"), (192000, 8, "8 channels are more than the limit of 5"),
])
def test_it_refuses_absurd_rates_and_channel_counts(  # type: ignore[no-untyped-def]
    tmp_path: Path, rate: int, channels: int, words: str
) -> None:
    path = write_tone(tmp_path / "odd.wav", seconds=0.5, sample_rate=rate, channels=channels)
    error = refusal(tmp_path, path)
    assert error.reason == "unsupported" and words in error.message


def test_a_manifests_reference_audio_is_checked_and_stored_re_encoded(tmp_path: Path, media_root: Path) -> None:
    write_tone(tmp_path / "one.wav", seed=1)
    write_tone(tmp_path / "two.wav", seed=2)
    write_tone(tmp_path / "ref.wav", seed=3, level=0.05)
    (tmp_path / "page.html").write_text("<script>alert(document.cookie)</script>")
    manifest = write_manifest(tmp_path, [
        {"system": "beta", "prompt": "Quiet harp", "audio": "one.wav", "reference_audio": "page.html"},
        {"system": "beta", "prompt": "Loud harp", "audio": "two.wav", "reference_audio": "ref.wav"},
    ])
    summary = manifest_import(manifest=manifest, create_systems=True)
    assert (summary.imported, summary.refused) == (1, 1)
    assert summary.outcomes[0].message.startswith("reference audio page.html: not a recognised audio file")
    prompt = Prompt.objects.get()
    assert prompt.text == "Loud harp"
    name = prompt.reference_audio.name
    assert name.startswith("references/") and name.endswith(".mp3") and "ref" not in Path(name).name
    with prompt.reference_audio.open("rb") as handle:
        samples, rate = sf.read(handle, always_2d=True)
    assert audio_processing.integrated_loudness(samples, rate) == pytest.approx(-16.0, abs=1.0)
    assert len(stored_files(media_root)) == 3  # the clip's original and delivery copy, the reference's copy


def test_a_bad_prompt_id_refuses_its_line_and_the_rest_imports(tmp_path: Path, media_root: Path) -> None:
    prompt = PromptFactory()
    for seed in range(6):
        write_tone(tmp_path / f"t{seed}.wav", seed=seed)
    manifest = write_manifest(tmp_path, [
        {"system": "beta", "prompt_id": "seven", "audio": "t0.wav"},
        {"system": "beta", "prompt_id": 10**30, "audio": "t1.wav"},
        {"system": "beta", "prompt_id": True, "audio": "t2.wav"},
        {"system": "beta", "prompt_id": 1.5, "audio": "t3.wav"},
        {"system": "beta", "prompt": "A waltz\u0000", "audio": "t4.wav"},
        {"system": "beta", "prompt_id": str(prompt.pk), "audio": "t5.wav"},
    ])
    summary = manifest_import(manifest=manifest, create_systems=True)
    assert [outcome.status for outcome in summary.outcomes] == ["refused"] * 5 + ["imported"]
    assert summary.outcomes[0].message == 'prompt_id must be a positive integer id, not "seven"'
    assert Clip.objects.get().prompt == prompt
    assert len(stored_files(media_root)) == 2

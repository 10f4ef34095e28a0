"""factory_boy factories for rows a test does not care about, and a writer of real audio files."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import factory
import numpy as np
import soundfile as sf
from django.core.files.base import ContentFile
from django.utils import timezone

from arena.models import Battle, Clip, Prompt, Rater, System


def write_tone(
    path: Path,
    *,
    seconds: float = 2.0,
    sample_rate: int = 44100,
    channels: int = 2,
    frequency: float = 440.0,
    level: float = 0.3,
    fmt: str | None = None,
    seed: int = 0,
) -> Path:
    """A real audio file: a tone with harmonics and a little noise, so every seed gives distinct bytes."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    mono = sum(np.sin(2 * np.pi * frequency * k * t) / k for k in (1, 2, 3)) * level / 1.8
    mono = mono + rng.normal(0, level * 0.01, size=t.shape)
    data = np.stack([mono] * channels, axis=1).astype(np.float32)
    sf.write(str(path), data, sample_rate, format=fmt)
    return path


class SystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = System

    name = factory.Sequence(lambda n: f"System {n}")
    slug = factory.Sequence(lambda n: f"system-{n}")
    organisation = "Test Lab"


class PromptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Prompt

    text = factory.Sequence(lambda n: f"A calm piano piece number {n} in A minor at 72 BPM")


class ClipFactory(factory.django.DjangoModelFactory):
    """A clip row with a tiny real delivery file; use arena.ingest.clip_import when the ingest matters."""

    class Meta:
        model = Clip

    system = factory.SubFactory(SystemFactory)
    prompt = factory.SubFactory(PromptFactory)
    original = factory.LazyFunction(lambda: ContentFile(b"RIFF", name="o.wav"))
    delivery = factory.LazyAttribute(lambda o: ContentFile(_tiny_mp3(), name="d.mp3"))
    duration_s = 1.0
    sample_rate = 44100
    channels = 1
    sha256 = factory.Sequence(lambda n: f"{n:064x}")
    loudness_lufs = -16.0
    delivery_lufs = -16.0


_TINY_MP3: bytes | None = None


def _tiny_mp3() -> bytes:
    global _TINY_MP3
    if _TINY_MP3 is None:
        import io

        t = np.arange(44100) / 44100
        buffer = io.BytesIO()
        sf.write(buffer, (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 44100, format="MP3")
        _TINY_MP3 = buffer.getvalue()
    return _TINY_MP3


class RaterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Rater


class BattleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Battle

    rater = factory.SubFactory(RaterFactory)
    prompt = factory.SubFactory(PromptFactory)
    clip_a = factory.SubFactory(ClipFactory, prompt=factory.SelfAttribute("..prompt"))
    clip_b = factory.SubFactory(ClipFactory, prompt=factory.SelfAttribute("..prompt"))
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))

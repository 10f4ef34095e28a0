"""Gold items' damaged copies: a clean clip made obviously worse (muffled, buried in hiss, clipped, cut up), imported
through the arena's own ingest so its delivery file is made exactly like every other clip's, and kept inactive.

It decodes and encodes audio (torch, torchaudio): only Celery workers and management commands import it.
"""
from __future__ import annotations

import hashlib
import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF
from django.conf import settings
from django.db import transaction

from arena import audio
from arena.errors import ClipRefused
from arena.ingest import clip_import
from arena.models import Clip

LOWPASS_HZ = 1000.0
LOWPASS_STAGES = 2
NOISE_SNR_DB = 0.0
CLIP_AT = 0.25  # of the peak after the noise
DROPOUT_EVERY_S = 0.5
DROPOUT_S = 0.12
DAMAGE = (
    f"low-pass at {LOWPASS_HZ:g} Hz ({LOWPASS_STAGES} biquads), white noise at {NOISE_SNR_DB:g} dB SNR, "
    f"hard clipping at {CLIP_AT:g} of the peak, {DROPOUT_S * 1000:g} ms drop-outs every {DROPOUT_EVERY_S:g} s"
)


def damage_samples(samples: np.ndarray, sample_rate: int, *, seed: int) -> np.ndarray:
    """The damaged version of (frames, channels) float audio: same shape, same duration; the same seed gives the
    same samples, so the same clean clip always gives the same damaged file (and the ingest finds it again)."""
    waveform = torch.from_numpy(np.ascontiguousarray(samples.T, dtype=np.float32))
    cutoff = min(LOWPASS_HZ, 0.45 * sample_rate)
    for _ in range(LOWPASS_STAGES):
        waveform = AF.lowpass_biquad(waveform, sample_rate, cutoff)
    muffled = waveform.numpy().T.astype(np.float64)
    signal_rms = float(np.sqrt(np.mean(muffled**2))) or 1e-3
    noise_rms = signal_rms / (10 ** (NOISE_SNR_DB / 20))
    rng = np.random.default_rng(seed)
    noisy = muffled + rng.normal(0.0, noise_rms, size=muffled.shape)
    ceiling = CLIP_AT * float(np.max(np.abs(noisy)))
    damaged = np.clip(noisy, -ceiling, ceiling)
    period, gap = int(DROPOUT_EVERY_S * sample_rate), int(DROPOUT_S * sample_rate)
    for start in range(period // 2, damaged.shape[0], period):
        damaged[start:start + gap] = 0.0
    # Back to a sensible level (the ingest normalises loudness anyway).
    peak = float(np.max(np.abs(damaged))) or 1.0
    return (damaged * (0.5 / peak)).astype(np.float32)


def _seed(clean: Clip) -> int:
    return int.from_bytes(hashlib.sha256(f"gold:{clean.sha256}".encode()).digest()[:8], "big")


def damaged_copy_import(*, clean: Clip) -> tuple[Clip, bool]:
    """Import the damaged copy of `clean` as an inactive Clip of the same system and prompt (created=False when
    it exists already). Runs in the caller's transaction when there is one, so the copy is never committed active
    and the arena never samples it. Raises ClipRefused when the clean clip's original cannot be decoded."""
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="earshot-gold-")))
        source = folder / f"clean{Path(clean.original.name or '').suffix or '.bin'}"
        with clean.original.open("rb") as stored, source.open("wb") as target:
            shutil.copyfileobj(stored, target)
        try:
            decoded = audio.decode(source, max_seconds=settings.EARSHOT_MAX_CLIP_SECONDS,
                                   max_decoded_bytes=settings.EARSHOT_MAX_DECODED_BYTES)
        except audio.AudioProblem as exc:
            raise ClipRefused(exc.code, f"clip {clean.public_id}: {exc}") from exc
        damaged = damage_samples(decoded.samples, decoded.sample_rate, seed=_seed(clean))
        path = folder / "damaged.wav"
        sf.write(str(path), damaged, decoded.sample_rate, subtype="PCM_16")
        with transaction.atomic():
            clip, created = clip_import(
                system=clean.system, prompt=clean.prompt, path=path, original_name=f"gold-{clean.public_id}.wav"
            )
            if clip.active:
                Clip.objects.filter(pk=clip.pk).update(active=False)
                clip.active = False
    return clip, created

"""The demo synthesiser as a live generator: the prompt's words pick mood, instrument, key, mode and tempo (what
the rule router and the prompt leave open comes from the prompt's hash), a demo system profile adds its artefacts.

`DemoSynthGenerator` runs in-process (config {"options": {"profile": "aurora"}}); `manage.py serve_demo_generator`
serves the same over HTTP for arena.generation.generators.HttpJsonGenerator.
"""
from __future__ import annotations

import hashlib
import io
import re
import time
from dataclasses import replace

import numpy as np
import soundfile as sf

from arena.generation.generators import GeneratedAudio, GenerationJob, Generator, GeneratorFailed
from arena.generation.signature import GeneratorSignature
from core.errors import InvalidInput
from demo import synth

PROFILES = {profile.slug: profile for profile in synth.DEMO_SYSTEMS}
DEMO_MAX_DURATION_S = 30.0
_KEYS = {name.lower(): index for index, name in enumerate(synth.KEY_NAMES)} | {
    "db": 1, "d#": 3, "gb": 6, "g#": 8, "a#": 10,
}
_KEY = re.compile(r"\b([a-g](?:#|b)?)\s+(major|minor)\b", re.IGNORECASE)


def spec_from_prompt(text: str, *, duration_s: float, bpm: int | None, seed: int) -> synth.MusicSpec:
    """A MusicSpec for free text: named words win, the rest is drawn from the text's hash and the seed."""
    digest = hashlib.sha256(text.strip().lower().encode()).digest()
    rng = np.random.default_rng([int.from_bytes(digest[:8], "big"), seed & 0xFFFFFFFF])
    spec = synth.random_spec(rng, duration_s=duration_s)
    lowered = text.lower()
    changes: dict[str, object] = {}
    for mood in synth.MOODS:
        if mood in lowered:
            changes["mood"] = mood
    for instrument in sorted(synth.INSTRUMENTS, key=len):
        if instrument in lowered or instrument.split()[-1] in lowered.split():
            changes["instrument"] = instrument
    if (key := _KEY.search(text)) is not None and key.group(1).lower() in _KEYS:
        changes["key"] = _KEYS[key.group(1).lower()]
        changes["mode"] = key.group(2).lower()
    elif "minor" in lowered or "major" in lowered:
        changes["mode"] = "minor" if "minor" in lowered else "major"
    if bpm is not None:
        changes["tempo_bpm"] = int(min(max(bpm, synth.TEMPO_RANGE[0]), synth.TEMPO_RANGE[1]))
    if "drums" in lowered:
        changes["with_drums"] = True
    return replace(spec, **changes)  # type: ignore[arg-type]


def render_wav(*, profile_slug: str, text: str, duration_s: float, bpm: int | None, seed: int,
               sample_rate: int) -> bytes:
    """16-bit WAV bytes of the demo system's clip for this prompt and seed (the same inputs, the same bytes)."""
    profile = PROFILES[profile_slug]
    spec = spec_from_prompt(text, duration_s=duration_s, bpm=bpm, seed=seed)
    audio = synth.render_system_clip(profile, spec, sample_rate=sample_rate, seed=seed & 0x7FFFFFFF)
    buffer = io.BytesIO()
    sf.write(buffer, audio, sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


class DemoSynthGenerator(Generator):
    """The demo synthesiser in-process: instrumental only, up to 30 s. Options: profile (a demo system's slug),
    sample_rate (default 22050)."""

    signature = GeneratorSignature(text=True, lyrics=False, instrumental=True, vocal=False,
                                   max_duration_s=DEMO_MAX_DURATION_S)

    def check(self) -> None:
        profile = self.config.options.get("profile", "aurora")
        if profile not in PROFILES:
            raise InvalidInput(f"demo generator: no profile {profile!r} (known: {', '.join(PROFILES)})",
                               field="options.profile")
        rate = self.config.options.get("sample_rate", 22050)
        if isinstance(rate, bool) or not isinstance(rate, int) or not 8000 <= rate <= 48000:
            raise InvalidInput("demo generator: sample_rate must be an integer in [8000, 48000]",
                               field="options.sample_rate")

    @property
    def expected_s(self) -> float:
        return self.config.expected_s if self.config.expected_s is not None else 2.0

    def generate(self, job: GenerationJob) -> GeneratedAudio:
        started = time.monotonic()
        try:
            data = render_wav(
                profile_slug=self.config.options.get("profile", "aurora"), text=job.prompt.overall_prompt,
                duration_s=job.duration_s, bpm=job.prompt.bpm, seed=job.seed,
                sample_rate=self.config.options.get("sample_rate", 22050),
            )
        except ValueError as exc:
            raise GeneratorFailed("bad_request", f"the demo synthesiser cannot make this: {exc}",
                                  transient=False) from exc
        return GeneratedAudio(data=data, suffix=".wav", generation_ms=int((time.monotonic() - started) * 1000))

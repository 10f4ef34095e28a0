"""What a generator can make (its type signature) and what a listener asked for (the detailed prompt).

The detailed prompt has the fields of Music Arena's `prompt_detailed` (overall_prompt, instrumental, lyrics,
duration, bpm); a system is paired for a prompt only when its signature serves it.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from core.errors import InvalidInput


@dataclass(frozen=True)
class DetailedPrompt:
    overall_prompt: str
    instrumental: bool = True
    lyrics: str | None = None
    duration: float | None = None  # seconds; None: the generator's default
    bpm: int | None = None
    reference_audio: bool = False

    def as_json(self) -> dict[str, Any]:
        """As stored with the battle: Music Arena's prompt_detailed keys (reference_audio only when true)."""
        data = asdict(self)
        if not data.pop("reference_audio"):
            return data
        return {**data, "reference_audio": True}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DetailedPrompt:
        known = {field.name for field in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


@dataclass(frozen=True)
class GeneratorSignature:
    """The inputs a generator accepts and what it can make."""

    text: bool = True
    lyrics: bool = False
    reference_audio: bool = False
    instrumental: bool = True
    vocal: bool = False
    max_duration_s: float = 30.0

    @classmethod
    def from_config(cls, base: GeneratorSignature, overrides: Any) -> GeneratorSignature:
        """The class's signature with a config's "signature" object laid over it (a service declares its own)."""
        if overrides is None:
            return base
        if not isinstance(overrides, dict):
            raise InvalidInput('generator config: "signature" must be an object', field="signature")
        values = asdict(base)
        for key, value in overrides.items():
            if key not in values:
                raise InvalidInput(
                    f'generator config: "signature" has no field {key!r} (known: {", ".join(values)})',
                    field=f"signature.{key}",
                )
            expected = float if key == "max_duration_s" else bool
            if expected is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, expected) or (expected is float and not 0 < value <= 3600):
                wanted = "a duration in seconds (0-3600]" if expected is float else "true or false"
                raise InvalidInput(f'generator config: "signature.{key}" must be {wanted}', field=f"signature.{key}")
            values[key] = value
        return cls(**values)

    def refusal(self, prompt: DetailedPrompt) -> str | None:
        """Why this generator cannot serve the prompt, or None when it can."""
        if prompt.lyrics and not self.lyrics:
            return "it does not take lyrics"
        if prompt.instrumental and not self.instrumental:
            return "it does not make instrumental music"
        if not prompt.instrumental and not self.vocal:
            return "it makes instrumental music only"
        if prompt.reference_audio and not self.reference_audio:
            return "it does not take reference audio"
        if prompt.duration is not None and prompt.duration > self.max_duration_s:
            return f"it makes at most {self.max_duration_s:g} s"
        return None

    def serves(self, prompt: DetailedPrompt) -> bool:
        return self.refusal(prompt) is None

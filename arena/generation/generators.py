"""Generator adapters: how a System's clips are made on demand. A System names a Generator subclass by class path
(System.generator) and gives it a JSON config (System.generator_config).

Config keys every generator reads (GeneratorConfig): endpoint, secret_env (the name of the environment variable
holding the secret; NAME_FILE pointing to a file works too), timeout_s, max_duration_s, concurrency, retries,
max_bytes, default_duration_s, expected_s, signature (overrides of the class's declared signature) and options
(anything the adapter itself reads). Built in: HttpJsonGenerator (POST JSON, audio bytes back); the demo
synthesiser is demo.generator.DemoSynthGenerator (in-process) or serve_demo_generator + HttpJsonGenerator.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import httpx
from django.conf import settings
from django.utils.module_loading import import_string

from arena.generation.signature import DetailedPrompt, GeneratorSignature
from core.errors import InvalidInput


class GeneratorFailed(Exception):
    """A generation did not give audio. `transient`: worth another try (timeout, connection, 5xx, 429)."""

    def __init__(self, reason: str, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient


@dataclass(frozen=True)
class GenerationJob:
    """What one generation asks of a generator."""

    prompt: DetailedPrompt
    duration_s: float
    seed: int


@dataclass(frozen=True)
class GeneratedAudio:
    data: bytes
    suffix: str  # ".wav", ".mp3", ... (the ingest decodes whatever it is)
    generation_ms: int


_CONFIG_KEYS = {
    "endpoint", "secret_env", "timeout_s", "max_duration_s", "concurrency", "retries", "max_bytes",
    "default_duration_s", "expected_s", "signature", "options",
}


@dataclass(frozen=True)
class GeneratorConfig:
    endpoint: str = ""
    secret_env: str = ""
    timeout_s: float = 120.0
    max_duration_s: float | None = None
    concurrency: int = 4
    retries: int = 2
    max_bytes: int | None = None
    default_duration_s: float = 10.0
    expected_s: float | None = None
    signature: dict[str, Any] | None = None
    options: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Any) -> GeneratorConfig:
        """The config of a System, checked: InvalidInput naming the key that is wrong."""
        if raw in (None, ""):
            raw = {}
        if not isinstance(raw, dict):
            raise InvalidInput("generator config must be a JSON object", field="generator_config")
        unknown = sorted(set(raw) - _CONFIG_KEYS)
        if unknown:
            raise InvalidInput(
                f"generator config: unknown key {unknown[0]!r} (known: {', '.join(sorted(_CONFIG_KEYS))})",
                field=unknown[0],
            )
        values: dict[str, Any] = {}
        for key in ("endpoint", "secret_env"):
            if key in raw:
                if not isinstance(raw[key], str):
                    raise InvalidInput(f'generator config: "{key}" must be a string', field=key)
                values[key] = raw[key].strip()
        if values.get("endpoint") and not values["endpoint"].startswith(("http://", "https://")):
            raise InvalidInput('generator config: "endpoint" must be an http:// or https:// URL', field="endpoint")
        for key, low, high in (("timeout_s", 0.01, 3600), ("max_duration_s", 0.25, 3600),
                               ("default_duration_s", 0.25, 3600), ("expected_s", 0.0, 3600)):
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
                    raise InvalidInput(f'generator config: "{key}" must be a number of seconds in [{low}, {high}]',
                                       field=key)
                values[key] = float(value)
        for key, low, high in (("concurrency", 1, 1000), ("retries", 0, 10), ("max_bytes", 1024, 2**40)):
            if key in raw:
                value = raw[key]
                if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                    raise InvalidInput(f'generator config: "{key}" must be an integer in [{low}, {high}]', field=key)
                values[key] = value
        if "signature" in raw:
            values["signature"] = raw["signature"]
            GeneratorSignature.from_config(GeneratorSignature(), raw["signature"])
        if "options" in raw:
            if not isinstance(raw["options"], dict):
                raise InvalidInput('generator config: "options" must be an object', field="options")
            values["options"] = raw["options"]
        return cls(**values)

    def secret(self) -> str | None:
        """The secret named by secret_env, read from the environment now (NAME, or a file named by NAME_FILE)."""
        if not self.secret_env:
            return None
        value = os.environ.get(self.secret_env)
        if value is None and os.environ.get(f"{self.secret_env}_FILE"):
            value = Path(os.environ[f"{self.secret_env}_FILE"]).read_text().strip()
        if not value:
            raise GeneratorFailed(
                "secret_missing", f"the secret {self.secret_env} is not set in the environment", transient=False
            )
        return value


class Generator:
    """Base of the adapters. A subclass declares `signature` and implements `generate`."""

    signature: ClassVar[GeneratorSignature] = GeneratorSignature()

    def __init__(self, config: GeneratorConfig) -> None:
        self.config = config
        declared = GeneratorSignature.from_config(type(self).signature, config.signature)
        if config.max_duration_s is not None:
            declared = GeneratorSignature(**{**declared.__dict__, "max_duration_s": config.max_duration_s})
        self.declared = declared
        self.check()

    def check(self) -> None:
        """InvalidInput when the config lacks what this adapter needs (called on save in the admin too)."""

    @property
    def expected_s(self) -> float:
        """How long a generation usually takes: what the progress bar counts on."""
        return self.config.expected_s if self.config.expected_s is not None else min(self.config.timeout_s, 30.0)

    @property
    def max_bytes(self) -> int:
        return self.config.max_bytes or settings.EARSHOT_MAX_UPLOAD_BYTES

    def duration_for(self, prompt: DetailedPrompt) -> float:
        wanted = prompt.duration if prompt.duration is not None else self.config.default_duration_s
        return min(wanted, self.declared.max_duration_s)

    def generate(self, job: GenerationJob) -> GeneratedAudio:
        raise NotImplementedError


_AUDIO_SUFFIXES = {
    "audio/wav": ".wav", "audio/x-wav": ".wav", "audio/wave": ".wav", "audio/flac": ".flac", "audio/x-flac": ".flac",
    "audio/mpeg": ".mp3", "audio/mp3": ".mp3", "audio/ogg": ".ogg", "audio/opus": ".opus",
    "application/octet-stream": ".bin",
}


class HttpJsonGenerator(Generator):
    """A generator behind HTTP: POST {"prompt", "lyrics", "duration", "seed", "instrumental", "bpm"} as JSON to
    `endpoint` (with `Authorization: Bearer <secret>` when secret_env is set); the answer's body is the audio (an
    audio/* type), anything else is a failure. The whole exchange must finish within timeout_s; a body larger than
    max_bytes is cut off and refused. Timeouts, connection errors, 429 and 5xx are worth a retry; the rest is not.
    The signature comes from the config (a service says what it can make)."""

    signature = GeneratorSignature()

    def check(self) -> None:
        if not self.config.endpoint:
            raise InvalidInput('generator config: HttpJsonGenerator needs an "endpoint"', field="endpoint")

    def generate(self, job: GenerationJob) -> GeneratedAudio:
        body = {
            "prompt": job.prompt.overall_prompt,
            "lyrics": job.prompt.lyrics or "",
            "duration": job.duration_s,
            "seed": job.seed,
            "instrumental": job.prompt.instrumental,
            "bpm": job.prompt.bpm,
        }
        headers = {"Content-Type": "application/json", "Accept": "audio/*"}
        secret = self.config.secret()
        if secret:
            headers["Authorization"] = f"Bearer {secret}"
        timeout = self.config.timeout_s
        started = time.monotonic()
        deadline = started + timeout
        try:
            with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client, client.stream(
                "POST", self.config.endpoint, content=json.dumps(body).encode(), headers=headers
            ) as response:
                if response.status_code != 200:
                    transient = response.status_code == 429 or response.status_code >= 500
                    raise GeneratorFailed(
                        "http_error", f"the generator answered HTTP {response.status_code}", transient=transient
                    )
                content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if content_type not in _AUDIO_SUFFIXES and not content_type.startswith("audio/"):
                    raise GeneratorFailed(
                        "not_audio", f"the generator answered {content_type or 'no content type'}, not audio",
                        transient=False,
                    )
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > self.max_bytes:
                    raise GeneratorFailed(
                        "too_large", f"the generator's answer of {declared} bytes is over the limit of "
                        f"{self.max_bytes} bytes", transient=False,
                    )
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise GeneratorFailed(
                            "too_large", f"the generator's answer is over the limit of {self.max_bytes} bytes",
                            transient=False,
                        )
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("the answer took longer than the timeout")
                    chunks.append(chunk)
        except httpx.TimeoutException as exc:
            raise GeneratorFailed("timeout", f"the generator took longer than {timeout:g} s", transient=True) from exc
        except httpx.HTTPError as exc:
            raise GeneratorFailed("unreachable", f"the generator could not be reached ({exc})", transient=True) from exc
        if time.monotonic() > deadline:
            raise GeneratorFailed("timeout", f"the generator took longer than {timeout:g} s", transient=True)
        return GeneratedAudio(
            data=b"".join(chunks),
            suffix=_AUDIO_SUFFIXES.get(content_type, ".bin"),
            generation_ms=int((time.monotonic() - started) * 1000),
        )


@lru_cache(maxsize=64)
def _generator_class(path: str) -> type[Generator]:
    try:
        found = import_string(path)
    except ImportError as exc:
        raise InvalidInput(f"generator {path!r} cannot be imported ({exc})", field="generator") from exc
    if not (isinstance(found, type) and issubclass(found, Generator)):
        raise InvalidInput(f"{path!r} is not a Generator subclass", field="generator")
    return found


@lru_cache(maxsize=256)
def _generator_cached(path: str, config_json: str) -> Generator:
    return _generator_class(path)(GeneratorConfig.parse(json.loads(config_json)))


def generator_build(*, path: str, config: Any) -> Generator:
    """The adapter a System names, built from its config (cached per class path and config); InvalidInput when
    either is wrong."""
    return _generator_cached(path, json.dumps(config or {}, sort_keys=True))

"""Generator adapters against a real local HTTP generator (slow, failing, hanging, not audio, huge, silent), the
demo synthesiser in-process and over HTTP, and config checks."""
from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
import soundfile as sf

from arena.generation.generators import (
    GenerationJob,
    GeneratorConfig,
    GeneratorFailed,
    HttpJsonGenerator,
    generator_build,
)
from arena.generation.signature import DetailedPrompt, GeneratorSignature
from core.errors import InvalidInput
from tests.arena.generator_support import GeneratorServer, generator_server

JOB = GenerationJob(prompt=DetailedPrompt(overall_prompt="a calm piano piece", bpm=72), duration_s=2.0, seed=7)


@pytest.fixture
def local_generator() -> Iterator[GeneratorServer]:
    with generator_server() as server:
        yield server


def http(server: GeneratorServer, behaviour: str, **config: object) -> HttpJsonGenerator:
    return HttpJsonGenerator(GeneratorConfig.parse({"endpoint": server.endpoint(behaviour), "timeout_s": 5, **config}))


def test_it_posts_the_prompt_and_gets_audio_back(local_generator: GeneratorServer,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEST_GENERATOR_KEY", "s3cret")
    audio = http(local_generator, "ok", secret_env="TEST_GENERATOR_KEY").generate(JOB)
    samples, rate = sf.read(io.BytesIO(audio.data))
    assert rate == 16000 and len(samples) == 32000 and audio.suffix == ".wav"
    sent = local_generator.requests[-1]
    assert sent == {"prompt": "a calm piano piece", "lyrics": "", "duration": 2.0, "seed": 7, "instrumental": True,
                    "bpm": 72, "authorization": "Bearer s3cret"}


def test_a_slow_generator_within_its_timeout_is_waited_for(local_generator: GeneratorServer) -> None:
    assert http(local_generator, "slow").generate(JOB).data.startswith(b"RIFF")


def test_a_generator_past_its_timeout_is_a_transient_failure(local_generator: GeneratorServer) -> None:
    with pytest.raises(GeneratorFailed) as failed:
        http(local_generator, "hang", timeout_s=0.5).generate(JOB)
    assert (failed.value.reason, failed.value.transient) == ("timeout", True)
    assert "longer than 0.5 s" in failed.value.message


@pytest.mark.parametrize(("behaviour", "reason", "transient"), [
    ("fail", "http_error", True),
    ("reject", "http_error", False),
    ("html", "not_audio", False),
])
def test_failures_say_what_went_wrong_and_whether_to_retry(
    local_generator: GeneratorServer, behaviour: str, reason: str, transient: bool
) -> None:
    with pytest.raises(GeneratorFailed) as failed:
        http(local_generator, behaviour).generate(JOB)
    assert (failed.value.reason, failed.value.transient) == (reason, transient)


def test_a_huge_answer_is_cut_off_at_the_limit(local_generator: GeneratorServer) -> None:
    with pytest.raises(GeneratorFailed) as failed:
        http(local_generator, "huge", max_bytes=1024 * 1024).generate(JOB)
    assert failed.value.reason == "too_large" and not failed.value.transient
    assert "1048576 bytes" in failed.value.message


def test_an_unreachable_generator_is_transient() -> None:
    from tests.webprocess import closed_port

    generator = HttpJsonGenerator(GeneratorConfig.parse({"endpoint": f"http://127.0.0.1:{closed_port()}/x"}))
    with pytest.raises(GeneratorFailed) as failed:
        generator.generate(JOB)
    assert (failed.value.reason, failed.value.transient) == ("unreachable", True)


def test_a_missing_secret_is_named(local_generator: GeneratorServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(GeneratorFailed, match="NOT_SET_ANYWHERE is not set"):
        http(local_generator, "ok", secret_env="NOT_SET_ANYWHERE").generate(JOB)


def test_a_secret_can_come_from_a_file(local_generator: GeneratorServer, monkeypatch: pytest.MonkeyPatch,
                                       tmp_path: object) -> None:
    from pathlib import Path

    secret = Path(str(tmp_path)) / "key"
    secret.write_text("from-file\n")
    monkeypatch.delenv("FILE_KEY", raising=False)
    monkeypatch.setenv("FILE_KEY_FILE", str(secret))
    http(local_generator, "ok", secret_env="FILE_KEY").generate(JOB)
    assert local_generator.requests[-1]["authorization"] == "Bearer from-file"


@pytest.mark.parametrize(("config", "named"), [
    ({"endpoint": "ftp://x"}, "endpoint"),
    ({"timeout_s": -1}, "timeout_s"),
    ({"concurrency": 0}, "concurrency"),
    ({"colour": "red"}, "colour"),
    ({"signature": {"lyrics": "yes"}}, "signature.lyrics"),
    ({"signature": {"sings": True}}, "signature.sings"),
    ([], "generator_config"),
])
def test_a_bad_config_is_refused_naming_the_key(config: object, named: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        GeneratorConfig.parse(config)
    assert refused.value.details["field"] == named


def test_the_http_generator_needs_an_endpoint_and_the_path_must_be_a_generator() -> None:
    with pytest.raises(InvalidInput, match="needs an \"endpoint\""):
        generator_build(path="arena.generation.generators.HttpJsonGenerator", config={})
    with pytest.raises(InvalidInput, match="not a Generator subclass"):
        generator_build(path="arena.models.System", config={})
    with pytest.raises(InvalidInput, match="cannot be imported"):
        generator_build(path="arena.nothing.Here", config={})


def test_the_config_declares_the_signature_and_longest_duration() -> None:
    generator = generator_build(path="arena.generation.generators.HttpJsonGenerator", config={
        "endpoint": "http://x/", "max_duration_s": 20, "signature": {"lyrics": True, "vocal": True}})
    assert generator.declared == GeneratorSignature(lyrics=True, vocal=True, max_duration_s=20.0)
    assert generator.duration_for(DetailedPrompt(overall_prompt="x")) == 10.0
    assert generator.duration_for(DetailedPrompt(overall_prompt="x", duration=15)) == 15.0


def test_the_demo_synthesiser_generates_in_process_and_the_same_seed_gives_the_same_audio() -> None:
    demo = generator_build(path="demo.generator.DemoSynthGenerator",
                           config={"options": {"profile": "muffle", "sample_rate": 16000}})
    first, again = demo.generate(JOB), demo.generate(JOB)
    other = demo.generate(GenerationJob(prompt=JOB.prompt, duration_s=2.0, seed=8))
    samples, rate = sf.read(io.BytesIO(first.data))
    assert rate == 16000 and samples.shape == (32000, 2)
    assert first.data == again.data and first.data != other.data
    assert not demo.declared.serves(DetailedPrompt(overall_prompt="a song", instrumental=False, lyrics="la la"))


def test_the_demo_synthesiser_over_http_gives_the_in_process_bytes() -> None:
    from demo.generator_service import demo_generator_serve_in_thread

    server, thread = demo_generator_serve_in_thread(sample_rate=16000)
    try:
        host, port = server.server_address[:2]
        remote = HttpJsonGenerator(GeneratorConfig.parse({"endpoint": f"http://{host!s}:{port}/muffle"}))
        local = generator_build(path="demo.generator.DemoSynthGenerator",
                                config={"options": {"profile": "muffle", "sample_rate": 16000}})
        assert remote.generate(JOB).data == local.generate(JOB).data
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_a_bad_demo_profile_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no profile 'nobody'"):
        generator_build(path="demo.generator.DemoSynthGenerator", config={"options": {"profile": "nobody"}})

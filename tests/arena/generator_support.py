"""A real local HTTP generator for the tests, speaking HttpJsonGenerator's protocol, that can misbehave: each path
is one behaviour (POST /ok, /slow, /hang, /fail, /reject, /html, /huge, /silent, /flaky). It serves in a thread on a
free port; `hang` holds its answer until the server stops (the client's timeout ends it, not a sleep here)."""
from __future__ import annotations

import io
import json
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import soundfile as sf


def tone_wav(*, seconds: float, seed: int, text: str = "", sample_rate: int = 16000, silent: bool = False) -> bytes:
    """WAV bytes of a tone whose pitch and noise follow the prompt (and path) and seed: distinct asks give distinct
    audio, as two real systems would."""
    rng = np.random.default_rng([seed, zlib.crc32(text.encode())])
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    frequency = 220 + rng.integers(0, 440)
    mono = 0.0 * t if silent else 0.3 * np.sin(2 * np.pi * frequency * t) + rng.normal(0, 0.003, size=t.shape)
    buffer = io.BytesIO()
    sf.write(buffer, np.stack([mono, mono], axis=1).astype(np.float32), sample_rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@dataclass
class GeneratorServer:
    url: str
    server: ThreadingHTTPServer
    released: threading.Event
    requests: list[dict[str, Any]] = field(default_factory=list)
    latency_s: float = 0.0
    flaky_failures: int = 0  # /flaky answers 503 this many times, then audio
    hold: threading.Event | None = None  # when set up, every answer waits for it (a test's barrier), then latency

    def endpoint(self, behaviour: str, *, system: str = "") -> str:
        """The URL of one behaviour; `system` names who asks (each sounds different, as real systems do)."""
        return f"{self.url}/{behaviour}" + (f"?system={system}" if system else "")


@contextmanager
def generator_server(*, latency_s: float = 0.0) -> Iterator[GeneratorServer]:
    released = threading.Event()
    state: dict[str, GeneratorServer] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, status: int, content_type: str, body: bytes, *, length: int | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:  # noqa: N802
            me = state["server"]
            ask = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ask["authorization"] = self.headers.get("Authorization")
            with lock:
                me.requests.append(ask)
            behaviour = urlsplit(self.path).path.strip("/")
            if me.hold is not None:
                me.hold.wait(120)
            if me.latency_s:
                released.wait(me.latency_s)
            seconds = float(ask.get("duration") or 2.0)
            heard = f"{self.path} {ask['prompt']}"  # each path (a system) sounds different
            if behaviour in ("ok", "slow"):
                if behaviour == "slow":
                    released.wait(0.3)
                self._send(200, "audio/wav", tone_wav(seconds=seconds, seed=int(ask["seed"]), text=heard))
            elif behaviour == "hang":
                released.wait(60)
                self._send(200, "audio/wav", tone_wav(seconds=seconds, seed=1))
            elif behaviour == "fail":
                self._send(500, "application/json", b'{"error": "model crashed"}')
            elif behaviour == "reject":
                self._send(400, "application/json", b'{"error": "bad prompt"}')
            elif behaviour == "html":
                self._send(200, "text/html", b"<html>not audio</html>")
            elif behaviour == "garbage":
                self._send(200, "audio/wav", b"RIFF" + bytes(range(256)) * 40)
            elif behaviour == "huge":
                # Declares no length and streams past any sane limit; the client must cut it off.
                self.send_response(200)
                self.send_header("Content-Type", "audio/wav")
                self.end_headers()
                chunk = b"\0" * 65536
                try:
                    for _ in range(4096):
                        self.wfile.write(chunk)
                except (BrokenPipeError, ConnectionResetError):
                    return
            elif behaviour == "silent":
                self._send(200, "audio/wav", tone_wav(seconds=seconds, seed=1, silent=True))
            elif behaviour == "flaky":
                with lock:
                    failing = me.flaky_failures > 0
                    me.flaky_failures -= 1
                if failing:
                    self._send(503, "application/json", b'{"error": "busy"}')
                else:
                    self._send(200, "audio/wav", tone_wav(seconds=seconds, seed=int(ask["seed"]),
                                                          text=heard))
            else:
                self._send(404, "application/json", b'{"error": "no such behaviour"}')

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]
    state["server"] = GeneratorServer(url=f"http://{host!s}:{port}", server=server, released=released,
                                      latency_s=latency_s)
    thread = threading.Thread(target=server.serve_forever, name="test-generator", daemon=True)
    thread.start()
    try:
        yield state["server"]
    finally:
        released.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


HTTP_GENERATOR = "arena.generation.generators.HttpJsonGenerator"


@contextmanager
def eager_http_systems(slugs: tuple[str, ...] = ("sys-alpha", "sys-beta")) -> Iterator[GeneratorServer]:
    """A local generator server and one HTTP-generated system per slug, each on its own path (so each sounds
    different), with Celery eager for the duration: the generation runs inside the request."""
    from config.celery import app
    from tests.factories import SystemFactory

    saved = app.conf.task_always_eager
    app.conf.task_always_eager = True
    try:
        with generator_server() as server:
            for slug in slugs:
                SystemFactory(slug=slug, name=slug, generator=HTTP_GENERATOR, generator_config={
                    "endpoint": server.endpoint("ok", system=slug), "default_duration_s": 2.0})
            yield server
    finally:
        app.conf.task_always_eager = saved

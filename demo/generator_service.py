"""The demo synthesiser as a small HTTP service speaking HttpJsonGenerator's protocol (POST JSON → audio/wav), so
tests and benchmarks exercise the real network path. One path per demo profile: POST /<profile>."""
from __future__ import annotations

import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from demo.generator import DEMO_MAX_DURATION_S, PROFILES, render_wav

MAX_BODY_BYTES = 64 * 1024


class DemoGeneratorHandler(BaseHTTPRequestHandler):
    server_version = "earshot-demo-generator"
    sample_rate = 22050
    secret: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # quiet: one line per request is noise in tests
        return

    def _error(self, status: HTTPStatus, message: str) -> None:
        body = json.dumps({"error": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path.rstrip("/") in ("", "/healthz"):
            body = json.dumps({"profiles": list(PROFILES)}).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self._error(HTTPStatus.NOT_FOUND, "POST /<profile>")

    def do_POST(self) -> None:  # noqa: N802
        profile = self.path.strip("/")
        if profile not in PROFILES:
            return self._error(HTTPStatus.NOT_FOUND, f"no profile {profile!r}; known: {', '.join(PROFILES)}")
        if self.secret and self.headers.get("Authorization") != f"Bearer {self.secret}":
            return self._error(HTTPStatus.UNAUTHORIZED, "wrong or missing bearer token")
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 < length <= MAX_BODY_BYTES:
            return self._error(HTTPStatus.BAD_REQUEST, "a JSON body of at most 64 KiB is needed")
        try:
            ask = json.loads(self.rfile.read(length))
            text = str(ask["prompt"])
            duration = float(ask.get("duration") or 10.0)
            seed = int(ask.get("seed") or 0)
            bpm = int(ask["bpm"]) if ask.get("bpm") is not None else None
        except (ValueError, KeyError, TypeError) as exc:
            return self._error(HTTPStatus.BAD_REQUEST, f"bad request: {exc}")
        if not 0.25 <= duration <= DEMO_MAX_DURATION_S:
            return self._error(HTTPStatus.BAD_REQUEST, f"duration must lie in [0.25, {DEMO_MAX_DURATION_S:g}] s")
        data = render_wav(profile_slug=profile, text=text, duration_s=duration, bpm=bpm, seed=seed,
                          sample_rate=self.sample_rate)
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "audio/wav")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        return None


def demo_generator_server(*, host: str = "127.0.0.1", port: int = 0, sample_rate: int = 22050,
                          secret: str | None = None) -> ThreadingHTTPServer:
    """The service bound to host:port (0: a free port; see server.server_address), not yet serving."""
    handler = type("ConfiguredDemoGeneratorHandler", (DemoGeneratorHandler,),
                   {"sample_rate": sample_rate, "secret": secret})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def demo_generator_serve_in_thread(**kwargs: Any) -> tuple[ThreadingHTTPServer, threading.Thread]:
    server = demo_generator_server(**kwargs)
    thread = threading.Thread(target=server.serve_forever, name="demo-generator", daemon=True)
    thread.start()
    return server, thread

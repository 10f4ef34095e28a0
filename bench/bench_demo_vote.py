"""How fast the demo answers a vote: the embedded default (`make demo`: SQLite, in-memory channel layer, eager
Celery) in one `manage.py runserver` process, voted on over HTTP by browsers on the arena page.

Usage: python bench/bench_demo_vote.py [--votes 60] [--clients 1] [--listen-seconds 0] [--data-dir DIR] [--port 8765]

It unsets DATABASE_URL and REDIS_URL, runs `migrate` and `seed_demo` in a temporary EARSHOT_DATA_DIR (or reuses
--data-dir when it already holds a seeded demo), starts `manage.py runserver --noreload` with
EARSHOT_MIN_LISTEN_SECONDS=0, and has each client do what the page does: load `/` (the CSRF cookie), start a battle,
fetch both clips whole, then vote with its last listening events and `next` (one POST per vote). It prints the
vote's p50/p90/max, and the same for the audio fetches. EARSHOT_INPROCESS_WORKER=0 in the environment measures the
recompute inside the request, as eager Celery did before the in-process worker. It is a script, not a test.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
EVENTS = [
    {"type": "play", "side": "a", "position_ms": 0, "client_ms": 0},
    {"type": "pause", "side": "a", "position_ms": 40, "client_ms": 40},
    {"type": "play", "side": "b", "position_ms": 0, "client_ms": 45},
    {"type": "pause", "side": "b", "position_ms": 40, "client_ms": 85},
]


class Browser:
    """One anonymous browser: a keep-alive connection with its cookies (session, CSRF)."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.origin = f"http://127.0.0.1:{port}"
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items()),
                   "Referer": f"{self.origin}/", "Origin": self.origin}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if method == "POST":
            headers["X-CSRFToken"] = self.cookies.get("csrftoken", "")
        self.connection.request(method, path, body=payload, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        for name, value in response.getheaders():
            if name.lower() == "set-cookie":
                key, _, rest = value.partition("=")
                self.cookies[key.strip()] = rest.split(";", 1)[0]
        return response.status, data


def run(command: list[str], env: dict[str, str]) -> None:
    subprocess.run(command, cwd=ROOT, env=env, check=True)


def wait_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"runserver exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("runserver did not answer in time")


def client_loop(port: int, votes: int, listen: float, vote_times: list[float], audio_times: list[float],
                errors: list[str]) -> None:
    browser = Browser(port)
    status, _ = browser.request("GET", "/")
    if status != 200:
        errors.append(f"page {status}")
        return
    status, data = browser.request("POST", "/api/battles/", {})
    if status != 201:
        errors.append(f"battle {status}: {data[:200]!r}")
        return
    battle = json.loads(data)
    for _ in range(votes):
        for side in ("a", "b"):
            start = time.perf_counter()
            status, _ = browser.request("GET", urlparse(battle["clips"][side]["audio_url"]).path)
            audio_times.append(time.perf_counter() - start)
        time.sleep(listen)  # the listener listens (the recompute of the previous vote runs meanwhile)
        start = time.perf_counter()
        status, data = browser.request("POST", f"/api/battles/{battle['id']}/vote/",
                                       {"choice": "a", "events": EVENTS, "next": True})
        vote_times.append(time.perf_counter() - start)
        if status != 201:
            errors.append(f"vote {status}: {data[:200]!r}")
            return
        battle = json.loads(data)["next_battle"]
        if battle is None:
            errors.append("no next battle")
            return


def figures(name: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"{name:5s} n={len(values):4d}  p50 {1000 * statistics.median(values):7.1f} ms  p90 {1000 * p90:7.1f} ms  "
            f"max {1000 * max(values):7.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=60, help="votes per client (default 60)")
    parser.add_argument("--clients", type=int, default=1)
    parser.add_argument("--data-dir", help="a demo data folder to reuse (seeded here when empty)")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--listen-seconds", type=float, default=0.0,
                        help="pause between fetching the clips and voting, as a listener listens (default 0: votes "
                             "back to back, so each vote's recompute overlaps the next votes)")
    args = parser.parse_args()

    data_dir = Path(args.data_dir) if args.data_dir else Path(tempfile.mkdtemp(prefix="earshot-demo-bench-"))
    env = {key: value for key, value in os.environ.items() if key not in {"DATABASE_URL", "REDIS_URL"}}
    env.update({"EARSHOT_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "config.settings",
                "EARSHOT_MIN_LISTEN_SECONDS": "0", "LOG_LEVEL": "WARNING"})
    python = sys.executable
    server = None
    try:
        if not (data_dir / "earshot.sqlite3").exists():
            run([python, "manage.py", "migrate", "--noinput", "-v0"], env)
            run([python, "manage.py", "seed_demo", "--no-progress"], env)
        server = subprocess.Popen([python, "manage.py", "runserver", "--noreload", f"127.0.0.1:{args.port}"],
                                  cwd=ROOT, env=env, start_new_session=True,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_ready(args.port, server)
        vote_times: list[float] = []
        audio_times: list[float] = []
        errors: list[str] = []
        threads = [threading.Thread(target=client_loop,
                                    args=(args.port, args.votes, args.listen_seconds, vote_times, audio_times, errors))
                   for _ in range(args.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        if server is not None and server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)
        if not args.data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
    worker = os.environ.get("EARSHOT_INPROCESS_WORKER", "on (default)")
    print(f"embedded demo (SQLite, in-memory layer, eager Celery), one runserver process, in-process worker "
          f"{worker}; {args.clients} client(s) × {args.votes} votes, {args.listen_seconds:g} s listening each; load "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    if errors:
        print("errors: " + "; ".join(errors[:5]))
    if vote_times:
        print(figures("vote", vote_times))
        print(figures("audio", audio_times))


if __name__ == "__main__":
    main()

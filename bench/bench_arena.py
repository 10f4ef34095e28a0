"""Arena throughput over HTTP: concurrent clients create battles, fetch both clips, report listening and vote
against uvicorn.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot REDIS_URL=redis://127.0.0.1:6379/0 \\
       python bench/bench_arena.py [--clients 32] [--seconds 20] [--workers 2] [--flow page|separate]

--flow page (the default) is what the arena page does: each vote carries the battle's last listening events and
asks for the next battle, so one request per vote creates a battle and records a vote. --flow separate makes the
three requests a script using each endpoint would: create, events, vote. Either way each client first fetches both
clips whole through the battle's audio URLs, as a player does (the vote checks the audio fetched).

It creates and migrates a scratch database of its own (<name>_bench_arena, dropped afterwards), seeds systems,
prompts and real clips, starts `uvicorn config.asgi:application` with the rate limits raised and
EARSHOT_MIN_LISTEN_SECONDS=0, and prints battles and votes per second and p50/p99 latency per endpoint. It is a
script, not a test.

Reference: before the vote flow, the same clients ask the same server for GET /healthz (a Django view that reads no
database, cache or session) for --reference-seconds; the bench prints that rate and the vote flow's ratio to it, so
a figure measured on one machine can be compared with one measured on another.

Database connections: under ASGI Django runs each request's sync code in a thread of its own, so persistent
connections (CONN_MAX_AGE > 0) leak one connection per request and CONN_MAX_AGE=0 opens one per request. With
--pool (the default when psycopg_pool is installed) the server runs with DB_POOL=1, Django's psycopg connection
pool; --no-pool measures a new connection per request.

Votes request leaderboard recomputes as in production, but no Celery worker runs during the bench: the few
debounced recompute tasks (one per scope) stay queued in REDIS_URL's broker, naming only scope names.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse, urlunparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
ENDPOINTS = ("create", "audio", "events", "vote")
CHOICES = ("a", "b", "tie", "both_bad")


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, dict[int, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))
    battles: int = 0
    votes: int = 0
    recording: bool = False


def scratch_database(url: str, *, suffix: str = "_bench_arena") -> tuple[str, str]:
    """(admin URL on the 'postgres' database, scratch database URL) for the server in DATABASE_URL."""
    parsed = urlparse(url)
    name = (parsed.path.lstrip("/") or "earshot") + suffix
    admin = urlunparse(parsed._replace(path="/postgres"))
    return admin, urlunparse(parsed._replace(path="/" + name))


def database_recreate(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def database_drop(admin_url: str, name: str) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def seed(*, systems: int, prompts: int, clients: int, media: Path) -> list[str]:
    """Migrate, import systems × prompts real clips, and make one user with an API token per client."""
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    from arena.ingest import clip_import
    from arena.models import Prompt, System
    from tests.factories import write_tone

    call_command("migrate", verbosity=0, interactive=False)
    made = [System.objects.create(name=f"Bench system {i}", slug=f"bench-{i}") for i in range(systems)]
    with tempfile.TemporaryDirectory() as folder:
        for p in range(prompts):
            prompt = Prompt.objects.create(text=f"Bench prompt {p}: an upbeat synth-pop groove at 120 BPM")
            for s, system in enumerate(made):
                path = write_tone(Path(folder) / f"{p}-{s}.wav", seconds=3.0, frequency=200.0 + 40 * s, seed=p * 97 + s)
                clip_import(system=system, prompt=prompt, path=path)
    tokens = []
    for c in range(clients):
        user = User.objects.create_user(f"bench-{c}")
        tokens.append(Token.objects.create(user=user).key)
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def server_start(*, env: dict[str, str], port: int, workers: int) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "uvicorn", "config.asgi:application",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--no-access-log", "--log-level", "warning", "--lifespan", "off",
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True)


def server_stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


class Connection:
    """A keep-alive HTTP/1.1 connection that writes requests and reads responses with asyncio streams.

    The load generator shares the machine's cores with the server; a general client (httpx) spends about 2.5 ms of
    CPU per request, as much as the server, so this one does the least HTTP that the server accepts."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.head = "".join(f"{name}: {value}\r\n" for name, value in {"Host": f"{host}:{port}", **headers}.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None, *, raw: bool = False) -> tuple[int, Any]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}{kind}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked = 0, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        data = await (self._chunked() if chunked else self.reader.readexactly(length))
        return status, (data if raw else json.loads(data) if data else None)

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(chunk[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def server_ready(port: int, server: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"uvicorn exited with {server.returncode}")
        connection = Connection("127.0.0.1", port, {})
        try:
            if (await connection.request("GET", "/api/systems/"))[0] == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        await asyncio.sleep(0.2)
    raise SystemExit("uvicorn did not answer in time")


async def timed(tally: Tally, name: str, request) -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    status, body = await request
    elapsed = time.perf_counter() - start
    if tally.recording:
        tally.latencies[name].append(elapsed)
        tally.statuses[name][status] += 1
    return status, body


def _events() -> list[dict[str, Any]]:
    return [
        {"type": "play", "side": "a", "position_ms": 0, "client_ms": 0},
        {"type": "pause", "side": "a", "position_ms": 40, "client_ms": 40},
        {"type": "play", "side": "b", "position_ms": 0, "client_ms": 45},
        {"type": "pause", "side": "b", "position_ms": 40, "client_ms": 85},
    ]


async def rater_loop(port: int, token: str, tally: Tally, stop: asyncio.Event, rng: random.Random, flow: str) -> None:
    """One rater. flow 'page': vote with the last events and the next battle in one request, as the page does;
    'separate': create, report events, vote (three requests, as a script using each endpoint would)."""
    connection = Connection("127.0.0.1", port, {"Authorization": f"Token {token}"})
    battle: dict[str, Any] | None = None
    try:
        while not stop.is_set():
            if battle is None:
                status, body = await timed(tally, "create", connection.request("POST", "/api/battles/"))
                if status != 201:
                    await asyncio.sleep(0.01)
                    continue
                battle = body
            url = f"/api/battles/{battle['id']}"
            for side in ("a", "b"):  # as a player does: the vote counts the audio fetched through these URLs
                path = urlparse(battle["clips"][side]["audio_url"]).path
                await timed(tally, "audio", connection.request("GET", path, raw=True))
            vote: dict[str, Any] = {"choice": rng.choice(CHOICES), "musicality": rng.choice(CHOICES)}
            if flow == "separate":
                await timed(tally, "events", connection.request("POST", f"{url}/events/", {"events": _events()}))
            else:
                vote.update(events=_events(), next=True)
            status, body = await timed(tally, "vote", connection.request("POST", f"{url}/vote/", vote))
            battle = body.get("next_battle") if flow == "page" and status == 201 else None
            if tally.recording:
                tally.votes += status == 201
                tally.battles += battle is not None or flow == "separate"
    finally:
        connection.close()


async def reference_loop(
    port: int, token: str, tally: Tally, stop: asyncio.Event, rng: random.Random, flow: str
) -> None:
    """The reference: the same client asking the same server for GET /healthz, a Django view that does no work."""
    connection = Connection("127.0.0.1", port, {"Authorization": f"Token {token}"})
    try:
        while not stop.is_set():
            await timed(tally, "healthz", connection.request("GET", "/healthz"))
    finally:
        connection.close()


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields after the command name, from field 3 (state) on


def cpu_seconds(*, server_pid: int, database: str) -> dict[str, float]:
    """CPU time so far of the web server (master and workers), the database's backends, and this process."""
    web = postgres = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        fields = _proc_stat(pid)
        if fields is None:
            continue
        used = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime
        if pid == server_pid or int(fields[1]) == server_pid:
            web += used
            continue
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if command.startswith(b"postgres: ") and database.encode() in command:
            postgres += used
    times = os.times()
    return {"web": web, "postgres": postgres, "load generator": times.user + times.system}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def load(
    port: int, tokens: list[str], *, flow: str, warmup: float, seconds: float, server_pid: int, database: str,
    loop=rater_loop,  # type: ignore[no-untyped-def]
) -> tuple[Tally, float, dict[str, float]]:
    tally, stop = Tally(), asyncio.Event()
    tasks = [
        asyncio.create_task(loop(port, token, tally, stop, random.Random(i), flow))
        for i, token in enumerate(tokens)
    ]
    await asyncio.sleep(warmup)
    cpu_before = cpu_seconds(server_pid=server_pid, database=database)
    tally.recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    tally.recording = False
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(server_pid=server_pid, database=database)
    stop.set()
    await asyncio.gather(*tasks)
    return tally, elapsed, {part: cpu_after[part] - cpu_before[part] for part in cpu_after}


def queries_per_request(token: str) -> dict[str, int]:
    """SQL statements each endpoint runs, counted in-process on the same database (the test client, no HTTP)."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client(HTTP_AUTHORIZATION=f"Token {token}")
    client.post("/api/battles/")  # the sampling memo is warm in a running server
    counts = {}
    with CaptureQueriesContext(connection) as create:
        battle = client.post("/api/battles/").json()
    counts["create"] = len(create)
    for side in ("a", "b"):
        with CaptureQueriesContext(connection) as fetched:
            assert client.get(urlparse(battle["clips"][side]["audio_url"]).path).status_code == 200
    counts["audio"] = len(fetched)
    events = {"events": [{"type": "play", "side": "a", "position_ms": 0, "client_ms": 0}]}
    with CaptureQueriesContext(connection) as recorded:
        client.post(f"/api/battles/{battle['id']}/events/", events, content_type="application/json")
    counts["events"] = len(recorded)
    with CaptureQueriesContext(connection) as voted:
        answer = client.post(f"/api/battles/{battle['id']}/vote/", {"choice": "a"}, content_type="application/json")
    counts["vote"] = len(voted)
    assert answer.status_code == 201, answer.content
    battle = client.post("/api/battles/").json()
    for side in ("a", "b"):
        client.get(urlparse(battle["clips"][side]["audio_url"]).path)
    page_vote = {"choice": "a", "events": events["events"], "next": True}
    with CaptureQueriesContext(connection) as voted_next:
        answer = client.post(f"/api/battles/{battle['id']}/vote/", page_vote, content_type="application/json")
    counts["vote+next"] = len(voted_next)
    assert answer.status_code == 201, answer.content
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--systems", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--flow", choices=("page", "separate"), default="page",
                        help="page: one request per vote (events and next battle ride with it, as the arena page "
                             "does); separate: create, events, vote (default: page)")
    parser.add_argument("--reference-seconds", type=float, default=5.0,
                        help="first measure GET /healthz (no work) this long with the same clients, as the reference "
                             "for what this server and machine can answer at all; 0 skips it (default: 5)")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--pool", action=argparse.BooleanOptionalAction, default=None,
                        help="psycopg connection pool in the server (default: when psycopg_pool is installed)")
    parser.add_argument("--pool-size", type=int, default=8, help="connections per server process")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL")
    if not database_url or not database_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (the bench makes its own scratch database there)")
    use_pool = args.pool
    if use_pool is None:
        try:
            import psycopg_pool  # noqa: F401
        except ImportError:
            use_pool = False
        else:
            use_pool = True
    admin_url, scratch_url = scratch_database(database_url)
    scratch_name = urlparse(scratch_url).path.lstrip("/")
    media = Path(tempfile.mkdtemp(prefix="earshot-bench-media-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": scratch_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "DB_CONN_MAX_AGE": "0",
        "MEDIA_ROOT": str(media),
        "EARSHOT_MIN_LISTEN_SECONDS": "0",
        "EARSHOT_RATE_LIMIT_RATER": "100000000/min",
        "EARSHOT_RATE_LIMIT_IP": "100000000/min",
    }
    os.environ.update(env)
    database_recreate(admin_url, scratch_name)
    server = None
    try:
        tokens = seed(systems=args.systems, prompts=args.prompts, clients=args.clients, media=media)
        port = free_port()
        server_env = dict(env)
        if use_pool:
            server_env.update({"DB_POOL": "1", "DB_POOL_MAX": str(args.pool_size)})
        server = server_start(env=server_env, port=port, workers=args.workers)
        asyncio.run(server_ready(port, server))
        reference = None
        if args.reference_seconds > 0:
            reference = asyncio.run(
                load(port, tokens, flow=args.flow, warmup=args.warmup, seconds=args.reference_seconds,
                     server_pid=server.pid, database=scratch_name, loop=reference_loop)
            )
        tally, elapsed, cpu = asyncio.run(
            load(port, tokens, flow=args.flow, warmup=args.warmup, seconds=args.seconds, server_pid=server.pid,
                 database=scratch_name)
        )
        queries = queries_per_request(tokens[0])
    finally:
        if server is not None:
            server_stop(server)
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            database_drop(admin_url, scratch_name)
        shutil.rmtree(media, ignore_errors=True)

    connections_used = f"psycopg pool of {args.pool_size} per process" if use_pool else "a new connection per request"
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"flow {args.flow!r}: uvicorn --workers {args.workers}, {args.clients} concurrent clients (token auth), "
        f"{connections_used}; "
        f"{elapsed:.1f} s measured after {args.warmup:.0f} s warm-up; {os.cpu_count()} CPUs, load {load_average}"
    )
    print(f"battles/s {tally.battles / elapsed:8.1f}   votes/s {tally.votes / elapsed:8.1f}   "
          f"requests/s {sum(len(v) for v in tally.latencies.values()) / elapsed:8.1f}")
    for name in ENDPOINTS:
        values = tally.latencies.get(name, [])
        if not values:
            print(f"{name:7s} no requests")
            continue
        statuses = ", ".join(f"{code}×{n}" for code, n in sorted(tally.statuses[name].items()))
        print(
            f"{name:7s} n={len(values):6d}  p50 {1000 * statistics.median(values):7.1f} ms  "
            f"p99 {1000 * percentile(values, 0.99):7.1f} ms  max {1000 * max(values):7.1f} ms  "
            f"SQL/request {queries['vote+next' if name == 'vote' and args.flow == 'page' else name]:2d}  [{statuses}]"
        )
    if reference is not None:
        ref_tally, ref_elapsed, ref_cpu = reference
        values = ref_tally.latencies["healthz"]
        ref_rate = len(values) / ref_elapsed
        ref_web = 1000 * ref_cpu["web"] / max(len(values), 1)
        print(f"reference: GET /healthz (a Django view doing no work, same server and clients): {ref_rate:8.1f} req/s, "
              f"p50 {1000 * statistics.median(values):.1f} ms, p99 {1000 * percentile(values, 0.99):.1f} ms, "
              f"web CPU {ref_web:.2f} ms/request")
        if tally.votes:
            print(f"  → votes/s are {tally.votes / elapsed / ref_rate:.2f}× the reference request rate; "
                  f"web CPU per vote is {1000 * cpu['web'] / tally.votes / ref_web:.1f}× a request doing no work")
    if not use_pool:
        cpu.pop("postgres")  # a backend per request exits before its CPU time can be read
    if tally.votes:
        per_vote = {part: 1000 * seconds / tally.votes for part, seconds in cpu.items()}
        print("CPU per vote (and its battle): " + ", ".join(f"{part} {ms:.1f} ms" for part, ms in per_vote.items()))
        if "postgres" not in per_vote:
            return
        server_ms = per_vote["web"] + per_vote["postgres"]
        print(
            f"  → web + database alone need {server_ms:.1f} ms of CPU per vote: at most "
            f"{1000 * (os.cpu_count() or 1) / server_ms:.0f} votes/s on {os.cpu_count()} otherwise idle cores"
        )


if __name__ == "__main__":
    main()

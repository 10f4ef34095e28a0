"""Arena throughput over HTTP: concurrent clients create battles, fetch both clips, report listening and vote,
against each web server in turn (uvicorn running config.asgi, and gunicorn gthread running config.wsgi, as
production serves HTTP), then the same votes as SQL alone through psycopg: the database's ceiling.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot REDIS_URL=redis://127.0.0.1:6379/0 \\
       python bench/bench_arena.py [--clients 32] [--seconds 20] [--flow page|separate] [--servers uvicorn,gunicorn]
       [--workers 2] [--gunicorn-workers 4] [--threads 4] [--no-db-ceiling]

--flow page (the default) is what the arena page does: each vote carries the battle's last listening events and
asks for the next battle, so one request per vote creates a battle and records a vote. --flow separate makes the
three requests a script using each endpoint would: create, events, vote. Either way each client first fetches both
clips whole through the battle's audio URLs, as a player does (the vote checks the audio fetched).

It creates and migrates a scratch database of its own (<name>_bench_arena, dropped afterwards), seeds systems,
prompts and real clips, and for each server in --servers starts it with the rate limits raised and
EARSHOT_MIN_LISTEN_SECONDS=0: `uvicorn config.asgi:application --workers N` (HTTP under ASGI, as before the split)
and `gunicorn -c config/gunicorn.conf.py --workers N --threads M` (HTTP under WSGI, gthread). The clients talk to
the server directly (no proxy in front). For each it prints battles and votes per second and p50/p99 latency per
endpoint, then a table side by side. It is a script, not a test.

Reference: before the vote flow, the same clients ask the same server for GET /healthz (a Django view that reads no
database, cache or session) for --reference-seconds; the bench prints that rate, its web CPU per request, and the
vote flow's ratios to it on the same server, so a figure measured on one machine can be compared with one measured
on another.

Database ceiling: the same number of clients run the vote's writes as SQL written out, each vote one transaction
through psycopg (lock the battle, insert the vote, close the battle, insert the next battle; rows copied from a
vote the API recorded, so they are as wide as real ones), with no web server: what PostgreSQL alone allows here.

Database connections: with --pool (the default when psycopg_pool is installed) the servers run with DB_POOL=1,
Django's psycopg connection pool (under ASGI every request's sync code runs in a thread of its own, so persistent
connections would leak one connection per request); --no-pool measures a new connection per request.

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


def full_stack_scratch(suffix: str) -> tuple[str, str, str, Path, dict[str, str]]:
    """For a bench that runs the full stack as processes: (admin URL, scratch database URL, its name, a temporary
    media folder, the environment its processes share: production-like settings on the scratch database, the
    per-rater and per-address limits raised, since every client is one address). DATABASE_URL must name a
    PostgreSQL server (the scratch database goes beside it, its name + suffix) and REDIS_URL a Redis."""
    database_url = os.environ.get("DATABASE_URL")
    if not database_url or not database_url.startswith("postgres") or not os.environ.get("REDIS_URL"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL server and REDIS_URL a Redis (the full stack)")
    admin_url, scratch_url = scratch_database(database_url, suffix=suffix)
    media = Path(tempfile.mkdtemp(prefix="earshot" + suffix.replace("_", "-") + "-"))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": scratch_url,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(media),
        "EARSHOT_RATE_LIMIT_RATER": "100000/min",
        "EARSHOT_RATE_LIMIT_IP": "100000/min",
    }
    return admin_url, scratch_url, urlparse(scratch_url).path.lstrip("/"), media, env


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


SERVERS = ("uvicorn", "gunicorn")


def server_label(kind: str, *, workers: int, threads: int) -> str:
    if kind == "uvicorn":
        return f"uvicorn config.asgi ({workers} workers)"
    return f"gunicorn gthread ({workers} workers × {threads} threads)"


def server_start(*, kind: str, env: dict[str, str], port: int, workers: int, threads: int) -> subprocess.Popen[bytes]:
    if kind == "uvicorn":
        command = [
            sys.executable, "-m", "uvicorn", "config.asgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning", "--lifespan", "off",
        ]
    else:
        command = [
            sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py"),
            "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
            "--log-level", "warning",
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
            raise SystemExit(f"the web server exited with {server.returncode}")
        connection = Connection("127.0.0.1", port, {})
        try:
            if (await connection.request("GET", "/api/systems/"))[0] == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        await asyncio.sleep(0.2)
    raise SystemExit("the web server did not answer in time")


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


def _vote_sql() -> dict[str, Any]:
    """The vote's writes as SQL written out: lock the battle, insert its vote, close it, insert the next battle;
    the rows are copied from a vote the API recorded (and its battle), so they are as wide as real ones."""
    from django.db.models import Model
    from psycopg import sql

    from arena.models import Battle, Vote

    def copy(model: type[Model], overrides: dict[str, sql.Composable]) -> sql.Composed:
        columns = [field.column for field in model._meta.concrete_fields if not field.primary_key]
        return sql.SQL("INSERT INTO {table} ({columns}) SELECT {values} FROM {table} WHERE id = %(template)s").format(
            table=sql.Identifier(model._meta.db_table),
            columns=sql.SQL(", ").join(sql.Identifier(column) for column in columns),
            values=sql.SQL(", ").join(overrides.get(column, sql.Identifier(column)) for column in columns),
        )

    template = Vote.objects.order_by("-id").values_list("id", "battle_id").first()
    assert template is not None, "the API recorded no vote to copy"
    battle_table = sql.Identifier(Battle._meta.db_table)
    return {
        "template_vote": template[0],
        "template_battle": template[1],
        "lock": sql.SQL("SELECT id, status FROM {} WHERE id = %(battle)s FOR UPDATE").format(battle_table),
        "vote": copy(Vote, {"battle_id": sql.SQL("%(battle)s"), "created_at": sql.SQL("now()")}),
        "close": sql.SQL("UPDATE {} SET status = 'voted' WHERE id = %(battle)s").format(battle_table),
        "next": copy(Battle, {
            "public_id": sql.SQL("gen_random_uuid()"), "status": sql.SQL("'open'"),
            "created_at": sql.SQL("now()"), "expires_at": sql.SQL("now() + interval '1 hour'"),
            "abandoned_at": sql.SQL("NULL"),
        }) + sql.SQL(" RETURNING id"),
    }


async def ceiling_loop(url: str, statements: dict[str, Any], tally: Tally, stop: asyncio.Event) -> None:
    """One client running votes as SQL: each a transaction of four statements on its own connection."""
    battle_template, vote_template = statements["template_battle"], statements["template_vote"]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        battle = (await (await conn.execute(statements["next"], {"template": battle_template})).fetchone())[0]
        while not stop.is_set():
            start = time.perf_counter()
            async with conn.transaction():
                await conn.execute(statements["lock"], {"battle": battle})
                await conn.execute(statements["vote"], {"battle": battle, "template": vote_template})
                await conn.execute(statements["close"], {"battle": battle})
                row = await (await conn.execute(statements["next"], {"template": battle_template})).fetchone()
            elapsed = time.perf_counter() - start
            battle = row[0]
            if tally.recording:
                tally.latencies["vote"].append(elapsed)
                tally.votes += 1


async def ceiling_load(
    url: str, statements: dict[str, Any], *, clients: int, warmup: float, seconds: float, database: str
) -> tuple[Tally, float, dict[str, float]]:
    tally, stop = Tally(), asyncio.Event()
    tasks = [asyncio.create_task(ceiling_loop(url, statements, tally, stop)) for _ in range(clients)]
    await asyncio.sleep(warmup)
    cpu_before = cpu_seconds(server_pid=-1, database=database)
    tally.recording = True
    started = time.perf_counter()
    await asyncio.sleep(seconds)
    tally.recording = False
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(server_pid=-1, database=database)
    stop.set()
    await asyncio.gather(*tasks)
    return tally, elapsed, {part: cpu_after[part] - cpu_before[part] for part in cpu_after}


@dataclass
class ServerRun:
    """One web server's figures: the no-op reference (if measured) and the vote flow."""

    label: str
    votes: tuple[Tally, float, dict[str, float]]
    reference: tuple[Tally, float, dict[str, float]] | None


def server_measure(
    kind: str, *, args: argparse.Namespace, env: dict[str, str], tokens: list[str], database: str
) -> ServerRun:
    workers = args.workers if kind == "uvicorn" else args.gunicorn_workers
    port = free_port()
    server = server_start(kind=kind, env=env, port=port, workers=workers, threads=args.threads)
    try:
        asyncio.run(server_ready(port, server))
        reference = None
        if args.reference_seconds > 0:
            reference = asyncio.run(
                load(port, tokens, flow=args.flow, warmup=args.warmup, seconds=args.reference_seconds,
                     server_pid=server.pid, database=database, loop=reference_loop)
            )
        votes = asyncio.run(
            load(port, tokens, flow=args.flow, warmup=args.warmup, seconds=args.seconds, server_pid=server.pid,
                 database=database)
        )
    finally:
        server_stop(server)
    return ServerRun(label=server_label(kind, workers=workers, threads=args.threads), votes=votes,
                     reference=reference)


def server_report(run: ServerRun, *, args: argparse.Namespace, queries: dict[str, int], use_pool: bool) -> None:
    """The per-endpoint figures of one server, as the bench has always printed them."""
    tally, elapsed, cpu = run.votes
    print(f"\n== {run.label}")
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
    if run.reference is not None:
        ref_tally, ref_elapsed, ref_cpu = run.reference
        values = ref_tally.latencies["healthz"]
        ref_rate = len(values) / ref_elapsed
        ref_web = 1000 * ref_cpu["web"] / max(len(values), 1)
        print(f"reference: GET /healthz (a Django view doing no work, same server and clients): {ref_rate:8.1f} req/s, "
              f"p50 {1000 * statistics.median(values):.1f} ms, p99 {1000 * percentile(values, 0.99):.1f} ms, "
              f"web CPU {ref_web:.2f} ms/request")
        if tally.votes:
            print(f"  → votes/s are {tally.votes / elapsed / ref_rate:.2f}× the reference request rate; "
                  f"web CPU per vote is {1000 * cpu['web'] / tally.votes / ref_web:.1f}× a request doing no work")
    cpu = dict(cpu)
    if not use_pool:
        cpu.pop("postgres")  # a backend per request exits before its CPU time can be read
    if tally.votes:
        per_vote = {part: 1000 * seconds / tally.votes for part, seconds in cpu.items()}
        print("CPU per vote (and its battle): " + ", ".join(f"{part} {ms:.1f} ms" for part, ms in per_vote.items()))
        if "postgres" in per_vote:
            server_ms = per_vote["web"] + per_vote["postgres"]
            print(
                f"  → web + database alone need {server_ms:.1f} ms of CPU per vote: at most "
                f"{1000 * (os.cpu_count() or 1) / server_ms:.0f} votes/s on {os.cpu_count()} otherwise idle cores"
            )


# Issue 18's targets on the 2-core machine, 16 clients, page flow.
TARGET_VOTES_PER_SECOND, TARGET_P99_MS, TARGET_CPU_RATIO = 300.0, 100.0, 3.0


def summary_report(
    runs: list[ServerRun], ceiling: tuple[Tally, float, dict[str, float]] | None, *, args: argparse.Namespace
) -> None:
    """Every server side by side, the database's ceiling under them, and the ratios."""
    width = max([len(run.label) for run in runs] + [41])
    print(f"\n== side by side: flow {args.flow!r}, {args.clients} clients")
    print(f"{'':{width}s} {'no-op/s':>8s} {'no-op CPU':>10s} {'votes/s':>8s} {'vote p50':>9s} {'vote p99':>9s} "
          f"{'web CPU/vote':>13s} {'÷ no-op':>8s} {'pg CPU/vote':>12s}")
    figures = {}
    for run in runs:
        tally, elapsed, cpu = run.votes
        values = tally.latencies.get("vote", [])
        rate = tally.votes / elapsed
        web_vote = 1000 * cpu["web"] / tally.votes if tally.votes else float("nan")
        pg_vote = 1000 * cpu["postgres"] / tally.votes if tally.votes else float("nan")
        ref_rate = ref_web = float("nan")
        if run.reference is not None:
            ref_tally, ref_elapsed, ref_cpu = run.reference
            count = len(ref_tally.latencies["healthz"])
            ref_rate, ref_web = count / ref_elapsed, 1000 * ref_cpu["web"] / max(count, 1)
        p50 = 1000 * statistics.median(values) if values else float("nan")
        p99 = 1000 * percentile(values, 0.99) if values else float("nan")
        figures[run.label] = (rate, p99, web_vote / ref_web)
        print(f"{run.label:{width}s} {ref_rate:8.0f} {ref_web:7.2f} ms {rate:8.1f} {p50:6.1f} ms {p99:6.1f} ms "
              f"{web_vote:10.2f} ms {web_vote / ref_web:7.1f}× {pg_vote:9.2f} ms")
    if ceiling is not None:
        tally, elapsed, cpu = ceiling
        values = tally.latencies["vote"]
        rate = tally.votes / elapsed
        print(f"{'database only (the vote as SQL, psycopg)':{width}s} {'–':>8s} {'–':>10s} {rate:8.1f} "
              f"{1000 * statistics.median(values):6.1f} ms {1000 * percentile(values, 0.99):6.1f} ms "
              f"{'–':>13s} {'–':>8s} {1000 * cpu['postgres'] / max(tally.votes, 1):9.2f} ms")
        print(f"  database only: the load generator's CPU {1000 * cpu['load generator'] / max(tally.votes, 1):.2f} ms "
              f"per vote (psycopg, one process for every client)")
        for run in runs:
            served = run.votes[0].votes / run.votes[1]
            print(f"  {run.label}: {served / rate:.3f} of the database's ceiling")
    if len(runs) == 2:
        (first, (r1, p1, c1)), (second, (r2, p2, c2)) = figures.items()
        print(f"  {second} ÷ {first}: votes/s {r2 / r1:.2f}×, vote p99 {p2 / p1:.2f}×, "
              f"web CPU per vote ÷ no-op {c2 / c1:.2f}×")
    for label, (rate, p99, ratio) in figures.items():
        verdict = [f"votes/s {rate:.0f} {'≥' if rate >= TARGET_VOTES_PER_SECOND else '<'} "
                   f"{TARGET_VOTES_PER_SECOND:.0f}",
                   f"p99 {p99:.0f} ms {'<' if p99 < TARGET_P99_MS else '≥'} {TARGET_P99_MS:.0f} ms",
                   f"web CPU per vote {ratio:.1f}× {'≤' if ratio <= TARGET_CPU_RATIO else '>'} "
                   f"{TARGET_CPU_RATIO:.0f}× no-op"]
        print(f"  targets, {label}: " + "; ".join(verdict))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--servers", default=",".join(SERVERS),
                        help="the web servers to measure, in order (default: uvicorn,gunicorn)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (default: 2)")
    parser.add_argument("--gunicorn-workers", type=int, default=4, help="gunicorn worker processes (default: 4)")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker (default: 4)")
    parser.add_argument("--systems", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--flow", choices=("page", "separate"), default="page",
                        help="page: one request per vote (events and next battle ride with it, as the arena page "
                             "does); separate: create, events, vote (default: page)")
    parser.add_argument("--reference-seconds", type=float, default=5.0,
                        help="first measure GET /healthz (no work) this long with the same clients, as the reference "
                             "for what this server and machine can answer at all; 0 skips it (default: 5)")
    parser.add_argument("--db-ceiling", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the vote's SQL alone through psycopg with the same clients (default: on)")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--pool", action=argparse.BooleanOptionalAction, default=None,
                        help="psycopg connection pool in the server (default: when psycopg_pool is installed)")
    parser.add_argument("--pool-size", type=int, default=8, help="connections per server process")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.servers.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(SERVERS))
    if unknown or not kinds:
        raise SystemExit(f"--servers {args.servers!r}: choose from {', '.join(SERVERS)}")

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
        "EARSHOT_VOTES_PER_IP": "off",
        "EARSHOT_NEW_RATERS_PER_IP": "off",
    }
    os.environ.update(env)
    load_before = ", ".join(f"{x:.1f}" for x in os.getloadavg())  # the machine's other work, before ours adds to it
    database_recreate(admin_url, scratch_name)
    runs: list[ServerRun] = []
    ceiling = None
    try:
        tokens = seed(systems=args.systems, prompts=args.prompts, clients=args.clients, media=media)
        server_env = dict(env)
        if use_pool:
            server_env.update({"DB_POOL": "1", "DB_POOL_MAX": str(args.pool_size)})
        for kind in kinds:
            runs.append(server_measure(kind, args=args, env=server_env, tokens=tokens, database=scratch_name))
        queries = queries_per_request(tokens[0])
        if args.db_ceiling:
            ceiling = asyncio.run(ceiling_load(scratch_url, _vote_sql(), clients=args.clients, warmup=args.warmup,
                                               seconds=args.seconds, database=scratch_name))
    finally:
        if not args.keep_database:
            from django.db import connections

            connections.close_all()
            database_drop(admin_url, scratch_name)
        shutil.rmtree(media, ignore_errors=True)

    connections_used = f"psycopg pool of {args.pool_size} per process" if use_pool else "a new connection per request"
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"flow {args.flow!r}: {args.clients} concurrent clients (token auth), {connections_used}; "
        f"{args.seconds:.1f} s measured per server after {args.warmup:.0f} s warm-up; {os.cpu_count()} CPUs, "
        f"load average {load_before} before the bench, {load_average} at its end"
    )
    for run in runs:
        server_report(run, args=args, queries=queries, use_pool=use_pool)
    summary_report(runs, ceiling, args=args)


if __name__ == "__main__":
    main()

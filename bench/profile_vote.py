"""Where a vote's web CPU goes: N votes through the arena page's flow, in this process (Django's test client calls
the WSGI handler directly, no HTTP server), with CPU time, SQL statements and cache round trips per vote, the
no-op reference, and a profile of the handler's work.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot REDIS_URL=redis://127.0.0.1:6379/0 \\
       python bench/profile_vote.py [--votes 300] [--auth session|token] [--profiler pyinstrument|cprofile|none]

Per vote, as the arena page does: fetch both clips whole through the battle's audio URLs (the vote checks the
audio fetched), then vote with the last listening events and ask for the next battle (one POST). --auth session is
an anonymous browser (session cookie, CSRF checked, the rater in the session), --auth token a script with a token.
It creates, migrates and seeds a scratch database <name>_profile_vote (dropped afterwards) and runs with DEBUG=0,
EARSHOT_MIN_LISTEN_SECONDS=0 and the rate limits raised (still counted). CPU is this thread's time spent inside the
WSGI handler (request object to response, the database driver's and the cache client's share included; a server's
HTTP parsing left out), the least over batches of 25 votes, so the ratio to GET /healthz, measured the same way,
is the handler's own. It is a script, not a test.
"""
from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
BATCH = 25
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_arena import database_drop, database_recreate, scratch_database  # noqa: E402 - the arena bench's scratch database


def seed(*, systems: int, prompts: int) -> None:
    """Migrate and import systems × prompts real 3 s clips through the ingest."""
    from django.core.management import call_command

    from arena.ingest import clip_import
    from arena.models import Prompt, System
    from tests.factories import write_tone

    call_command("migrate", verbosity=0, interactive=False)
    made = [System.objects.create(name=f"Profile system {i}", slug=f"profile-{i}") for i in range(systems)]
    with tempfile.TemporaryDirectory() as folder:
        for p in range(prompts):
            prompt = Prompt.objects.create(text=f"Profile prompt {p}: an upbeat synth-pop groove at 120 BPM")
            for s, system in enumerate(made):
                path = write_tone(Path(folder) / f"{p}-{s}.wav", seconds=3.0, frequency=200.0 + 40 * s, seed=p * 97 + s)
                clip_import(system=system, prompt=prompt, path=path)


class Handler:
    """Counts this thread's CPU time inside the test client's WSGI handler, per request."""

    def __init__(self) -> None:
        from django.test.client import ClientHandler

        self.cpu = 0.0
        self.requests = 0
        original = ClientHandler.__call__

        def timed(handler: Any, environ: dict[str, Any]) -> Any:
            start = time.thread_time()
            try:
                return original(handler, environ)
            finally:
                self.cpu += time.thread_time() - start
                self.requests += 1

        ClientHandler.__call__ = timed  # type: ignore[method-assign]

    def reset(self) -> None:
        self.cpu, self.requests = 0.0, 0


def round_trips() -> Callable[[], int]:
    """A counter of commands sent to Redis (a pipeline is one round trip)."""
    import redis.connection

    sent = [0]
    original = redis.connection.AbstractConnection.send_packed_command

    def counted(connection: Any, command: Any, check_health: bool = True) -> None:
        sent[0] += 1
        original(connection, command, check_health)

    redis.connection.AbstractConnection.send_packed_command = counted  # type: ignore[method-assign]
    return lambda: sent[0]


class Rater:
    """One client voting through the page's flow."""

    def __init__(self, *, auth: str) -> None:
        from django.contrib.auth.models import User
        from django.test import Client
        from rest_framework.authtoken.models import Token

        if auth == "token":
            user = User.objects.create_user(f"profile-{time.monotonic_ns()}")
            self.client = Client(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        else:
            self.client = Client(enforce_csrf_checks=True)
            assert self.client.get("/").status_code == 200  # the page sets the CSRF cookie
            self.client.defaults["HTTP_X_CSRFTOKEN"] = self.client.cookies["csrftoken"].value
        created = self.client.post("/api/battles/")
        assert created.status_code == 201, created.content
        self.battle: dict[str, Any] = created.json()

    def audio(self) -> None:
        for side in ("a", "b"):
            response = self.client.get(urlparse(self.battle["clips"][side]["audio_url"]).path)
            assert response.status_code == 200, response.status_code
            b"".join(response.streaming_content) if response.streaming else response.content  # noqa: B018
            response.close()

    def vote(self) -> None:
        events = [
            {"type": "play", "side": "a", "position_ms": 0, "client_ms": 0},
            {"type": "pause", "side": "a", "position_ms": 40, "client_ms": 40},
            {"type": "play", "side": "b", "position_ms": 0, "client_ms": 45},
            {"type": "pause", "side": "b", "position_ms": 40, "client_ms": 85},
        ]
        body = {"choice": "a", "musicality": "b", "events": events, "next": True}
        answer = self.client.post(f"/api/battles/{self.battle['id']}/vote/", body, content_type="application/json")
        assert answer.status_code == 201, answer.content
        self.battle = answer.json()["next_battle"]


@contextmanager
def statements() -> Iterator[list[dict[str, str]]]:
    """The SQL statements run inside the block (filled in when it ends)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    ran: list[dict[str, str]] = []
    with CaptureQueriesContext(connection) as captured:
        yield ran
    ran.extend(captured.captured_queries)


def profiled(name: str, work: Callable[[], None]) -> str:
    if name == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
        work()
        profiler.stop()
        return profiler.output_text(unicode=True, color=False, show_all=False, short_mode=False)
    import cProfile
    import pstats

    profile = cProfile.Profile(time.thread_time)  # CPU time: waits on PostgreSQL and Redis left out
    profile.enable()
    work()
    profile.disable()
    out = io.StringIO()
    stats = pstats.Stats(profile, stream=out)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=300)
    parser.add_argument("--raters", type=int, default=16, help="raters voting in turn (default 16)")
    parser.add_argument("--auth", choices=("session", "token"), default="session")
    parser.add_argument("--profiler", choices=("pyinstrument", "cprofile", "none"), default="pyinstrument")
    parser.add_argument("--systems", type=int, default=4)
    parser.add_argument("--prompts", type=int, default=3)
    parser.add_argument("--keep-database", action="store_true")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (the script makes its own scratch database)")
    admin_url, scratch_url = scratch_database(database_url, suffix="_profile_vote")
    scratch_name = urlparse(scratch_url).path.lstrip("/")
    media = Path(tempfile.mkdtemp(prefix="earshot-profile-media-"))
    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": scratch_url,
        "REDIS_URL": os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(media),
        "EARSHOT_MIN_LISTEN_SECONDS": "0",
        "EARSHOT_RATE_LIMIT_RATER": "100000000/min",
        "EARSHOT_RATE_LIMIT_IP": "100000000/min",
        "EARSHOT_NEW_RATERS_PER_IP": "100000000/hour",
        "EARSHOT_VOTES_PER_IP": "100000000/day",
    })
    database_recreate(admin_url, scratch_name)
    try:
        import django

        django.setup()
        from django.core.cache import cache
        from django.db import connections
        from django.test import Client

        seed(systems=args.systems, prompts=args.prompts)
        cache.clear()
        handler = Handler()
        sent = round_trips()
        raters = [Rater(auth=args.auth) for _ in range(args.raters)]
        noop = Client()

        def one_vote(index: int) -> None:
            rater = raters[index % len(raters)]
            rater.audio()
            rater.vote()

        for i in range(len(raters)):  # warm: every rater's first vote, the sampling memo, the pool
            one_vote(i)

        # What one vote's three requests run, on a warm process.
        per_request: dict[str, int] = {}
        trips: dict[str, int] = {}
        rater = raters[0]
        before = sent()
        with statements() as audio:
            rater.audio()
        per_request["audio ×2"], trips["audio ×2"] = len(audio), sent() - before
        before = sent()
        with statements() as vote:
            rater.vote()
        per_request["vote+next"], trips["vote+next"] = len(vote), sent() - before

        # CPU per batch of BATCH; the least batch is the figure (other work on a shared machine only adds to it).
        noop_batches: list[float] = []
        for _ in range(max(args.votes, 200) // BATCH):
            handler.reset()
            for _ in range(BATCH):
                assert noop.get("/healthz").status_code == 200
            noop_batches.append(1000 * handler.cpu / BATCH)
        noop_cpu_ms = min(noop_batches)

        started = time.perf_counter()
        latencies: list[float] = []
        batches: list[float] = []
        for first in range(0, args.votes - args.votes % BATCH, BATCH):
            handler.reset()
            for i in range(first, first + BATCH):
                tick = time.perf_counter()
                one_vote(i)
                latencies.append(time.perf_counter() - tick)
            batches.append(1000 * handler.cpu / BATCH)
        wall = time.perf_counter() - started
        cpu_ms = min(batches)

        report = ""
        if args.profiler != "none":
            def work() -> None:
                for i in range(args.votes):
                    one_vote(i)

            report = profiled(args.profiler, work)
    finally:
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not have started
            pass
        if not args.keep_database:
            database_drop(admin_url, scratch_name)
        shutil.rmtree(media, ignore_errors=True)

    print(f"{args.votes} votes, {args.raters} raters in turn, auth {args.auth}, one thread; load "
          + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    print(f"web CPU per vote (2 audio GETs + vote with next): {cpu_ms:.2f} ms (least of {len(batches)} batches of "
          f"{BATCH}; median {statistics.median(batches):.2f}); GET /healthz {noop_cpu_ms:.3f} ms (median "
          f"{statistics.median(noop_batches):.3f}) → {cpu_ms / noop_cpu_ms:.1f}× a no-op request "
          f"({cpu_ms / 3 / noop_cpu_ms:.1f}× per request)")
    print(f"wall per vote p50 {1000 * statistics.median(latencies):.2f} ms ({len(latencies) / wall:.0f} votes/s in "
          f"one thread)")
    for name, count in per_request.items():
        print(f"SQL statements {name}: {count:2d}   cache round trips: {trips[name]}")
    kinds = Counter(query["sql"].split(" ", 1)[0] for query in audio + vote)
    print("  statements by kind: " + ", ".join(f"{kind} {n}" for kind, n in kinds.most_common()))
    for query in vote:
        print(f"    vote: {query['sql'][:140]}")
    if report:
        print(report)


if __name__ == "__main__":
    main()

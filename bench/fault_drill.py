"""Fault drill: votes under fire. No vote acknowledged may be lost or doubled, and the board must catch up.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot python bench/fault_drill.py [--clients 8]
       [--votes 600] [--seconds 60]

It makes a scratch PostgreSQL database of its own (<name>_fault_drill, dropped afterwards), a private
`redis-server` on a spare port (started and stopped here; the machine's shared Redis is never touched), and runs
the arena as in production: the web server (`uvicorn config.asgi:application`), a Celery worker and Celery beat,
all on that Redis. Concurrent clients create battles, fetch both clips through their per-battle URLs, vote (with
the page's last listening events) and resend some of their votes; a vote whose answer never came (connection
dropped, 5xx) is resent until it is answered, as a careful client would. Meanwhile it:

1. kills Redis (SIGKILL) and starts it again a few seconds later (empty: it keeps nothing on disk);
2. kills the Celery worker (SIGKILL) while a recompute holds its claim, and starts a new one;
3. kills the web server (SIGKILL) once and starts it again.

Then it stops the clients, lets beat's periodic full recompute catch the board up, and prints: votes sent,
acknowledged (2xx), stored, lost (acknowledged but not stored, or stored with another choice: must be 0), doubled
(more than one stored vote for a battle, or a resend answered with another choice: must be 0), and whether the
final arena board equals a fresh recompute from the stored votes. Exit status 1 when a must-be-zero figure is not.
It is a script, not a test: it runs for about a minute and a half.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_arena import (  # noqa: E402 - after the path set-up
    database_drop,
    database_recreate,
    free_port,
    scratch_database,
    seed,
)

CHOICES = ("a", "b", "tie", "both_bad")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# ---------------------------------------------------------------------------------------------------------------
# Processes


@dataclass
class Process:
    """One of the stack's processes, restartable with the same command."""

    name: str
    command: list[str]
    env: dict[str, str]
    logfile: Path
    popen: subprocess.Popen[bytes] | None = None
    held_down: bool = False  # a fault holds it down: the supervisor leaves it be
    exits: list[int] = field(default_factory=list)  # exit codes of the times it stopped on its own

    def start(self) -> None:
        handle = self.logfile.open("ab")
        self.popen = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=handle, stderr=subprocess.STDOUT,
                                      start_new_session=True)
        handle.close()

    def kill(self) -> None:
        """SIGKILL to the whole process group: no clean shutdown, as a crash or the OOM killer would do it."""
        self.held_down = True
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait()

    def restart(self) -> None:
        self.start()
        self.held_down = False

    def stop(self) -> None:
        self.held_down = True
        if self.popen is not None and self.popen.poll() is None:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


async def wait_port(port: int, *, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise SystemExit(f"nothing answered on port {port} within {timeout:g} s")


# ---------------------------------------------------------------------------------------------------------------
# A lean HTTP/1.1 client (the load shares two cores with the whole stack)


class Dropped(Exception):
    """The connection broke before an answer came: the request may or may not have taken effect."""


class Connection:
    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.head = f"Host: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: Any = None, *, timeout: float = 15.0) -> tuple[int, bytes]:
        try:
            return await asyncio.wait_for(self._request(method, path, body), timeout)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError, ValueError) as exc:
            self.close()
            raise Dropped(f"{method} {path}: {type(exc).__name__}") from exc

    async def _request(self, method: str, path: str, body: Any) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        payload = b"" if body is None else json.dumps(body).encode()
        kind = "Content-Type: application/json\r\n" if body is not None else ""
        self.writer.write(
            f"{method} {path} HTTP/1.1\r\n{self.head}{kind}Content-Length: {len(payload)}\r\n\r\n".encode() + payload
        )
        await self.writer.drain()
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
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                chunk = await self.reader.readexactly(size + 2)
                if size == 0:
                    break
                parts.append(chunk[:-2])
            return status, b"".join(parts)
        return status, await self.reader.readexactly(length)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# ---------------------------------------------------------------------------------------------------------------
# Clients


@dataclass
class Ledger:
    """What the clients were told: the battles they voted on and the answers they got."""

    sent: set[str] = field(default_factory=set)
    acknowledged: dict[str, str] = field(default_factory=dict)  # battle public id -> the choice acknowledged
    resends: int = 0
    resend_mismatches: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    unanswered: int = 0  # votes given up on without any answer (the stack never came back in time)
    refused: Counter[str] = field(default_factory=Counter)


def _events() -> list[dict[str, Any]]:
    return [
        {"type": "play", "side": "a", "position_ms": 0, "client_ms": 0},
        {"type": "pause", "side": "a", "position_ms": 40, "client_ms": 40},
        {"type": "play", "side": "b", "position_ms": 0, "client_ms": 45},
        {"type": "pause", "side": "b", "position_ms": 40, "client_ms": 85},
    ]


async def answered(connection: Connection, method: str, path: str, body: Any, ledger: Ledger, what: str,
                   *, deadline: float) -> tuple[int, bytes] | None:
    """The request's first real answer (not a dropped connection, not a 5xx), resending until `deadline`."""
    while time.monotonic() < deadline:
        try:
            status, data = await connection.request(method, path, body)
        except Dropped:
            ledger.statuses[f"{what} dropped"] += 1
            await asyncio.sleep(0.3)
            continue
        ledger.statuses[f"{what} {status}"] += 1
        if status >= 500 or status == 429:
            await asyncio.sleep(0.3)
            continue
        return status, data
    return None


async def client(port: int, token: str, ledger: Ledger, *, votes: int, stop_at: float, give_up_at: float,
                 rng: random.Random) -> None:
    connection = Connection(port, token)
    try:
        for _ in range(votes):
            if time.monotonic() > stop_at:
                return
            created = await answered(connection, "POST", "/api/battles/", None, ledger, "create", deadline=stop_at)
            if created is None or created[0] != 201:
                await asyncio.sleep(0.2)
                continue
            battle = json.loads(created[1])
            url = f"/api/battles/{battle['id']}"
            for side in ("a", "b"):  # a real page fetches both clips before anyone can hear them
                await answered(connection, "GET", f"{url}/audio/{side}", None, ledger, "audio", deadline=stop_at)
            choice = rng.choice(CHOICES)
            body = {"choice": choice, "events": _events()}
            ledger.sent.add(battle["id"])
            outcome = await answered(connection, "POST", f"{url}/vote/", body, ledger, "vote", deadline=give_up_at)
            if outcome is None:
                ledger.unanswered += 1
                continue
            status, data = outcome
            if status not in (200, 201):
                ledger.refused[f"{status} {json.loads(data).get('code', '?') if data else ''}"] += 1
                continue
            ledger.acknowledged[battle["id"]] = choice
            if rng.random() < 0.25:  # a client that did not see the answer would send the same vote again
                again = await answered(connection, "POST", f"{url}/vote/", body, ledger, "resend",
                                       deadline=give_up_at)
                ledger.resends += 1
                if again is not None and (again[0] != 200 or json.loads(again[1]).get("choice") != choice):
                    ledger.resend_mismatches += 1
    finally:
        connection.close()


# ---------------------------------------------------------------------------------------------------------------
# Faults


async def claim_held(database_url: str, *, within: float) -> bool:
    """Wait until a leaderboard recompute holds its single-flight claim (it is then reading or fitting)."""
    deadline = time.monotonic() + within
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            cursor = await conn.execute("SELECT count(*) FROM scoring_scoperecompute WHERE running_since IS NOT NULL")
            row = await cursor.fetchone()
            if row and row[0]:
                return True
            await asyncio.sleep(0.002)
    return False


async def faults(stack: dict[str, Process], redis_port: int, web_port: int, database_url: str,
                 schedule: dict[str, float], report: list[str]) -> None:
    started = time.monotonic()

    async def at(offset: float) -> None:
        await asyncio.sleep(max(0.0, started + offset - time.monotonic()))

    await at(schedule["redis"])
    stack["redis"].kill()
    log("fault 1: Redis killed (SIGKILL)")
    report.append("Redis killed for 5 s")
    await asyncio.sleep(5)
    stack["redis"].restart()
    await wait_port(redis_port)
    log("Redis started again (empty)")

    await at(schedule["worker"])
    caught = await claim_held(database_url, within=20)
    stack["worker"].kill()
    when = "in the middle of a recompute" if caught else "(no recompute was running)"
    log(f"fault 2: worker killed (SIGKILL) {when}")
    report.append(f"worker killed {when}")
    await asyncio.sleep(2)
    stack["worker"].restart()
    log("worker started again")

    await at(schedule["web"])
    stack["web"].kill()
    log("fault 3: web server killed (SIGKILL)")
    report.append("web server killed once")
    await asyncio.sleep(1)
    stack["web"].restart()
    await wait_port(web_port)
    log("web server started again")


async def supervise(stack: dict[str, Process], done: asyncio.Event) -> None:
    """Start again any process that stopped on its own, as compose's `restart: unless-stopped` or systemd's
    `Restart=always` would; each such exit is counted and printed, since it is a finding in itself."""
    while not done.is_set():
        for process in stack.values():
            if process.held_down or process.popen is None:
                continue
            code = process.popen.poll()
            if code is not None:
                process.exits.append(code)
                log(f"{process.name} exited on its own (status {code}; see {process.logfile.name}): started again")
                process.start()
        await asyncio.sleep(0.5)


# ---------------------------------------------------------------------------------------------------------------
# Checks


def stored_votes(database_url: str) -> tuple[dict[str, list[str]], int]:
    """Stored choices per battle public id, and the total count of stored votes."""
    by_battle: dict[str, list[str]] = {}
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT b.public_id, v.choice FROM arena_vote v JOIN arena_battle b ON b.id = v.battle_id"
        ).fetchall()
    for public_id, choice in rows:
        by_battle.setdefault(str(public_id), []).append(choice)
    return by_battle, len(rows)


def board_matches_fresh_recompute(*, timeout: float) -> tuple[bool, str]:
    """Wait for the stored arena board to count every vote, then compare it with a recompute made here."""
    from django.db import connections

    from scoring.scopes import scope_parse
    from scoring.selectors import snapshot_current
    from scoring.services import snapshot_compute

    deadline = time.monotonic() + timeout
    scope = scope_parse("arena")
    while True:
        fresh = snapshot_compute(scope=scope)
        current = snapshot_current(scope="arena")
        same = (
            current is not None
            and current.vote_count == fresh.vote_count
            and current.extra.get("digest") == fresh.digest
            and current.rows == json.loads(json.dumps(fresh.rows))
            and current.win_rate == json.loads(json.dumps(fresh.win_rate))
        )
        if same or time.monotonic() > deadline:
            connections.close_all()
            shown = "none" if current is None else f"{current.vote_count} votes"
            return same, f"stored board: {shown}; fresh recompute: {fresh.vote_count} votes"
        time.sleep(1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--votes", type=int, default=5000, help="votes at most, spread over the clients")
    parser.add_argument("--seconds", type=float, default=40.0,
                        help="the clients stop starting new battles then (the faults fall inside this time)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database and logs")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL")
    if not database_url or not database_url.startswith("postgres"):
        raise SystemExit("DATABASE_URL must name a PostgreSQL server (the drill makes its own scratch database there)")
    admin_url, scratch_url = scratch_database(database_url, suffix="_fault_drill")
    scratch_name = urlparse(scratch_url).path.lstrip("/")
    work = Path(tempfile.mkdtemp(prefix="earshot-fault-drill-"))
    redis_port, web_port = free_port(), free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": scratch_url,
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "MEDIA_ROOT": str(work / "media"),
        "EARSHOT_MIN_LISTEN_SECONDS": "0",
        "EARSHOT_RATE_LIMIT_RATER": "off",
        "EARSHOT_RATE_LIMIT_IP": "off",
        "EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS": "0.5",
        "EARSHOT_RECOMPUTE_STALE_SECONDS": "5",  # a killed worker's claim is taken over after this
        "EARSHOT_FULL_RECOMPUTE_SECONDS": "10",  # beat's safety net, the minimum the settings allow
    }
    os.environ.update(env)
    python = sys.executable
    celery = [python, "-m", "celery", "-A", "config"]
    stack = {
        "redis": Process("redis", ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
                                   "--appendonly", "no", "--dir", str(work)], env, work / "redis.log"),
        "worker": Process("worker", [*celery, "worker", "-l", "warning", "--concurrency", "1", "-n",
                                     f"drill-{redis_port}@%h"], env, work / "worker.log"),
        "beat": Process("beat", [*celery, "beat", "-l", "warning", "-s", str(work / "beat-schedule")], env,
                        work / "beat.log"),
        "web": Process("web", [python, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1", "--port",
                               str(web_port), "--workers", "1", "--no-access-log", "--log-level", "warning",
                               "--lifespan", "off"], env, work / "web.log"),
    }
    ledger, report = Ledger(), []
    started = time.monotonic()
    database_recreate(admin_url, scratch_name)
    try:
        stack["redis"].start()
        asyncio.run(wait_port(redis_port))
        log(f"private redis-server on port {redis_port}; seeding {scratch_name}")
        tokens = seed(systems=4, prompts=3, clients=args.clients, media=work / "media")
        for name in ("worker", "beat", "web"):
            stack[name].start()
        asyncio.run(wait_port(web_port))
        log(f"web on port {web_port}, worker and beat started; {args.clients} clients, {args.votes} votes at most")

        async def drill() -> None:
            begin = time.monotonic()
            stop_at, give_up_at = begin + args.seconds, begin + args.seconds + 60
            each = max(1, args.votes // args.clients)
            schedule = {"redis": 0.15 * args.seconds, "worker": 0.4 * args.seconds, "web": 0.7 * args.seconds}
            clients = [
                client(web_port, token, ledger, votes=each, stop_at=stop_at, give_up_at=give_up_at,
                       rng=random.Random(i))
                for i, token in enumerate(tokens)
            ]
            done = asyncio.Event()
            watcher = asyncio.create_task(supervise(stack, done))
            await asyncio.gather(faults(stack, redis_port, web_port, scratch_url, schedule, report), *clients)
            done.set()
            await watcher

        asyncio.run(drill())
        log("clients done; waiting for beat's full recompute to catch the board up")
        board_same, board_detail = board_matches_fresh_recompute(timeout=60)
        stored, stored_count = stored_votes(scratch_url)
    finally:
        for name in ("web", "beat", "worker", "redis"):
            stack[name].stop()
        from django.db import connections

        connections.close_all()
        if not args.keep:
            database_drop(admin_url, scratch_name)
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept: database {scratch_name}, logs and media in {work}")

    lost = [b for b, choice in ledger.acknowledged.items() if stored.get(b) != [choice]]
    doubled = sum(1 for choices in stored.values() if len(choices) > 1) + ledger.resend_mismatches
    unacknowledged_stored = sum(1 for b in stored if b not in ledger.acknowledged)
    print()
    print(f"fault drill: {args.clients} clients, {time.monotonic() - started:.0f} s in all; faults: "
          + "; ".join(report))
    print(f"votes sent            {len(ledger.sent):6d}  (distinct battles voted on; {ledger.resends} resent after "
          "an answer)")
    print(f"acknowledged (2xx)    {len(ledger.acknowledged):6d}")
    print(f"stored                {stored_count:6d}  ({unacknowledged_stored} stored whose answer never reached the "
          "client)")
    print(f"refused (4xx)         {sum(ledger.refused.values()):6d}  {dict(ledger.refused) or ''}")
    print(f"never answered        {ledger.unanswered:6d}")
    print(f"lost                  {len(lost):6d}  (acknowledged but not stored as acknowledged; must be 0)")
    print(f"doubled               {doubled:6d}  (two votes on a battle, or a resend answered differently; must be 0)")
    restarted = {name: process.exits for name, process in stack.items() if process.exits}
    print(f"stopped on their own  {sum(len(codes) for codes in restarted.values()):6d}  "
          + (", ".join(f"{name} (status {codes})" for name, codes in restarted.items()) or "none")
          + "; each was started again, as a supervisor would")
    print(f"final board equals a fresh recompute: {'yes' if board_same else 'NO'} ({board_detail})")
    answers = ", ".join(f"{name} {count}" for name, count in sorted(ledger.statuses.items()))
    print(f"answers seen: {answers}")
    if lost or doubled or not board_same:
        raise SystemExit(1)


if __name__ == "__main__":
    main()

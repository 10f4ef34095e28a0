"""Vote → push latency on the full stack: a vote over HTTP, the Celery worker's debounced recompute, the snapshot
pushed on the leaderboard websocket.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot REDIS_URL=redis://127.0.0.1:6379/0 \\
       python bench/bench_push.py [--votes 40] [--gap 1.0]

It creates and migrates a scratch database of its own (<name>_bench_push, dropped afterwards), seeds systems,
prompts and real clips, starts `uvicorn config.asgi:application` and a Celery worker (solo pool, the default queue
of REDIS_URL's broker) with the project's defaults (debounce, bootstrap rounds) and EARSHOT_MIN_LISTEN_SECONDS=0,
keeps one websocket on ws/leaderboards/arena/, and casts votes one by one with random pauses (0 to 2 × --gap
seconds) between them. A vote's latency runs from sending its POST to the first pushed snapshot that counts it.
It prints p50, p95 and max. It is a script, not a test.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from bench_arena import (  # noqa: E402 - the scratch database and server helpers of the arena bench
    database_drop,
    database_recreate,
    free_port,
    full_stack_scratch,
    percentile,
    seed,
    server_ready,
    server_start,
    server_stop,
)


def worker_start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A Celery worker like the compose file's, its log (one line per task) in `log`."""
    command = [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "--pool", "solo", "--concurrency",
               "1", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"]
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=output,
                                stderr=subprocess.STDOUT)


async def measure(port: int, token: str, *, votes: int, gap: float, rng: random.Random) -> list[float]:
    latencies: list[float] = []
    headers = {"Authorization": f"Token {token}"}
    async with (
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=30) as client,
        websockets.connect(f"ws://127.0.0.1:{port}/ws/leaderboards/arena/", origin="http://127.0.0.1") as socket,
    ):
        first = json.loads(await socket.recv())
        counted = (first["snapshot"] or {}).get("vote_count", 0)
        # one vote before measuring: the worker's first task imports and warms up what later ones reuse
        for index in range(votes + 1):
            battle = (await client.post("/api/battles/")).json()
            sent = time.perf_counter()
            answer = await client.post(f"/api/battles/{battle['id']}/vote/", json={"choice": rng.choice("ab")})
            if answer.status_code != 201:
                raise SystemExit(f"vote answered {answer.status_code}: {answer.text}")
            target = counted + 1
            while counted < target:
                frame = json.loads(await asyncio.wait_for(socket.recv(), timeout=60))
                if frame.get("type") == "snapshot" and frame["snapshot"]:
                    counted = max(counted, frame["snapshot"]["vote_count"])
            if index:
                latencies.append(time.perf_counter() - sent)
            await asyncio.sleep(rng.uniform(0, 2 * gap))
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--votes", type=int, default=40)
    parser.add_argument("--gap", type=float, default=1.0, help="mean pause between votes, seconds (default: 1)")
    parser.add_argument("--systems", type=int, default=6)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    admin_url, _, scratch_name, media, env = full_stack_scratch("_bench_push")
    env["EARSHOT_MIN_LISTEN_SECONDS"] = "0"
    os.environ.update(env)
    database_recreate(admin_url, scratch_name)
    server = worker = None
    try:
        token = seed(systems=args.systems, prompts=2, clients=1, media=media)[0]
        from django.conf import settings

        debounce, rounds = settings.EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS, settings.EARSHOT_BOOTSTRAP_ROUNDS
        port = free_port()
        server = server_start(kind="uvicorn", env=env, port=port, workers=1, threads=1)  # the websockets need ASGI
        worker = worker_start(env, media / "worker.log")
        asyncio.run(server_ready(port, server))
        try:
            latencies = asyncio.run(measure(port, token, votes=args.votes, gap=args.gap,
                                            rng=random.Random(args.seed)))
        except BaseException:
            print((media / "worker.log").read_text()[-4000:], file=sys.stderr)
            raise
    finally:
        for process in (server, worker):
            if process is not None:
                server_stop(process)
        from django.db import connections

        connections.close_all()
        database_drop(admin_url, scratch_name)
        shutil.rmtree(media, ignore_errors=True)

    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"vote → push over uvicorn, a solo Celery worker and the Redis channel layer: {len(latencies)} votes, "
          f"{args.systems} systems, pauses 0–{2 * args.gap:g} s; debounce {debounce:g} s, {rounds} bootstrap rounds; "
          f"{os.cpu_count()} CPUs, load {load_average}")
    print(f"push latency  p50 {1000 * statistics.median(latencies):7.0f} ms  "
          f"p95 {1000 * percentile(latencies, 0.95):7.0f} ms  max {1000 * max(latencies):7.0f} ms")


if __name__ == "__main__":
    main()

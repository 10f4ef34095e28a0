"""Prompt → battle ready with live generation: the demo synthesiser served over HTTP (serve_demo_generator) as two
systems, a Celery worker on the generation queue, the API on gunicorn, against the generation time alone.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot REDIS_URL=redis://127.0.0.1:6379/0 \\
       python bench/bench_generation.py [--prompts 20] [--duration 5] [--poll-ms 10] [--early-poll-ms 100]

It creates and migrates a scratch database of its own (<name>_bench_generation, dropped afterwards), starts
`manage.py serve_demo_generator`, gunicorn (the HTTP server, as deployed) and a Celery worker (threads, 4) on the
generation and default queues, registers two demo profiles as HttpJsonGenerator systems, then submits prompts one
after another (POST /api/generations/ with a token) and polls the request until its battle is there: every
--early-poll-ms while both sides generate, every --poll-ms once one clip is in or the progress reaches 0.85, as the
page does (a poll every 10 ms all along costs the shared cores what the ingest needs; equal values poll evenly).

For each prompt: open = from sending the POST to the battle's opening (the request's ready_at, on this machine's
clock: it does not depend on the polling); seen = to the answer holding the battle (open plus the polling's lag);
generation alone = the slower side's time inside the generator adapter (the HTTP exchange with the synthesiser,
Generation.generation_ms); overhead = open − generation alone (the API, moderation and routing, the queue, the
ingest, opening the battle), split into the ingest of the side that finished last (decode, loudness, delivery
encode, storing) and the rest; overhead as seen = seen − generation alone. It prints p50 and p95 of each. A script,
not a test.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

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

PROFILES = ("aurora", "muffle")


def generator_start(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "manage.py", "serve_demo_generator", "--port", str(port), "--sample-rate", "22050"]
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=output,
                                stderr=subprocess.STDOUT)


def worker_start(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "celery", "-A", "config.celery", "worker", "-Q", "generation,celery",
               "--pool", "threads", "--concurrency", "4", "--without-gossip", "--without-mingle",
               "--without-heartbeat", "--loglevel", "WARNING"]
    with log.open("wb") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, start_new_session=True, stdout=output,
                                stderr=subprocess.STDOUT)


def wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the demo generator stopped")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("the demo generator did not start")


def measure(port: int, token: str, *, prompts: int, duration: float, poll_s: float, early_poll_s: float
            ) -> list[tuple[float, float, float, float]]:
    """(battle open, seen by the client, generation alone, ingest of the side that finished last) per prompt, in
    seconds from the POST. Open is read off the request's ready_at (the server's clock is this machine's), so it does
    not depend on how often the client polls."""
    from arena.models import GenerationRequest

    results = []
    headers = {"Authorization": f"Token {token}"}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as client:
        for index in range(prompts + 1):  # the first warms the worker up and is not counted
            body = {"prompt": f"bench {index}: a calm piano piece at 90 bpm", "duration": duration}
            started, started_wall = time.perf_counter(), time.time()
            answer = client.post("/api/generations/", json=body)
            answer.raise_for_status()
            data = answer.json()
            while data["battle"] is None:
                if data["status"] == "failed":
                    raise SystemExit(f"generation failed: {data['message']}")
                soon = data["stage"] == "finishing" or data["progress"] >= 0.85
                time.sleep(poll_s if soon else early_poll_s)
                data = client.get(f"/api/generations/{data['id']}/").json()
            seen = time.perf_counter() - started
            request = GenerationRequest.objects.select_related("generation_a", "generation_b").get(
                public_id=data["id"])
            sides = (request.generation_a, request.generation_b)
            alone = max(g.generation_ms or 0 for g in sides) / 1000
            last = max(sides, key=lambda g: g.finished_at)
            ingest = (last.finished_at - last.started_at).total_seconds() - (last.generation_ms or 0) / 1000
            assert request.ready_at is not None
            opened = request.ready_at.timestamp() - started_wall
            if index:
                results.append((opened, seen, alone, ingest))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prompts", type=int, default=20)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of music per clip (default: 5)")
    parser.add_argument("--poll-ms", type=float, default=10.0, help="near the end (default: 10)")
    parser.add_argument("--early-poll-ms", type=float, default=100.0, help="while both generate (default: 100)")
    args = parser.parse_args()

    admin_url, _, scratch_name, media, env = full_stack_scratch("_bench_generation")
    env.update({
        "EARSHOT_NEW_RATERS_PER_IP": "off",
        "EARSHOT_GENERATION_RATE_RATER": "off",
        "EARSHOT_GENERATION_RATE_IP": "off",
        "EARSHOT_POOL_READY_PER_PAIR": "0",
    })
    os.environ.update(env)
    database_recreate(admin_url, scratch_name)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        token = seed(systems=0, prompts=0, clients=1, media=media)[0]
        from arena.models import System

        generator_port, port = free_port(), free_port()
        for profile in PROFILES:
            System.objects.create(name=f"Demo {profile}", slug=profile,
                                  generator="arena.generation.generators.HttpJsonGenerator",
                                  generator_config={"endpoint": f"http://127.0.0.1:{generator_port}/{profile}",
                                                    "timeout_s": 60, "expected_s": 1.0})
        processes.append(generator_start(env, generator_port, media / "generator.log"))
        wait_listening(generator_port, processes[-1])
        processes.append(server_start(kind="gunicorn", env=env, port=port, workers=1, threads=4))
        processes.append(worker_start(env, media / "worker.log"))
        import asyncio

        asyncio.run(server_ready(port, processes[1]))
        try:
            results = measure(port, token, prompts=args.prompts, duration=args.duration, poll_s=args.poll_ms / 1000,
                              early_poll_s=args.early_poll_ms / 1000)
        except BaseException:
            print((media / "worker.log").read_text()[-4000:], file=sys.stderr)
            raise
    finally:
        for process in processes:
            server_stop(process)
        from django.db import connections

        connections.close_all()
        database_drop(admin_url, scratch_name)
        shutil.rmtree(media, ignore_errors=True)

    ready = [r for r, _, _, _ in results]
    seen = [s for _, s, _, _ in results]
    alone = [a for _, _, a, _ in results]
    overhead = [r - a for r, _, a, _ in results]
    overhead_seen = [s - a for _, s, a, _ in results]
    ingest = [i for _, _, _, i in results]
    rest = [r - a - i for r, _, a, i in results]
    load_average = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"prompt → battle ready: {len(results)} prompts, two demo systems over HTTP, {args.duration:g} s clips, "
          f"polling every {args.early_poll_ms:g} ms, then {args.poll_ms:g} ms; {os.cpu_count()} CPUs, "
          f"load {load_average}")
    for name, values in (("battle open", ready), ("seen by the client", seen), ("generation alone", alone),
                         ("overhead", overhead), ("of which ingest", ingest), ("the rest", rest),
                         ("overhead as seen", overhead_seen)):
        print(f"{name:>18}  p50 {1000 * statistics.median(values):7.0f} ms  "
              f"p95 {1000 * percentile(values, 0.95):7.0f} ms  max {1000 * max(values):7.0f} ms")


if __name__ == "__main__":
    main()

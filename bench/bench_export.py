"""Preference export at scale: one million arena votes exported to Parquet and to JSONL; time and peak memory.

Usage: DATABASE_URL=postgres://postgres@127.0.0.1:5432/earshot python bench/bench_export.py [--votes 1000000]

It creates and migrates a scratch database of its own (<name>_bench_export, dropped afterwards), writes the votes
with set-based SQL (20 systems, 2,000 prompts, one clip per system and prompt, 20,000 raters, per-axis answers on
half of the votes), then runs `export_preferences` once per format in a fresh process and prints its wall time and
peak resident memory (the child's ru_maxrss). Targets on the 2-core reference machine: under 60 s and under 500 MB.

Reference: the same rows read through a server-side cursor by psycopg alone, with nothing written (the floor any
export in Python pays), timed in the same run; the bench prints each export's ratio to it, so a figure measured on
one machine can be compared with one measured on another. It is a script, not a test.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.bench_arena import database_recreate, scratch_database  # noqa: E402

SEED_SQL = """
INSERT INTO arena_system (name, slug, organisation, description, active, created_at)
  SELECT 'System ' || i, 'system-' || i, 'Bench', '', true, now() FROM generate_series(1, 20) i;
INSERT INTO arena_prompt (text, lyrics, reference_audio, tags, language, source, created_at)
  SELECT 'an upbeat piece number ' || i || ' with warm pads and a steady groove', CASE WHEN i % 3 = 0
    THEN 'la la la, line ' || i ELSE '' END, '', '[]', 'en', 'bench', now() FROM generate_series(1, 2000) i;
INSERT INTO arena_clip (public_id, original, delivery, original_name, duration_s, sample_rate, channels, sha256,
                        loudness_lufs, delivery_lufs, active, created_at, prompt_id, system_id, delivery_frame_bytes)
  SELECT md5('clip' || p.id || '-' || s.id), 'originals/x.wav', 'delivery/x.mp3', 'x.wav', 10, 48000, 2,
         md5('sha' || p.id || '-' || s.id) || md5('x' || p.id || '-' || s.id), -16, -16, true, now(), p.id, s.id, 0
  FROM arena_prompt p CROSS JOIN arena_system s;
INSERT INTO arena_rater (public_id, external_id, created_at, battles_abandoned, battles_opened, excluded_from_boards,
                         ip_hash)
  SELECT md5('rater' || i)::uuid, '', now(), 0, 0, false, md5('ip' || i) FROM generate_series(1, 20000) i;
"""

BATTLES_SQL = """
CREATE TEMP TABLE plan AS
  SELECT i, 1 + (i * 7919) % 2000 AS prompt, 1 + (i * 31) % 20 AS sa, 1 + (i * 31 + 1 + (i % 19)) % 20 AS sb,
         1 + (i * 104729) % 20000 AS rater
  FROM generate_series(1::bigint, %(votes)s) i;
INSERT INTO arena_battle (public_id, mode, status, created_at, expires_at, ms_played_a, ms_played_b, seeks, switches,
                          suggestion_shown, suggestion_side, clip_a_id, clip_b_id, prompt_id, rater_id, last_side,
                          mark_position_ms, playing_side, audio_fetched_ms, reveal_systems)
  SELECT md5('battle' || i)::uuid, 'arena', 'voted', now() - (i || ' seconds')::interval, now(), 6000, 5000, 0, 1,
         false, '', ca.id, cb.id, plan.prompt, (SELECT id FROM arena_rater ORDER BY id LIMIT 1) + plan.rater - 1,
         '', 0, '', '{}', true
  FROM plan
  JOIN arena_system sa ON sa.slug = 'system-' || plan.sa
  JOIN arena_system sb ON sb.slug = 'system-' || plan.sb
  JOIN arena_clip ca ON ca.prompt_id = plan.prompt + (SELECT min(id) - 1 FROM arena_prompt) AND ca.system_id = sa.id
  JOIN arena_clip cb ON cb.prompt_id = plan.prompt + (SELECT min(id) - 1 FROM arena_prompt) AND cb.system_id = sb.id;
INSERT INTO arena_vote (choice, musicality, prompt_alignment, lyrics_alignment, reason, ms_played_a, ms_played_b,
                        seeks, switches, decision_ms, client_hints, ip_hash, suggestion_shown, suggestion_side,
                        created_at, battle_id, prompt_id, rater_id, system_a_id, system_b_id)
  SELECT (ARRAY['a','b','a','b','tie','both_bad'])[1 + b.id % 6],
         CASE WHEN b.id % 2 = 0 THEN (ARRAY['a','b','tie'])[1 + b.id % 3] ELSE '' END,
         CASE WHEN b.id % 2 = 0 THEN (ARRAY['b','a','tie'])[1 + b.id % 3] ELSE '' END, '',
         CASE WHEN b.id % 10 = 0 THEN 'the second one has a clearer melody' ELSE '' END,
         6000, 5000, 0, 1, 14000 + b.id % 9000, '{}', md5('ip' || b.rater_id), false, '', b.created_at, b.id,
         b.prompt_id, b.rater_id, ca.system_id, cb.system_id
  FROM arena_battle b JOIN arena_clip ca ON ca.id = b.clip_a_id JOIN arena_clip cb ON cb.id = b.clip_b_id;
ANALYZE;
"""

EXPORT = """
import sys, django
django.setup()
from pathlib import Path
from annotation.exports import ExportSpec, export_run
result = export_run(spec=ExportSpec(formats=(sys.argv[1],)), destination=Path(sys.argv[2]))
print(result.votes)
"""

READ_ONLY = """
import sys, psycopg
with psycopg.connect(sys.argv[1]) as conn, conn.cursor(name="bench") as cursor:
    cursor.itersize = 20000
    cursor.execute("SELECT v.id, b.public_id, v.created_at, v.prompt_id, v.system_a_id, v.system_b_id, b.clip_a_id, "
                   "b.clip_b_id, v.choice, v.musicality, v.prompt_alignment, v.lyrics_alignment, v.reason, "
                   "v.ms_played_a, v.ms_played_b, v.decision_ms, v.rater_id FROM arena_vote v JOIN arena_battle b "
                   "ON b.id = v.battle_id WHERE b.mode = 'arena' ORDER BY v.id")
    print(sum(1 for _ in cursor))
"""


def _child(code: str, *args: str, env: dict[str, str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of a fresh Python process running `code`."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                               text=True)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    out = process.stdout.read() if process.stdout else ""
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"child failed with {process.returncode}")
    return seconds, usage.ru_maxrss / 1024, out.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument("--reuse", action="store_true", help="use the scratch database a --keep run left")
    options = parser.parse_args()
    base = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/earshot")
    admin, url = scratch_database(base, suffix="_bench_export")
    name = url.rsplit("/", 1)[1]
    if not options.reuse:
        database_recreate(admin, name)
    env = {**os.environ, "DATABASE_URL": url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("REDIS_URL", None)
    out = Path(tempfile.mkdtemp(prefix="bench-export-"))
    try:
        subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        started = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            if not options.reuse:
                conn.execute(SEED_SQL)
                conn.execute(BATTLES_SQL.replace("%(votes)s", str(int(options.votes))))
            votes = conn.execute("SELECT count(*) FROM arena_vote").fetchone()[0]  # type: ignore[index]
        print(f"{'reused' if options.reuse else 'seeded'} {votes:,} votes in {time.perf_counter() - started:.1f} s")
        floor_s, floor_mb, read = _child(READ_ONLY, url, env=env)
        print(f"reference: read {int(read):,} rows with psycopg alone: {floor_s:.1f} s, peak {floor_mb:.0f} MB")
        print(f"{'format':<8} {'rows':>10} {'seconds':>8} {'peak MB':>8} {'file MB':>8} {'x reference':>12}")
        for fmt in ("parquet", "jsonl"):
            seconds, peak, rows = _child(EXPORT, fmt, str(out / fmt), env=env)
            size = sum(path.stat().st_size for path in (out / fmt / "data").iterdir()) / 1e6
            print(f"{fmt:<8} {int(rows):>10,} {seconds:>8.1f} {peak:>8.0f} {size:>8.0f} {seconds / floor_s:>12.2f}")
    finally:
        shutil.rmtree(out, ignore_errors=True)
        if not options.keep:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

#!/usr/bin/env bash
# Rebuild tests/migrations/data/pre_house.sql: a PostgreSQL database migrated and filled by the code as it was just
# before the house restructure (commit b436483: the reward model still in the scoring app), dumped as plain INSERTs.
# tests/migrations/test_house_migration.py loads it and runs today's migrations on it.
#
# Needs git history, PostgreSQL (createdb, pg_dump) and Redis; the old code runs with this checkout's .venv.
#   REDIS_URL=redis://127.0.0.1:6379/9 scripts/pre_house_dump.sh
# PGURL (default postgres://postgres@127.0.0.1:5432) is the server; PRE_HOUSE_DB (default earshot_pre_house) the
# scratch database, made and dropped again.
set -euo pipefail

COMMIT=b436483
ROOT=$(git rev-parse --show-toplevel)
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432}
DB=${PRE_HOUSE_DB:-earshot_pre_house}
: "${REDIS_URL:?set REDIS_URL to a Redis database the old code may use}"
OUT=$ROOT/tests/migrations/data/pre_house.sql

WORK=$(mktemp -d)
cleanup() {
    dropdb --if-exists --force --maintenance-db="$PGURL/postgres" "$DB" || true
    git -C "$ROOT" worktree remove --force "$WORK/old" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

git -C "$ROOT" worktree add --detach "$WORK/old" "$COMMIT" >/dev/null
ln -s "$(readlink -f "$ROOT/.venv")" "$WORK/old/.venv"

dropdb --if-exists --force --maintenance-db="$PGURL/postgres" "$DB"
createdb --maintenance-db="$PGURL/postgres" "$DB"

# Eager Celery: clip scores, agreement and boards are computed in this process, after each commit.
export DATABASE_URL=$PGURL/$DB REDIS_URL EARSHOT_DATA_DIR=$WORK/data CELERY_TASK_ALWAYS_EAGER=1 DB_POOL=0
cd "$WORK/old"
.venv/bin/python manage.py migrate --no-input -v 0
# Small on purpose: 4 systems x 3 prompts of 2 s clips, 80 votes; the bundled reward model scores the clips.
.venv/bin/python manage.py seed_demo --seed 7 --systems 4 --prompts 3 --duration 2 --sample-rate 16000 \
    --votes 80 --raters 6 --no-progress
.venv/bin/python manage.py shell -c "
from scoring.reward_agreement import agreement_recompute
from scoring.scopes import scopes_with_votes
from scoring.services import snapshot_refresh
for scope in scopes_with_votes():
    snapshot_refresh(scope=scope)
agreement_recompute(force=True)
"
# The bundled version was registered at this temporary checkout: store it where the image keeps it (/app).
psql -q -v ON_ERROR_STOP=1 -v old="$WORK/old" "$DATABASE_URL" <<'SQL'
UPDATE scoring_rewardmodelversion SET path = replace(path, :'old', '/app'),
       config = replace(config::text, :'old', '/app')::jsonb;
SQL

mkdir -p "$(dirname "$OUT")"
# \restrict/\unrestrict are psql commands with a random key (pg_dump 15.14 and later): the test loads plain SQL.
pg_dump --inserts --no-owner --no-privileges --no-comments "$DATABASE_URL" \
    | sed -e '/^\\restrict /d' -e '/^\\unrestrict /d' -e '/^-- Dumped by pg_dump version/d' >"$OUT"
echo "wrote $OUT ($(wc -c <"$OUT") bytes)"

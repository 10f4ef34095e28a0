# Verbs a newcomer expects. `make demo` and `make test` are the two README commands.
PY := .venv/bin/python
TEST_ENV := DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/earshot} \
            REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0}
PORT ?= 8000

.PHONY: venv demo test lint bench services reward-model fault-drill music-data

venv: node_modules/.package-lock.json
	@scripts/venv.sh

node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

services:
	@scripts/system-deps.sh
	@scripts/services.sh

demo: venv
	@unset DATABASE_URL REDIS_URL; $(PY) manage.py migrate --noinput -v0 && \
	  $(PY) manage.py seed_demo && \
	  $(PY) manage.py demo_admin && \
	  echo "==> Earshot demo on http://127.0.0.1:$(PORT)/  (admin at /admin/, API docs at /api/docs/)" && \
	  $(PY) manage.py runserver 127.0.0.1:$(PORT)

# Real recordings for the reward model's training and tests: free game music from Debian packages (apt-get download +
# dpkg -x into ~/.cache/earshot/music, never committed; a no-op when the cache is complete). See reward/ml/recordings.py.
music-data: venv
	$(PY) -m reward.ml.recordings fetch

test: venv services music-data
	$(TEST_ENV) $(PY) -m pytest $(PYTEST_ARGS)

lint: venv
	$(PY) -m ruff check .
	$(PY) -m mypy config core arena scoring reward annotation demo
	.venv/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py check
	$(PY) manage.py spectacular --fail-on-warn --validate --file /dev/null

bench: venv services
	$(PY) bench/bench_ratings.py
	$(PY) bench/bench_crowd.py
	$(PY) bench/bench_reward.py
	$(TEST_ENV) $(PY) bench/bench_arena.py
	$(TEST_ENV) $(PY) bench/bench_push.py
	$(TEST_ENV) $(PY) bench/bench_export.py

# Votes under fire: kills Redis, the Celery worker and the web server while clients vote; prints lost/doubled votes.
fault-drill: venv services
	$(TEST_ENV) $(PY) bench/fault_drill.py

# Rebuild the bundled reward model (reward/ml/weights) on a scratch embedded database; its time per stage is in the
# checkpoint's config.json (training.seconds) and NOTES.md.
reward-model: venv music-data
	@unset DATABASE_URL REDIS_URL; export EARSHOT_DATA_DIR=$$(mktemp -d); \
	  $(PY) manage.py migrate --noinput -v0 && $(PY) manage.py build_reward_model; \
	  status=$$?; rm -rf "$$EARSHOT_DATA_DIR"; exit $$status

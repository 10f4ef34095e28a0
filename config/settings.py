"""Earshot settings, all read from the environment.

With no DATABASE_URL / REDIS_URL the embedded default runs (SQLite, in-memory channel layer, eager Celery);
with both set, the same code runs on PostgreSQL, the Redis channel layer and real Celery workers.
"""
from __future__ import annotations

from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from config.env import env_bool, env_float, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_SECRET_KEY = "earshot-insecure-development-key"  # noqa: S105 - refused in production below

EARSHOT_ENV = env_str("EARSHOT_ENV", "development") or "development"
if EARSHOT_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"EARSHOT_ENV={EARSHOT_ENV!r} must be 'development' or 'production'")
PRODUCTION = EARSHOT_ENV == "production"

DEBUG = env_bool("DEBUG", not PRODUCTION)
SECRET_KEY = env_str("SECRET_KEY", DEFAULT_SECRET_KEY) or ""
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off in production (EARSHOT_ENV=production): set DEBUG=0")
    if SECRET_KEY in {"", DEFAULT_SECRET_KEY}:
        raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) must be set to a secret value in production")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# Peers whose X-Forwarded-For names the client (the reverse proxy); uvicorn and gunicorn read the same variable.
FORWARDED_ALLOW_IPS = env_list("FORWARDED_ALLOW_IPS", ["127.0.0.1", "::1"])

DATA_DIR = Path(env_str("EARSHOT_DATA_DIR", str(BASE_DIR / "var")) or BASE_DIR / "var")
DATABASE_URL = env_str("DATABASE_URL")
REDIS_URL = env_str("REDIS_URL")
EMBEDDED = DATABASE_URL is None and REDIS_URL is None

if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=env_int("DB_CONN_MAX_AGE", 0))}
    # Under ASGI every request runs in a fresh thread, so persistent connections leak and a storm of requests opens
    # one connection each until PostgreSQL refuses ("too many clients"); psycopg's pool bounds them. A request that
    # waits longer than DB_POOL_TIMEOUT for a connection answers 503 database_busy (core.busy).
    if env_bool("DB_POOL", True) and DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN", 2, minimum=1),
            "max_size": env_int("DB_POOL_MAX", 20, minimum=1),
            "timeout": env_float("DB_POOL_TIMEOUT", 5.0, minimum=0.01),
        }
else:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "earshot.sqlite3"),
            # WAL: readers never wait for the writer (the in-process worker's recompute reads while a vote
            # writes) and a commit appends to the log instead of rewriting pages and a journal.
            "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and ReDoc served from static files: the API docs work offline
    "channels",
    "arena",
    "scoring",
    "reward",
    "annotation",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "core.busy.DatabaseBusyMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
            ]
        },
    }
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(DATA_DIR / "static")) or "")
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns on every request about a missing root
# Front-end libraries come from npm (package.json, pinned); their licences stay beside them in node_modules.
STATICFILES_DIRS = [BASE_DIR / "static", ("vendor", BASE_DIR / "node_modules")]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")) or "")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
FILE_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024

# Django's database sessions, read with one written-out SELECT per request (core/sessions.py).
SESSION_ENGINE = "core.sessions"
SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_CONTENT_TYPE_NOSNIFF = True
# Production is served over HTTPS: redirect plain HTTP (off where the front server redirects, or for a trial on
# http://localhost), HSTS, and the header a TLS-terminating proxy sets (e.g. EARSHOT_PROXY_SSL_HEADER=
# X-Forwarded-Proto; only behind a proxy that always sets it, since a client could send it too).
SECURE_SSL_REDIRECT = env_bool("EARSHOT_SSL_REDIRECT", PRODUCTION)
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # a load balancer's probe over plain HTTP
SECURE_HSTS_SECONDS = env_int("EARSHOT_HSTS_SECONDS", 365 * 24 * 3600 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("EARSHOT_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("EARSHOT_HSTS_PRELOAD", True)
_PROXY_SSL_HEADER = env_str("EARSHOT_PROXY_SSL_HEADER", "") or ""
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _PROXY_SSL_HEADER.upper().replace("-", "_"), "https") if _PROXY_SSL_HEADER else None
)
# Pages load only this origin's scripts (ES modules; the import map carries the request's nonce), styles, audio
# and sockets. Inline styles stay allowed: wavesurfer.js writes its <style> into a shadow root.
EARSHOT_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "media-src": [CSP.SELF, "blob:"],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
SECURE_CSP = EARSHOT_CSP if env_bool("EARSHOT_CSP", PRODUCTION) else {}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_PARSER_CLASSES": [
        "core.parsers.StrictJsonParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exception_handler",
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 100,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Earshot API",
    "DESCRIPTION": "Blind pairwise listening tests for generated music: battles, votes, leaderboards, exports.",
    "VERSION": "0.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "ENUM_NAME_OVERRIDES": {"VoteChoiceEnum": "arena.models.Choice"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# Channels and Celery: Redis when REDIS_URL is set, in-process otherwise.
# How long a web process waits on a Redis that does not answer (cache, broker) before it gives up and goes on.
EARSHOT_REDIS_TIMEOUT_SECONDS = env_float("EARSHOT_REDIS_TIMEOUT_SECONDS", 2.0, minimum=0.1)
if REDIS_URL:
    # channels_redis waits for messages with a 5 s blocking pop: its socket must wait longer than that, or an idle
    # consumer dies of redis-py's 5 s default (django/channels_redis#422); keepalive and a health check find a
    # dead connection instead.
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [{
                    "address": REDIS_URL,
                    "socket_timeout": 30.0,
                    "socket_connect_timeout": EARSHOT_REDIS_TIMEOUT_SECONDS,
                    "socket_keepalive": True,
                    "health_check_interval": 30,
                }],
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    CELERY_BROKER_URL = "memory://"
    CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
# The queue tasks go to unless routed elsewhere (a test session's own queue, for the web processes it starts).
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_TASK_DEFAULT_QUEUE", "celery") or "celery"
# With eager Celery (the embedded default) a vote's debounced recomputes run on a thread of the web process after
# their countdown (core/inprocess.py), not inside the vote's request; 0 runs them in the request as eager Celery does.
EARSHOT_INPROCESS_WORKER = env_bool("EARSHOT_INPROCESS_WORKER", EMBEDDED)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A request that enqueues after its commit must not hang on a dead broker: one quick retry, then the hook logs.
CELERY_BROKER_CONNECTION_TIMEOUT = EARSHOT_REDIS_TIMEOUT_SECONDS
CELERY_BROKER_TRANSPORT_OPTIONS = {"socket_connect_timeout": EARSHOT_REDIS_TIMEOUT_SECONDS}
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1, "interval_max": 0.1}
CELERY_TIMEZONE = "UTC"

CACHES = {
    "default": (
        {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "OPTIONS": {
                "socket_connect_timeout": EARSHOT_REDIS_TIMEOUT_SECONDS,
                "socket_timeout": EARSHOT_REDIS_TIMEOUT_SECONDS,
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    )
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # one "Task ... succeeded" line per eager task would drown the demo's progress bars
    "loggers": {"celery.app.trace": {"level": "WARNING" if EMBEDDED else "INFO"}},
}

# Earshot's own defaults, all in one place.
EARSHOT_MAX_CLIP_SECONDS = env_float("EARSHOT_MAX_CLIP_SECONDS", 600.0, minimum=1.0)
# Samples a source may decode to (frames × channels × 4 bytes), checked from its header before decoding: by
# default a clip of the longest allowed length in stereo at 48 kHz, so a small file cannot claim gigabytes.
EARSHOT_MAX_DECODED_BYTES = env_int(
    "EARSHOT_MAX_DECODED_BYTES", int(EARSHOT_MAX_CLIP_SECONDS * 48000 * 2 * 4), minimum=1024 * 1024
)
EARSHOT_MAX_UPLOAD_BYTES = env_int("EARSHOT_MAX_UPLOAD_BYTES", 200 * 1024 * 1024, minimum=1024)
EARSHOT_TARGET_LUFS = env_float("EARSHOT_TARGET_LUFS", -16.0, minimum=-40.0, maximum=-5.0)
EARSHOT_SILENCE_LUFS = env_float("EARSHOT_SILENCE_LUFS", -70.0)
# Delivery files: 48 kHz stereo MP3 at this constant bitrate; each battle's copy starts with a tag of up to this
# many bytes of padding (drawn per battle), so the same clip's size and bytes differ between battles.
EARSHOT_DELIVERY_BITRATE_KBPS = env_int("EARSHOT_DELIVERY_BITRATE_KBPS", 192, minimum=32)
if EARSHOT_DELIVERY_BITRATE_KBPS not in {32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320}:
    raise ImproperlyConfigured(f"EARSHOT_DELIVERY_BITRATE_KBPS={EARSHOT_DELIVERY_BITRATE_KBPS} is not an MP3 bitrate")
EARSHOT_DELIVERY_PADDING_BYTES = env_int("EARSHOT_DELIVERY_PADDING_BYTES", 16384, minimum=1)
EARSHOT_MIN_LISTEN_SECONDS = env_float("EARSHOT_MIN_LISTEN_SECONDS", 5.0, minimum=0.0)
EARSHOT_BATTLE_TTL_SECONDS = env_int("EARSHOT_BATTLE_TTL_SECONDS", 3600, minimum=10)
EARSHOT_SAMPLING_POLICY = env_str("EARSHOT_SAMPLING_POLICY", "arena.sampling.BalancedPolicy")
EARSHOT_RATE_LIMIT_RATER = env_str("EARSHOT_RATE_LIMIT_RATER", "120/min")
EARSHOT_RATE_LIMIT_IP = env_str("EARSHOT_RATE_LIMIT_IP", "600/min")
# Failed admin sign-ins per user name and address in a window ('off' to disable); open websockets per address.
EARSHOT_LOGIN_RATE_LIMIT = env_str("EARSHOT_LOGIN_RATE_LIMIT", "10/hour")
EARSHOT_WS_PER_IP = env_int("EARSHOT_WS_PER_IP", 50, minimum=0)
EARSHOT_IP_HASH_SALT = env_str("EARSHOT_IP_HASH_SALT", SECRET_KEY)
EARSHOT_LEADERBOARD_MIN_VOTES = env_int("EARSHOT_LEADERBOARD_MIN_VOTES", 5, minimum=0)
EARSHOT_LEADERBOARD_PRELIMINARY_VOTES = env_int("EARSHOT_LEADERBOARD_PRELIMINARY_VOTES", 50, minimum=0)
EARSHOT_BOOTSTRAP_ROUNDS = env_int("EARSHOT_BOOTSTRAP_ROUNDS", 1000, minimum=0)
EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS = env_float("EARSHOT_RECOMPUTE_DEBOUNCE_SECONDS", 0.25, minimum=0.0)
EARSHOT_FULL_RECOMPUTE_SECONDS = env_float("EARSHOT_FULL_RECOMPUTE_SECONDS", 300.0, minimum=10.0)
# A queued or running recompute older than this is taken as lost (worker or broker gone) and may be replaced.
EARSHOT_RECOMPUTE_STALE_SECONDS = env_float("EARSHOT_RECOMPUTE_STALE_SECONDS", 120.0, minimum=1.0)
# Snapshots kept per scope (the ratings-over-time history); the periodic full recompute deletes older ones.
# Votes to separate: beyond this many further votes a pair of adjacent systems is "too close to separate".
EARSHOT_SEPARATION_BUDGET_VOTES = env_int("EARSHOT_SEPARATION_BUDGET_VOTES", 100000, minimum=0)
EARSHOT_LEADERBOARD_HISTORY_KEEP = env_int("EARSHOT_LEADERBOARD_HISTORY_KEEP", 2000, minimum=1)
EARSHOT_REWARD_MODEL_CLASS = env_str("EARSHOT_REWARD_MODEL_CLASS", "reward.ml.interface.BundledRewardModel")
EARSHOT_REWARD_MODEL_PATH = env_str("EARSHOT_REWARD_MODEL_PATH", str(BASE_DIR / "reward" / "ml" / "weights"))
EARSHOT_SUGGESTION_SHARE = env_float("EARSHOT_SUGGESTION_SHARE", 0.0, minimum=0.0, maximum=1.0)
# Arena: how long pair sampling may reuse its catalogue and vote counts; listening slack over a battle's age;
# audio hand-off to the front server (nginx X-Accel-Redirect prefix, or X-Sendfile), off by default.
EARSHOT_SAMPLING_CACHE_SECONDS = env_float("EARSHOT_SAMPLING_CACHE_SECONDS", 5.0, minimum=0.0)
# How long each web process may show the same ratings in the vote's reveal (0 reads the snapshot every time).
EARSHOT_REVEAL_RATINGS_CACHE_SECONDS = env_float("EARSHOT_REVEAL_RATINGS_CACHE_SECONDS", 2.0, minimum=0.0)
EARSHOT_LISTEN_SLACK_MS = env_int("EARSHOT_LISTEN_SLACK_MS", 2000, minimum=0)
EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX = env_str("EARSHOT_AUDIO_ACCEL_REDIRECT_PREFIX", "") or ""
EARSHOT_AUDIO_X_SENDFILE = env_bool("EARSHOT_AUDIO_X_SENDFILE", False)
# Throwaway raters and abandoned battles: open battles a rater may hold (a new one abandons the oldest), new
# anonymous raters and votes per hashed address, when a rater is flagged in the admin, and the periodic sweep
# (expired battles, anonymous raters with nothing to show older than the prune age, expired sessions).
EARSHOT_MAX_OPEN_BATTLES = env_int("EARSHOT_MAX_OPEN_BATTLES", 3, minimum=1)
EARSHOT_NEW_RATERS_PER_IP = env_str("EARSHOT_NEW_RATERS_PER_IP", "20/hour")
EARSHOT_VOTES_PER_IP = env_str("EARSHOT_VOTES_PER_IP", "2000/day")
EARSHOT_FLAG_ABANDON_SHARE = env_float("EARSHOT_FLAG_ABANDON_SHARE", 0.5, minimum=0.0, maximum=1.0)
EARSHOT_FLAG_ABANDON_MIN = env_int("EARSHOT_FLAG_ABANDON_MIN", 10, minimum=1)
EARSHOT_FLAG_RATERS_PER_IP = env_int("EARSHOT_FLAG_RATERS_PER_IP", 10, minimum=2)
EARSHOT_RATER_PRUNE_AFTER_SECONDS = env_int("EARSHOT_RATER_PRUNE_AFTER_SECONDS", 86400, minimum=0)
EARSHOT_SWEEP_SECONDS = env_float("EARSHOT_SWEEP_SECONDS", 3600.0, minimum=10.0)
# How often beat marks campaign leases past their time expired (handing out ignores them anyway).
EARSHOT_LEASE_SWEEP_SECONDS = env_float("EARSHOT_LEASE_SWEEP_SECONDS", 60.0, minimum=5.0)
# Preference exports: where their folders live (only admins download them, through the API), and the rolling public
# release: a beat task exports the arena's votes older than the embargo into a dated folder under the release root
# (a local folder, or a bucket mounted there) once per period; no root, no release.
EARSHOT_EXPORT_ROOT = Path(env_str("EARSHOT_EXPORT_ROOT", str(DATA_DIR / "exports")) or DATA_DIR / "exports")
EARSHOT_RELEASE_ROOT = env_str("EARSHOT_RELEASE_ROOT", "") or ""
EARSHOT_RELEASE_EMBARGO_DAYS = env_float("EARSHOT_RELEASE_EMBARGO_DAYS", 30.0, minimum=0.0)
EARSHOT_RELEASE_SECONDS = env_float("EARSHOT_RELEASE_SECONDS", 30 * 86400.0, minimum=60.0)
EARSHOT_RELEASE_LICENSE = env_str("EARSHOT_RELEASE_LICENSE", "cc-by-4.0") or "cc-by-4.0"

# Live generation (arena.generation): the router and moderation policy by class path, listeners' prompt limits,
# the Celery queue generations run on (a worker of its own, so they never hold up the recomputes), the ready pool of
# bank-prompt battles per system pair and how often beat refills it, and how often the page polls.
EARSHOT_PROMPT_ROUTER = env_str("EARSHOT_PROMPT_ROUTER", "arena.generation.routing.RuleRouter")
EARSHOT_MODERATION_POLICY = env_str("EARSHOT_MODERATION_POLICY", "arena.generation.moderation.RuleModeration")
EARSHOT_PROMPT_MAX_CHARS = env_int("EARSHOT_PROMPT_MAX_CHARS", 500, minimum=1)
EARSHOT_LYRICS_MAX_CHARS = env_int("EARSHOT_LYRICS_MAX_CHARS", 3000, minimum=0)
EARSHOT_GENERATION_QUEUE = env_str("EARSHOT_GENERATION_QUEUE", "generation") or "generation"
EARSHOT_POOL_READY_PER_PAIR = env_int("EARSHOT_POOL_READY_PER_PAIR", 2, minimum=0)
EARSHOT_POOL_REFILL_SECONDS = env_float("EARSHOT_POOL_REFILL_SECONDS", 60.0, minimum=1.0)
EARSHOT_GENERATION_POLL_MS = env_int("EARSHOT_GENERATION_POLL_MS", 500, minimum=50)
# Battles asked of the generators (POST /api/generations/: a written prompt or a bank take) per rater and per client
# address: each one costs two generations ('off' for no limit).
EARSHOT_GENERATION_RATE_RATER = env_str("EARSHOT_GENERATION_RATE_RATER", "10/min")
EARSHOT_GENERATION_RATE_IP = env_str("EARSHOT_GENERATION_RATE_IP", "60/hour")
CELERY_TASK_ROUTES = {
    "arena.tasks.generation_run": {"queue": EARSHOT_GENERATION_QUEUE},
    "arena.tasks.generation_pool_refill": {"queue": EARSHOT_GENERATION_QUEUE},
}

CELERY_BEAT_SCHEDULE = {
    "leaderboards-full-recompute": {
        "task": "scoring.tasks.leaderboards_recompute_all",
        "schedule": EARSHOT_FULL_RECOMPUTE_SECONDS,
    },
    # skips itself when neither votes nor scores changed since the last report
    "reward-agreement-recompute": {
        "task": "reward.tasks.agreement_recompute_task",
        "schedule": EARSHOT_FULL_RECOMPUTE_SECONDS,
    },
    "arena-sweep": {"task": "arena.tasks.arena_sweep", "schedule": EARSHOT_SWEEP_SECONDS},
    "generation-pool-refill": {"task": "arena.tasks.generation_pool_refill", "schedule": EARSHOT_POOL_REFILL_SECONDS},
    "campaign-leases-expire": {"task": "annotation.tasks.leases_expire", "schedule": EARSHOT_LEASE_SWEEP_SECONDS},
    # does nothing unless EARSHOT_RELEASE_ROOT is set
    "public-release": {"task": "annotation.tasks.release_publish", "schedule": EARSHOT_RELEASE_SECONDS},
}

"""gunicorn settings for Earshot's HTTP side (pages, the API, audio checks): threaded workers (gthread) running
config.wsgi. Websockets (/ws/) run under uvicorn config.asgi; a reverse proxy routes between them
(docker/nginx.conf.template). Any setting here can be overridden on the command line or in GUNICORN_CMD_ARGS.

    gunicorn -c config/gunicorn.conf.py                # 0.0.0.0:8000, WEB_CONCURRENCY workers × GUNICORN_THREADS
"""
from __future__ import annotations

import os

wsgi_app = "config.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")]
worker_class = "gthread"
# Under gthread a sync Django view runs in a worker's own thread: no hop to a thread per request as under ASGI.
# Two processes per core keep both cores busy while some threads wait on PostgreSQL or Redis.
_cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * _cores))
threads = int(os.environ.get("GUNICORN_THREADS", 4))
# Longer than the proxy keeps an idle upstream connection (nginx: 60 s), so gunicorn never closes one under it.
keepalive = 75
# A request still running after this long (a large clip upload on a slow link) is cut off and its worker replaced.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 120))
graceful_timeout = 30
# The client address: gunicorn trusts X-Forwarded-Proto from these peers; config.wsgi takes X-Forwarded-For from
# the same ones (FORWARDED_ALLOW_IPS, as uvicorn reads it too).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
accesslog = None  # the proxy logs requests
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

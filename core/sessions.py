"""Database sessions whose per-request read is one written-out SELECT (SESSION_ENGINE = "core.sessions").

Every request of an anonymous rater reads its session (the rater lives there); Django's own store builds that read
with the ORM, whose compiling costs more CPU than the query (NOTES.md, "A lean vote path"). Storage, expiry, writes
and key cycling stay Django's.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.contrib.sessions.backends.db import SessionStore as DatabaseSessionStore
from django.contrib.sessions.models import Session
from django.db import connections, router
from django.utils import timezone

from core.rows import quoted


@lru_cache(maxsize=4)
def _session_data_sql(using: str) -> str:
    return (  # names from the model's metadata only; the values go as parameters
        f"SELECT {quoted(Session, 'session_data', using=using)} FROM {quoted(Session, using=using)} "  # noqa: S608
        f"WHERE {quoted(Session, 'session_key', using=using)} = %s "
        f"AND {quoted(Session, 'expire_date', using=using)} > %s"
    )


class SessionStore(DatabaseSessionStore):
    def load(self) -> dict[str, Any]:
        key = self.session_key
        if key is None:
            return {}
        using = router.db_for_read(Session)
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(_session_data_sql(using), [key, connection.ops.adapt_datetimefield_value(timezone.now())])
            row = cursor.fetchone()
        if row is None:
            self._session_key = None  # unknown or expired: a new key on the next save, as Django's store does
            return {}
        return self.decode(row[0])

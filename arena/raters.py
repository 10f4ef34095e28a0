"""Who is voting: the Rater of a request (an account's own, or one bound to an anonymous session), and the
salted hash that stands in for the client's IP address."""
from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import Literal, overload

from django.conf import settings
from django.contrib.auth.models import User
from django.db import IntegrityError, connections, router, transaction
from django.http import HttpRequest
from rest_framework.exceptions import NotAuthenticated
from rest_framework.request import Request

from arena.models import Rater
from core.rows import instance_from_db, quoted

SESSION_KEY = "earshot_rater_id"


def token_scheme(request: HttpRequest | Request) -> bool:
    """Whether the request authenticates with `Authorization: Token …`: such a request skips the CSRF check, so
    nothing in it may come from the session cookie."""
    scheme, _, _ = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    return scheme.lower() == "token"


@overload
def rater_for_request(request: HttpRequest | Request, *, create: Literal[True] = ...) -> Rater: ...
@overload
def rater_for_request(request: HttpRequest | Request, *, create: bool) -> Rater | None: ...
def rater_for_request(request: HttpRequest | Request, *, create: bool = True) -> Rater | None:
    """The request's Rater; None when there is none yet and `create` is false.

    A signed-in user (session or token) has one Rater for good; an anonymous visitor gets one whose id lives in
    the session, so it lasts as long as the browser keeps the session cookie. A new Rater keeps the salted hash of
    the address it came from (raters sharing one are flagged in the admin). A token request never reads the
    session (it skipped the CSRF check): without a valid token it has no rater.
    """
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        try:
            return user.rater  # loaded with the user by token authentication, one query otherwise
        except Rater.DoesNotExist:
            return _rater_for_user_create(user, request=request) if create else None
    if token_scheme(request):
        if create:
            raise NotAuthenticated()
        return None
    session = request.session
    rater_id = session.get(SESSION_KEY)
    if rater_id is not None:
        found = _anonymous_rater(rater_id)
        if found is not None:
            return found
        # the rater was deleted: the session starts over with a new one
    if not create:
        return None
    rater = Rater.objects.create(ip_hash=ip_hash_for_request(request))
    session[SESSION_KEY] = rater.pk
    return rater


def battle_rater_for_request(request: HttpRequest | Request) -> Rater | None:
    """The rater of a request about one of its battles (audio, events, vote, detail): rater_for_request(create=
    False), except that an anonymous session's rater is taken from the session unread.

    Each such request finds the battle by (battle, rater) and answers 404 when there is none; a deleted rater's
    battles went with it, so a stale id in a session finds nothing, as no rater did. The session lives on the
    server and only the arena and the campaigns write the id into it, always an anonymous rater's.
    """
    user = getattr(request, "user", None)
    if (user is not None and user.is_authenticated) or token_scheme(request):
        return rater_for_request(request, create=False)
    rater_id = _rater_id(request.session.get(SESSION_KEY))
    if rater_id is None:
        return None
    return instance_from_db(Rater, using=router.db_for_read(Rater), values={"id": rater_id, "user_id": None})


def _rater_id(stored: object) -> int | None:
    try:
        return int(stored)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _anonymous_rater(stored: object) -> Rater | None:
    """The session's anonymous rater with only its id loaded (what the arena's requests use; other fields load on
    first access), read with written-out SQL."""
    rater_id = _rater_id(stored)
    if rater_id is None:
        return None
    using = router.db_for_read(Rater)
    with connections[using].cursor() as cursor:
        cursor.execute(_anonymous_rater_sql(using), [rater_id])
        if cursor.fetchone() is None:
            return None
    return instance_from_db(Rater, using=using, values={"id": rater_id, "user_id": None})


@lru_cache(maxsize=4)
def _anonymous_rater_sql(using: str) -> str:
    return (  # names from the model's metadata only; the id goes as a parameter
        f"SELECT 1 FROM {quoted(Rater, using=using)} WHERE {quoted(Rater, 'id', using=using)} = %s "  # noqa: S608
        f"AND {quoted(Rater, 'user', using=using)} IS NULL"
    )


def _rater_for_user_create(user: User, *, request: HttpRequest | Request) -> Rater:
    try:
        with transaction.atomic():
            return Rater.objects.create(user=user, ip_hash=ip_hash_for_request(request))
    except IntegrityError:
        # Two first requests of the same account raced; the other one created it.
        return Rater.objects.get(user=user)


def rater_key_for_request(request: HttpRequest | Request) -> str | None:
    """A cache key part naming the request's rater without a database read (None for a first anonymous visit)."""
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    if token_scheme(request):
        return None
    rater_id = request.session.get(SESSION_KEY)
    return None if rater_id is None else f"rater:{rater_id}"


def ip_hash(address: str) -> str:
    """HMAC-SHA256 of an IP address under EARSHOT_IP_HASH_SALT: equal addresses match, none can be read back."""
    if not address:
        return ""
    salt = (settings.EARSHOT_IP_HASH_SALT or "").encode()
    return hmac.new(salt, address.encode(), hashlib.sha256).hexdigest()


def ip_hash_for_request(request: HttpRequest | Request) -> str:
    """The salted hash of the client address the server saw (behind a proxy, the server resolves X-Forwarded-For
    from trusted peers: config.wsgi under gunicorn, uvicorn's own under ASGI; FORWARDED_ALLOW_IPS)."""
    return ip_hash(request.META.get("REMOTE_ADDR", ""))

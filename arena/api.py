"""REST API of the open arena: battles, listening telemetry, votes, per-battle audio, and the catalogue lists.

Thin shells: an input serializer, one service or selector call, and the output serializer that builds the answer
(the same serializer the OpenAPI schema documents, so the two cannot drift apart). Browsers
authenticate by session (CSRF checked on every unsafe request, anonymous ones included), scripts by token.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import router
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.authentication import SessionScheme, TokenScheme
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from arena import selectors
from arena.delivery import RangeNotSatisfiable, audio_response, copy_response, range_header, range_refused
from arena.errors import BattleNotFound, NoPairAvailable
from arena.models import Battle, Rater
from arena.raters import battle_rater_for_request, ip_hash_for_request, rater_for_request, token_scheme
from arena.serializers import (
    BattleEventsInputSerializer,
    BattleEventsOutputSerializer,
    BattleOutputSerializer,
    PromptOutputSerializer,
    SystemOutputSerializer,
    VoteInputSerializer,
    VoteOutputSerializer,
    battle_answer,
    vote_answer,
    vote_input_plain,
)
from arena.services import battle_audio_fetch, battle_create, battle_events_record, vote_record
from arena.throttles import BattleCreateThrottle, IpThrottle, RaterAndIpThrottle, VoteThrottle
from core.api import ErrorSerializer
from core.parsers import StrictJsonParser, UnreadBodyParser
from core.rows import instance_from_db, quoted

TAG = "arena"
AUDIO_SIDES = ("a", "b", "reference")


def _error(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


NOT_FOUND = _error("battle_not_found: no such battle, or it belongs to another rater (not told apart).")
THROTTLED = _error("throttled: too many requests from this rater or address (see Retry-After).")
FORBIDDEN = _error("permission_denied: CSRF check failed (session requests) or invalid token.")


class CsrfSessionAuthentication(SessionAuthentication):
    """Session authentication that checks CSRF for anonymous sessions too: their Rater is the session.

    Only a request with `Authorization: Token …` is left to token authentication (scripts have no CSRF cookie);
    any other Authorization header (say HTTP Basic from a proxy in front of a staging site) is checked as usual.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        if token_scheme(request):
            return None
        self.enforce_csrf(request)
        user = getattr(request._request, "user", None)
        return (user, None) if user is not None and user.is_active else None


class CsrfSessionScheme(SessionScheme):
    """Documents CsrfSessionAuthentication as the session cookie scheme it is."""

    target_class = "arena.api.CsrfSessionAuthentication"
    name = "sessionCookieAuth"


class RaterTokenAuthentication(TokenAuthentication):
    """DRF token authentication that loads the user and their Rater in one query (every scripted request pays it,
    so it is written out: the ORM's select_related compile costs several times the query)."""

    def authenticate_credentials(self, key: str) -> tuple[Any, Token]:
        found = list(User.objects.raw(_token_user_sql(), [key]))
        if not found:
            raise exceptions.AuthenticationFailed("Invalid token.")
        user = found[0]
        rater_id = user.__dict__.pop("rater_pk")
        if not user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        using = user._state.db or router.db_for_read(User)
        if rater_id is not None:
            user.rater = instance_from_db(Rater, using=using, values={"id": rater_id, "user_id": user.pk})
        token = instance_from_db(Token, using=using, values={"key": key, "user_id": user.pk})
        token.user = user
        return user, token


@lru_cache(maxsize=1)
def _token_user_sql() -> str:
    user = [quoted(User, name) for name in ("id", "username", "is_active", "is_staff", "is_superuser")]
    return (  # names from the models' metadata only; the key goes as a parameter
        f"SELECT {', '.join(user)}, {quoted(Rater, 'id')} AS rater_pk FROM {quoted(Token)} "  # noqa: S608
        f"JOIN {quoted(User)} ON {quoted(User, 'id')} = {quoted(Token, 'user')} "
        f"LEFT JOIN {quoted(Rater)} ON {quoted(Rater, 'user')} = {quoted(User, 'id')} "
        f"WHERE {quoted(Token, 'key')} = %s"
    )


class RaterTokenScheme(TokenScheme):
    """The same `Authorization: Token …` header as DRF's; a name of its own keeps the schema components apart."""

    target_class = "arena.api.RaterTokenAuthentication"
    name = "raterTokenAuth"
    priority = 1  # DRF's own TokenScheme matches subclasses too


AUTHENTICATION = [CsrfSessionAuthentication, RaterTokenAuthentication]


class ArenaApi(APIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [AllowAny]
    throttle_classes = [RaterAndIpThrottle]
    parser_classes = [StrictJsonParser]


class BattleCreateApi(ArenaApi):
    throttle_classes = [BattleCreateThrottle]
    parser_classes = [UnreadBodyParser]  # takes no body: whatever is sent (the page sends {}) is never read

    @extend_schema(
        tags=[TAG],
        operation_id="battle_create",
        summary="Start a blind battle",
        description=(
            "Picks a prompt and two clips of two different systems (sides shuffled) for the requesting rater. "
            "Anonymous browsers get a rater bound to their session. No body is needed. A rater keeps at most "
            "EARSHOT_MAX_OPEN_BATTLES open battles: a new one closes the oldest as abandoned (a vote on it answers "
            "410 battle_abandoned)."
        ),
        request=None,
        responses={
            201: BattleOutputSerializer,
            403: FORBIDDEN,
            409: _error("rater_gone: the session's anonymous rater was pruned meanwhile; reload."),
            429: _error("throttled: too many requests from this rater or address, or too many new anonymous "
                        "raters from this address (EARSHOT_NEW_RATERS_PER_IP); see Retry-After."),
            503: _error("no_pair_available: no prompt has clips from two active systems (or no new pair)."),
        },
    )
    def post(self, request: Request) -> Response:
        battle = battle_create(rater=rater_for_request(request))
        return Response(battle_answer(battle, request=request), status=status.HTTP_201_CREATED)


class BattleDetailApi(ArenaApi):
    throttle_classes = [IpThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="battle_retrieve",
        summary="One of your battles",
        responses={200: BattleOutputSerializer, 404: NOT_FOUND, 429: THROTTLED},
    )
    def get(self, request: Request, battle_id: uuid.UUID) -> Response:
        battle = selectors.battle_get_for_rater(public_id=battle_id, rater=battle_rater_for_request(request))
        return Response(BattleOutputSerializer(battle, context={"request": request}).data)


class BattleEventsApi(ArenaApi):
    @extend_schema(
        tags=[TAG],
        operation_id="battle_events_record",
        summary="Report listening events",
        description=(
            "Player events in the order they happened; send them in batches (e.g. every few seconds) and once more "
            "before voting. `position_ms` is the position in the clip `side` names; `client_ms` a monotonic client "
            "clock (performance.now()). While a side plays, the server credits how far its position moved, never "
            "more than the client clock moved, and the two totals together never more than the battle's real age "
            "plus a small slack. `play`/`progress` mean the side is playing at that position; `pause`/`ended` stop "
            "it; `seek` carries the position after the jump; `switch` names the side now listened to (it takes over "
            "playback at `position_ms` if a side was playing). A change of side counts as one switch."
        ),
        request=BattleEventsInputSerializer,
        examples=[
            OpenApiExample(
                "Play A for 5 s, then B",
                value={
                    "events": [
                        {"type": "play", "side": "a", "position_ms": 0, "client_ms": 1000},
                        {"type": "pause", "side": "a", "position_ms": 5000, "client_ms": 6000},
                        {"type": "play", "side": "b", "position_ms": 0, "client_ms": 6100},
                        {"type": "progress", "side": "b", "position_ms": 5000, "client_ms": 11100},
                    ]
                },
                request_only=True,
            )
        ],
        responses={
            200: BattleEventsOutputSerializer,
            400: _error("invalid_input: an event is malformed or the batch is too long."),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _error("battle_voted: the battle already has its vote."),
            410: _error("battle_expired: the battle expired; battle_abandoned: the rater opened newer battles."),
            429: THROTTLED,
        },
    )
    def post(self, request: Request, battle_id: uuid.UUID) -> Response:
        incoming = BattleEventsInputSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        rater = battle_rater_for_request(request)
        if rater is None:
            raise BattleNotFound()
        battle = battle_events_record(
            battle_public_id=battle_id, rater=rater, events=incoming.validated_data["events"]
        )
        return Response(BattleEventsOutputSerializer(battle).data)


class BattleVoteApi(ArenaApi):
    throttle_classes = [VoteThrottle]

    @extend_schema(
        tags=[TAG],
        operation_id="battle_vote",
        summary="Vote on a battle and see which systems made the clips",
        description=(
            "Taken once per battle, only from its rater, while it is open, and only after both clips were played "
            "for their minimum time (server-side telemetry), the audio for that much listening of each was fetched "
            "through the battle's audio URLs, and the battle is at least that old. The identical vote "
            "again answers 200 with the same result; a different one is refused with 409. The body may carry the "
            "last listening `events` (credited first, in the same transaction) and ask for the `next` battle, so a "
            "page votes and moves on in one round trip. On a campaign's battle `next` is ignored (`next_battle` is "
            "null): the campaign's own /api/campaigns/<slug>/next/ hands out its items."
        ),
        request=VoteInputSerializer,
        responses={
            201: VoteOutputSerializer,
            200: OpenApiResponse(VoteOutputSerializer, description="The same vote was already recorded."),
            400: _error(
                "invalid_input, listening_too_short (e.g. 'clip B was played 2.1 s of the required 5.0 s'), "
                "audio_not_fetched (e.g. 'clip B: 12% of the audio needed for 5.0 s of listening was fetched': "
                "fetch each clip through its audio URL first), battle_too_young, axis_not_applicable "
                "(lyrics_alignment without lyrics)."
            ),
            403: FORBIDDEN,
            404: NOT_FOUND,
            409: _error("vote_conflict: the battle already has a different vote."),
            410: _error(
                "battle_expired: the battle expired before the vote; battle_abandoned: it was closed because the "
                "rater opened more than EARSHOT_MAX_OPEN_BATTLES newer ones."
            ),
            429: _error("throttled: too many requests from this rater or address, or too many votes from this "
                        "address (EARSHOT_VOTES_PER_IP); see Retry-After."),
        },
    )
    def post(self, request: Request, battle_id: uuid.UUID) -> Response:
        answers = vote_input_plain(request.data)
        if answers is None:  # not the page's plain vote: the serializer checks it and words what is wrong
            incoming = VoteInputSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            answers = dict(incoming.validated_data)
        rater = battle_rater_for_request(request)
        if rater is None:
            raise BattleNotFound()
        wants_next = answers.pop("next")
        vote, created = vote_record(
            battle_public_id=battle_id, rater=rater, ip_hash=ip_hash_for_request(request), **answers
        )
        systems = selectors.vote_reveal(vote=vote) if vote.battle.reveal_systems else None
        answer: dict[str, Any] = {"choice": vote.choice, "systems": systems}
        if wants_next and vote.battle.mode == Battle.Mode.CAMPAIGN:
            # A campaign's next item comes from the campaign (/api/campaigns/<slug>/next/), never the open arena.
            answer["next_battle"] = None
        elif wants_next:
            # After the vote's commit: no pair left is an answer (null), not a failure of the vote.
            try:
                answer["next_battle"] = battle_create(rater=rater)
            except NoPairAvailable:
                answer["next_battle"] = None
        return Response(
            vote_answer(answer, request=request), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class _AnyAccept(BaseContentNegotiation):
    """Audio clients send Accept: audio/*; errors still answer JSON."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        return next(iter(parsers), None)

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class BattleAudioApi(ArenaApi):
    throttle_classes: list[Any] = []  # bounded by battle creation; seeking makes many Range requests
    renderer_classes = [JSONRenderer]
    content_negotiation_class = _AnyAccept

    @extend_schema(
        tags=[TAG],
        operation_id="battle_audio",
        summary="A clip (or the prompt's reference audio) of one of your battles",
        description=(
            "Supports HTTP Range (206 Partial Content, 416 for a range outside the file). Each battle has its own "
            "copy of a clip (48 kHz stereo MP3 at a constant bitrate behind a padding tag of its own), so size and "
            "bytes differ between battles. A GET adds the whole audio frames of its range to what the vote counts "
            "as fetched; a HEAD adds nothing. The response names nothing: no file name, no ETag, no Last-Modified; "
            "Cache-Control is private."
        ),
        parameters=[OpenApiParameter("side", str, OpenApiParameter.PATH, enum=list(AUDIO_SIDES))],
        responses={
            (200, "audio/mpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The whole file."),
            (206, "audio/mpeg"): OpenApiResponse(OpenApiTypes.BINARY, description="The requested byte range."),
            404: NOT_FOUND,
            416: _error("range_not_satisfiable: the Range header asks for bytes the file does not have."),
        },
    )
    def get(self, request: Request, battle_id: uuid.UUID, side: str) -> HttpResponse:
        if side not in AUDIO_SIDES:
            raise BattleNotFound("No such audio: use a, b or reference.")
        rater = battle_rater_for_request(request)
        if side == "reference":
            battle = selectors.battle_get_for_rater(public_id=battle_id, rater=rater)
            file = battle.prompt.reference_audio
            if not file:
                raise BattleNotFound("This battle's prompt has no reference audio.")
            return audio_response(request._request, file, max_age=_audio_max_age(battle))
        header = range_header(request._request)
        try:
            fetched = battle_audio_fetch(
                battle_public_id=battle_id, rater=rater, side=side, range_header=header, counted=request.method == "GET"
            )
        except RangeNotSatisfiable as exc:
            return range_refused(header, exc, size=exc.size or 0, max_age=0)
        return copy_response(request._request, fetched.copy, fetched.wanted, max_age=_audio_max_age(fetched.battle))


def _audio_max_age(battle: Battle) -> int:
    remaining = battle.expires_at - timezone.now()
    return int(min(remaining, timedelta(seconds=settings.EARSHOT_BATTLE_TTL_SECONDS)).total_seconds())


class SystemListApi(generics.ListAPIView):
    """Systems under evaluation (not their clips: nothing here helps tell which system made a battle's clip)."""

    authentication_classes = AUTHENTICATION
    permission_classes = [AllowAny]
    throttle_classes = [IpThrottle]
    serializer_class = SystemOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.systems_list()

    @extend_schema(tags=[TAG], operation_id="systems_list", summary="Systems under evaluation",
                   responses={200: SystemOutputSerializer(many=True), 429: THROTTLED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class PromptListApi(generics.ListAPIView):
    authentication_classes = AUTHENTICATION
    permission_classes = [AllowAny]
    throttle_classes = [IpThrottle]
    serializer_class = PromptOutputSerializer

    def get_queryset(self):  # type: ignore[no-untyped-def]
        return selectors.prompts_list()

    @extend_schema(tags=[TAG], operation_id="prompts_list", summary="Prompts",
                   responses={200: PromptOutputSerializer(many=True), 429: THROTTLED})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

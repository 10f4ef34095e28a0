"""The web tier as production runs it (tests/splitstack.py: nginx from docker/nginx.conf.template, gunicorn for HTTP,
uvicorn for /ws/): pages keep their Content-Security-Policy and static files, Django still refuses unknown hosts,
the per-address limits count the listener's address and not the proxy's, and battle audio leaves through nginx
(X-Accel-Redirect) with nothing that names the file, after Django counted what was fetched."""
from __future__ import annotations

import json
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.sync.client import connect

from arena.ingest import clip_import
from arena.models import Battle, Prompt, System
from arena.services.listening import fetched_total_ms
from tests.browser import needs_postgres, off_loop
from tests.factories import write_tone
from tests.splitstack import ACCEL_PREFIX, SplitStack, collected_static, split_stack  # noqa: F401 (fixtures)

pytest_plugins = ["tests.realstack"]
pytestmark = [pytest.mark.realstack, pytest.mark.slow, needs_postgres, pytest.mark.usefixtures("real_stack")]


def _client_from(address: str, **kwargs: Any) -> httpx.Client:
    """An HTTP client whose connections leave from `address` (any 127.x.y.z is this machine)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=10, **kwargs)


def _socket_from(address: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((address, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def test_pages_static_files_and_allowed_hosts_behave_as_before_behind_the_proxy(
    split_stack: Callable[..., SplitStack],  # noqa: F811
) -> None:
    stack = split_stack()
    with _client_from("127.0.0.1") as client:
        page = client.get(f"{stack.url}/leaderboard/")
        script = client.get(f"{stack.url}/static/arena/arena.js")
        stranger = client.get(f"{stack.url}/healthz", headers={"Host": "evil.example"})
        hidden = client.get(f"{stack.url}{ACCEL_PREFIX}battles/anything.mp3")

    assert page.status_code == 200
    assert "script-src 'self' 'nonce-" in page.headers["content-security-policy"]
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert stranger.status_code == 400  # Django's ALLOWED_HOSTS, not a proxy default
    assert hidden.status_code == 404  # the hand-off location is internal


def test_the_per_address_limits_count_the_listeners_address_not_the_proxys(
    split_stack: Callable[..., SplitStack],  # noqa: F811
) -> None:
    stack = split_stack(EARSHOT_RATE_LIMIT_IP="2/min")
    with _client_from("127.0.0.2") as first, _client_from("127.0.0.3") as second:
        statuses = [first.get(f"{stack.url}/api/systems/").status_code for _ in range(3)]
        # A client cannot pose as another address: the proxy replaces the X-Forwarded-For it sends.
        spoofed = first.get(f"{stack.url}/api/systems/", headers={"X-Forwarded-For": "198.51.100.9"})
        other = second.get(f"{stack.url}/api/systems/")

    assert statuses == [200, 200, 429]
    assert spoofed.status_code == 429
    assert other.status_code == 200


def test_the_websocket_limit_per_address_holds_behind_the_proxy(
    split_stack: Callable[..., SplitStack],  # noqa: F811
) -> None:
    from django.core.cache import cache

    cache.clear()  # open-socket counts of earlier tests
    stack = split_stack(EARSHOT_WS_PER_IP="2")
    url = f"{stack.ws_url}/ws/leaderboards/arena/"
    origin = stack.url

    def opened(address: str) -> Any:
        return connect(url, sock=_socket_from(address, stack.proxy_port), origin=origin, open_timeout=10)

    with opened("127.0.0.2") as one, opened("127.0.0.2") as two:
        frames = [json.loads(one.recv(timeout=10))["type"], json.loads(two.recv(timeout=10))["type"]]
        with opened("127.0.0.2") as third:
            refused = json.loads(third.recv(timeout=10))
            with pytest.raises(Exception):  # noqa: B017 - websockets raises ConnectionClosed* by close code
                third.recv(timeout=10)
            closed_with = third.close_code
        with opened("127.0.0.3") as elsewhere:
            elsewhere_frame = json.loads(elsewhere.recv(timeout=10))["type"]

    assert frames == ["snapshot", "snapshot"]
    assert refused["type"] == "error" and closed_with == 4429
    assert elsewhere_frame == "snapshot"


@pytest.fixture
def battle_pair(tmp_path: Path) -> tuple[System, System]:
    systems = (System.objects.create(name="Aurora Synth", slug="aurora"),
               System.objects.create(name="Basilisk Audio", slug="basilisk"))
    prompt = Prompt.objects.create(text="A calm piano piece in A minor at 72 BPM")
    for s, system in enumerate(systems):
        path = write_tone(tmp_path / f"tone-{s}.wav", seconds=3.0, frequency=220.0 * (1 + s), seed=s)
        clip_import(system=system, prompt=prompt, path=path)
    return systems


def test_battle_audio_leaves_through_nginx_with_range_and_nothing_naming_the_file_and_is_counted(
    split_stack: Callable[..., SplitStack], battle_pair: tuple[System, System]  # noqa: F811
) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=User.objects.create_user("listener")).key
    stack = split_stack(EARSHOT_MIN_LISTEN_SECONDS="0")
    with _client_from("127.0.0.1", headers={"Authorization": f"Token {token}"}) as client:
        battle = client.post(f"{stack.url}/api/battles/").json()
        path = httpx.URL(battle["clips"]["a"]["audio_url"]).path
        head = client.get(f"{stack.url}{path}", headers={"Range": "bytes=0-99"})
        whole = client.get(f"{stack.url}{path}")
        again = client.get(f"{stack.url}{path}", headers={"Range": "bytes=100-"})

    assert head.status_code == 206 and len(head.content) == 100
    size = int(head.headers["content-range"].rpartition("/")[2])
    assert whole.status_code == 200 and len(whole.content) == size
    assert again.status_code == 206 and again.content == whole.content[100:]
    for response in (head, whole, again):
        headers = {name.lower() for name in response.headers}
        assert response.headers["content-type"] == "audio/mpeg"
        assert response.headers["content-security-policy"] == "sandbox"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"].startswith("private")
        assert not headers & {"etag", "last-modified", "x-accel-redirect", "content-disposition"}
    # Django counted the frames each request's range held, though nginx sent the bytes.
    fetched = off_loop(lambda: Battle.objects.get(public_id=battle["id"]).audio_fetched_ms)
    assert fetched_total_ms(fetched["a"]) >= 2900

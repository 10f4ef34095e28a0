"""config.wsgi takes the client's address from a trusted proxy's X-Forwarded-For by the rule uvicorn applies to the
websockets (checked against uvicorn's own middleware on the same inputs)."""
from __future__ import annotations

from typing import Any

import pytest
from asgiref.sync import async_to_sync
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from config.wsgi import ForwardedClient

CASES = [
    # (trusted, peer, X-Forwarded-For)
    ("127.0.0.1,::1", "127.0.0.1", "203.0.113.5"),
    ("127.0.0.1,::1", "127.0.0.1", "198.51.100.1, 203.0.113.5"),
    ("127.0.0.1,::1", "192.0.2.44", "203.0.113.5"),  # peer not trusted: header ignored
    ("127.0.0.1,10.0.0.0/8", "10.1.2.3", "203.0.113.5, 10.0.0.7"),  # a chain of trusted proxies
    ("127.0.0.1", "127.0.0.1", "127.0.0.1"),  # every hop trusted: the first
    ("127.0.0.1", "127.0.0.1", "203.0.113.5:4711"),
    ("127.0.0.1", "127.0.0.1", "[2001:db8::7]:4711"),
    ("127.0.0.1", "127.0.0.1", "2001:db8::7"),
    ("*", "192.0.2.44", "203.0.113.5, 198.51.100.1"),
    ("127.0.0.1", "127.0.0.1", ""),
    ("127.0.0.1", "127.0.0.1", None),
]


def _uvicorn_client(trusted: str, peer: str, forwarded_for: str | None) -> str:
    seen: dict[str, Any] = {}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen["client"] = scope["client"][0]

    headers = [] if forwarded_for is None else [(b"x-forwarded-for", forwarded_for.encode())]
    scope = {"type": "http", "client": (peer, 50000), "headers": headers}
    async_to_sync(ProxyHeadersMiddleware(app, trusted_hosts=trusted))(scope, None, None)  # type: ignore[arg-type]
    return str(seen["client"])


def _wsgi_client(trusted: str, peer: str, forwarded_for: str | None) -> str:
    seen: dict[str, str] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen["client"] = environ["REMOTE_ADDR"]
        return []

    environ = {"REMOTE_ADDR": peer}
    if forwarded_for is not None:
        environ["HTTP_X_FORWARDED_FOR"] = forwarded_for
    ForwardedClient(app, trusted.split(","))(environ, lambda *args: None)
    return seen["client"]


@pytest.mark.parametrize(("trusted", "peer", "forwarded_for"), CASES)
def test_it_names_the_same_client_as_uvicorn(trusted: str, peer: str, forwarded_for: str | None) -> None:
    assert _wsgi_client(trusted, peer, forwarded_for) == _uvicorn_client(trusted, peer, forwarded_for)


def test_a_direct_client_cannot_pose_as_another_address() -> None:
    assert _wsgi_client("127.0.0.1", "192.0.2.44", "127.0.0.1") == "192.0.2.44"

"""WSGI entry point: plain HTTP (pages, the API, audio) for gunicorn (config/gunicorn.conf.py); websockets go to
config.asgi.

Behind the reverse proxy every request comes from the proxy's address; the per-address limits (new raters, votes,
sign-ins) need the listener's. uvicorn takes it from X-Forwarded-For when the peer is trusted; gunicorn does not,
so `ForwardedClient` does the same here, with the same rule and the same FORWARDED_ALLOW_IPS."""
from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

type WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
type Address = ipaddress.IPv4Address | ipaddress.IPv6Address
type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class ForwardedClient:
    """Sets REMOTE_ADDR from X-Forwarded-For when the peer is a trusted proxy: the right-most address in the header
    that is not itself a trusted proxy (uvicorn's ProxyHeadersMiddleware rule; "*" trusts every peer)."""

    def __init__(self, app: WSGIApp, trusted: Iterable[str]) -> None:
        self.app = app
        names = [name.strip() for name in trusted if name.strip()]
        self.trust_all = "*" in names
        self.addresses: set[Address] = set()
        self.networks: set[Network] = set()
        self.literals: set[str] = set()
        for name in names:
            try:
                if "/" in name:
                    self.networks.add(ipaddress.ip_network(name))
                else:
                    self.addresses.add(ipaddress.ip_address(name))
            except ValueError:
                self.literals.add(name)  # a unix socket path, say

    def trusts(self, host: str) -> bool:
        if self.trust_all or host in self.literals:
            return True
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return False
        return address in self.addresses or any(address in network for network in self.networks)

    def client(self, forwarded_for: str) -> str:
        hosts = [_host(value.strip()) for value in forwarded_for.split(",")]
        if self.trust_all:
            return hosts[0]
        for host in reversed(hosts):
            if not self.trusts(host):
                return host
        return hosts[0]  # every hop a trusted proxy: the first is the client

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        forwarded_for = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded_for and self.trusts(environ.get("REMOTE_ADDR", "")):
            host = self.client(forwarded_for)
            if host:
                environ["REMOTE_ADDR"] = host
        return self.app(environ, start_response)


def _host(value: str) -> str:
    """The address of an X-Forwarded-For entry that may carry a port ("192.0.2.7:4711", "[2001:db8::1]:4711")."""
    if value.startswith("["):
        end = value.find("]")
        if end != -1 and (end + 1 == len(value) or value[end + 1] == ":"):
            return value[1:end]
        return value
    if value.count(":") == 1:
        host, port = value.rsplit(":", 1)
        return host if port.isdigit() else value
    return value


def _application() -> ForwardedClient:
    django_app = get_wsgi_application()
    from django.conf import settings

    return ForwardedClient(django_app, settings.FORWARDED_ALLOW_IPS)


application = _application()

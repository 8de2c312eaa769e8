"""Running the app: uvicorn with timeouts and limits, in one process or several.

``digest serve`` keeps uvicorn's HTTP parser (httptools, in C) and adds what uvicorn lacks:
a deadline for a request's headers. A client that trickles its headers a byte at a time
(slowloris) is disconnected ``web.header_timeout`` seconds after its request began, so such
clients cannot pile up until the process runs out of connections. ``web.keep_alive_timeout``
closes idle connections and ``web.max_connections`` answers 503 beyond that many
connections or requests at once. Proxy headers (``X-Forwarded-For``) are believed only
from ``web.trusted_proxies``.

With ``--workers N`` (N > 1) uvicorn starts N processes that share the listening socket;
each builds the app with :func:`app_from_environment` from the config path the parent
puts in the environment. Sessions and the sign-in limit live in the database, so every
worker sees the same ones.

Owns :func:`serve`, :class:`ServeConfig` and :class:`HeaderTimeoutProtocol`. May import
:mod:`.app`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import gc
import ipaddress
import os
import socket
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import Multiprocess

from ..config import Config, load_config
from ..errors import ConfigError, DigestError
from ..store import Store
from .app import create_app
from .auth import short_password_problem

# The parent of `--workers N` names the config file to its workers here.
SERVE_CONFIG_ENV = "DIGEST_SERVE_CONFIG"


class ServeConfig(uvicorn.Config):
    """uvicorn's config plus the header deadline (pickled as is to the worker processes)."""

    def __init__(self, app: Any, *, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self.header_timeout = header_timeout


class HeaderTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's headers.

    The clock starts when the connection opens and again when a request's first byte
    arrives; it stops when the headers are complete. Idle time between requests is the
    keep-alive timeout's business.
    """

    def __init__(self, config: uvicorn.Config, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self.header_timeout: float = getattr(config, "header_timeout", 10.0)
        self._header_deadline: asyncio.TimerHandle | None = None

    def _start_header_clock(self) -> None:
        if self._header_deadline is None:
            self._header_deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _stop_header_clock(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_header_clock()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_header_clock()

    def on_headers_complete(self) -> None:
        self._stop_header_clock()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # The keep-alive timeout (armed by uvicorn here) now watches the idle connection.
        self._stop_header_clock()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_header_clock()
        super().connection_lost(exc)


def _app_for(config: Config, now: Callable[[], dt.datetime] | None = None) -> Starlette:
    secret = config.link_secret()
    password = config.secret(config.web.admin_password_env, key="web.admin_password_env")
    return create_app(config, secret=secret, admin_password=password, now=now)


def app_from_environment() -> Starlette:
    """The app of one worker process (uvicorn's factory for ``--workers N``)."""
    app = _app_for(load_config(os.environ[SERVE_CONFIG_ENV]))
    gc.collect()
    gc.freeze()
    return app


def serve(
    config: Config,
    *,
    host: str,
    port: int,
    workers: int = 1,
    now: Callable[[], dt.datetime] | None = None,
    echo: Callable[[str], None] = print,
) -> None:
    """Run the app with uvicorn until SIGINT/SIGTERM.

    Fails before listening, with a :class:`DigestError` naming what to fix, when the link
    secret or the admin password is not set, when a host other than loopback is given a
    clear-text admin password shorter than 12 characters, or when the database does not
    exist.
    """
    Store.open(config.store.database).close()  # a missing database fails here, not per page
    app: Any = _app_for(config, now)  # checks the secrets before anything listens
    if not is_loopback(host):
        env_name = config.web.admin_password_env
        password = config.secret(env_name, key="web.admin_password_env")
        problem = short_password_problem(password, env_name=env_name)
        if problem:
            raise ConfigError(problem)
    if workers > 1:
        if config.path is None:
            raise ValueError("serve: --workers needs a config file")  # the CLI always has one
        os.environ[SERVE_CONFIG_ENV] = str(config.path.resolve())
        app = f"{__name__}:app_from_environment"
    # scikit-learn and friends leave ~100,000 long-lived objects that every full garbage
    # collection would walk again (60 ms+, a pause for every request in flight): freeze them.
    gc.collect()
    gc.freeze()
    web = config.web
    trusted = ",".join(web.trusted_proxies)
    server_config = ServeConfig(
        app,
        factory=workers > 1,
        workers=workers,
        host=host,
        port=port,
        header_timeout=web.header_timeout,
        # Logging is the CLI's job (log_config=None keeps uvicorn's hands off it), and an
        # access log line per request costs more than a feedback POST itself.
        log_config=None,
        access_log=False,
        # httptools (a dependency) parses HTTP in C; uvicorn's pure-Python h11 parser cost
        # more per feedback click than the click's own work.
        http=HeaderTimeoutProtocol,
        server_header=False,
        # uvicorn believes X-Forwarded-For from 127.0.0.1 by default: anyone on the host
        # could then pick the address the sign-in limit counts. Only configured proxies.
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or "",
        # Keep it longer than the idle timeouts of proxies (nginx, load balancers: 60 s)
        # and clients, so the server is never the side closing an idle connection just as
        # a request arrives on it ("server disconnected without sending a response").
        timeout_keep_alive=web.keep_alive_timeout,
        limit_concurrency=web.max_connections,
        timeout_graceful_shutdown=5,
    )
    sock = listen(host, port)  # before saying where it listens: a taken port is one line
    echo(f"digest serve: http://{host}:{port}/admin (Ctrl-C to stop)")
    server = uvicorn.Server(server_config)
    if workers > 1:
        Multiprocess(server_config, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) reaches this machine only."""
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to any address


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` for uvicorn to serve on.

    Raises :class:`DigestError` naming the address when it cannot be had (in use, not an
    address of this machine, a privileged port), instead of uvicorn's log line and exit.
    """
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise DigestError(f"cannot listen on {host}:{port} ({exc}); check --host") from exc
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = exc.strerror or str(exc)
        raise DigestError(
            f"cannot listen on {host}:{port} ({reason}); stop what uses it or choose another "
            "port with --port"
        ) from exc
    sock.set_inheritable(True)
    return sock

"""A real HTTP server on loopback (the standard library's ThreadingHTTPServer) that
answers each path with replies the test scripts, and records every request it gets.

``server.route("/rss", Reply(...), Reply(...))`` answers the first request to ``/rss``
with the first reply, the next with the second, and every later one with the last.
A reply can wait before answering, announce more body than it sends (a truncated body),
and answer 304 when the request's If-None-Match / If-Modified-Since match its validators.
A request in absolute form (``GET http://export.arxiv.org/api/query``, as sent to a
proxy) is routed by its path too, so a client can reach arXiv's host names here.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering
    cut_at: int | None = None  # send only this many bytes of the body, then close
    chunked: bool = False  # Transfer-Encoding: chunked, 1 KiB chunks, no Content-Length
    pause: float = 0.0  # seconds between chunks (a server that trickles)
    etag: str | None = None  # sent; a matching If-None-Match gets 304
    last_modified: str | None = None  # sent; an equal If-Modified-Since gets 304


@dataclass(frozen=True)
class Seen:
    """One request as the server saw it."""

    at: float  # time.monotonic() on arrival
    host: str  # the Host header
    target: str  # the request target as sent (path and query, or an absolute URL)
    path: str
    query: str
    headers: dict[str, str]


class _QuietServer(ThreadingHTTPServer):
    """Keeps a connection error (a client that hung up between requests) off stderr.

    The standard server prints such errors to ``sys.stderr``, which a CliRunner test has
    swapped for the command's own output; the errors are kept in ``errors`` instead.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.errors: list[str] = []

    def handle_error(self, request: object, client_address: object) -> None:
        self.errors.append(repr(sys.exc_info()[1]))


class LoopbackServer:
    def __init__(self) -> None:
        self.routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                seen = Seen(
                    time.monotonic(),
                    self.headers.get("Host", ""),
                    self.path,
                    parts.path,
                    parts.query,
                    {k.lower(): v for k, v in self.headers.items()},
                )
                reply = server._next(seen)
                if reply.delay:
                    time.sleep(reply.delay)
                conditional = (
                    reply.etag is not None and seen.headers.get("if-none-match") == reply.etag
                ) or (
                    reply.last_modified is not None
                    and seen.headers.get("if-modified-since") == reply.last_modified
                )
                status = 304 if conditional else reply.status
                body = b"" if status == 304 else reply.body
                try:
                    self.send_response(status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if reply.etag is not None:
                        self.send_header("ETag", reply.etag)
                    if reply.last_modified is not None:
                        self.send_header("Last-Modified", reply.last_modified)
                    if reply.chunked:
                        self.send_header("Transfer-Encoding", "chunked")
                    elif status != 304:
                        self.send_header("Content-Length", str(len(body)))
                    if reply.cut_at is not None:
                        self.send_header("Connection", "close")
                    self.end_headers()
                    if reply.chunked:
                        for start in range(0, len(body), 1024):
                            piece = body[start : start + 1024]
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                            self.wfile.flush()
                            time.sleep(reply.pause)
                        self.wfile.write(b"0\r\n\r\n")
                    else:
                        self.wfile.write(body if reply.cut_at is None else body[: reply.cut_at])
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout): nothing to answer
                if reply.cut_at is not None:
                    self.close_connection = True

        self.httpd = _QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base = f"http://127.0.0.1:{self.port}"

    def route(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.routes[path] = list(replies)

    def requests(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def _next(self, seen: Seen) -> Reply:
        with self._lock:
            self.seen.append(seen)
            replies = self.routes.get(seen.path)
            if not replies:
                return Reply(404, b"not found", {"Content-Type": "text/plain"})
            return replies.pop(0) if len(replies) > 1 else replies[0]


@contextmanager
def loopback_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer()
    thread = threading.Thread(target=server.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()

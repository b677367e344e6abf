"""The sandbox: loopback fakes of the platform APIs plus the admin API, on one port.

Routing is a registry of platform fakes keyed by name. Each fake claims its own
URL prefixes (Telegram claims `/bot` and `/file/bot`); the server owns `/`,
`/_sandbox/platforms`, `/_sandbox/reset` and routes `/_sandbox/{platform}/{action}`
to the fake's `admin()`.

A platform module joins the sandbox by living at `channels/sandbox/<name>.py` and
defining `create_fake() -> PlatformFake`; `default_fakes()` imports the modules
it finds and skips the missing ones (the web page shows them as "coming soon").
"""

from __future__ import annotations

import importlib
import logging
import re
import socket
import threading
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Protocol
from urllib.parse import parse_qs, urlsplit

from channels.sandbox.web import BadInput, Request, Response

log = logging.getLogger(__name__)

# The platforms the contract names, in page order.
KNOWN_PLATFORMS = ("x", "telegram", "mastodon")


class PlatformFake(Protocol):
    """What one platform fake offers the server. Implementations must be thread-safe."""

    name: str
    prefixes: tuple[str, ...]

    def handle(self, request: Request) -> Response:
        """Answer a platform API request whose path starts with one of `prefixes`."""
        ...

    def admin(self, action: str, request: Request) -> Response:
        """Answer `/_sandbox/{name}/{action}`; unknown actions answer 404."""
        ...

    def reset(self) -> None:
        """Forget all state (ids keep increasing)."""
        ...

    def shutdown(self) -> None:
        """Wake any waiting request (long polls) so the server can stop quickly."""
        ...


def default_fakes() -> list[PlatformFake]:
    """One fake per platform module found under `channels.sandbox`."""
    fakes = []
    for name in KNOWN_PLATFORMS:
        module_name = f"channels.sandbox.{name}"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise  # a real missing dependency, not a platform still to come
            continue
        fakes.append(module.create_fake())
    return fakes


def _redact(path: str) -> str:
    """Hide bot tokens in paths before logging them."""
    return re.sub(r"/bot[^/]+", "/bot***", path)


class _QuietHTTPServer(ThreadingHTTPServer):
    """Keeps connections alive, as the platforms do, and drops every one of them on `close_connections`.

    A client that hangs up mid-answer (a long poll at shutdown) is normal, not an error to print.
    """

    daemon_threads = True

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()

    def process_request(self, request, client_address) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """Hang up on every open connection, so a stopped sandbox answers nothing more."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # already gone

    def handle_error(self, request, client_address) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


class SandboxServer:
    """The sandbox HTTP server. `start()` serves in a daemon thread; also a context manager.

    `port=0` picks a free port; read it back from `url`. `fakes` defaults to
    `default_fakes()`; reach one with `server.fakes["telegram"]`.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        fakes: Iterable[PlatformFake] | None = None,
    ) -> None:
        self.fakes: dict[str, PlatformFake] = {
            f.name: f for f in (default_fakes() if fakes is None else fakes)
        }
        self._httpd = _QuietHTTPServer((host, port), _Handler)
        self._httpd.sandbox = self  # type: ignore[attr-defined]
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> SandboxServer:
        """Serve in a daemon thread and return self."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.1},
                name="citybot-sandbox",
                daemon=True,
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until `stop()` (or KeyboardInterrupt)."""
        self._httpd.serve_forever()

    def stop(self) -> None:
        """Stop serving, wake long polls and close the socket. Safe to call twice."""
        for fake in self.fakes.values():
            fake.shutdown()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()
        self._httpd.close_connections()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- routing ---------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        """Route one request to the page, the admin API or a platform fake."""
        path = request.path
        try:
            if path == "/" and request.method == "GET":
                return Response.html(_page())
            if path.startswith("/_sandbox/"):
                return self._admin(request)
            for fake in self.fakes.values():
                if any(path.startswith(p) for p in fake.prefixes):
                    return fake.handle(request)
        except BadInput as exc:
            return Response.error(400, str(exc))
        return Response.error(404, f"no such path: {_redact(path)}")

    def _admin(self, request: Request) -> Response:
        parts = request.path.strip("/").split("/")  # ["_sandbox", ...]
        if parts == ["_sandbox", "reset"]:
            if request.method != "POST":
                return Response.error(405, "use POST /_sandbox/reset")
            for fake in self.fakes.values():
                fake.reset()
            return Response.json({"ok": True})
        if parts == ["_sandbox", "platforms"]:
            return Response.json(
                [{"name": n, "available": n in self.fakes} for n in self._platform_names()]
            )
        if len(parts) != 3:
            return Response.error(404, f"unknown admin path: {request.path}")
        platform, action = parts[1], parts[2]
        fake = self.fakes.get(platform)
        if fake is None:
            if platform in KNOWN_PLATFORMS:
                return Response.error(404, f"platform '{platform}' is not in this sandbox yet")
            known = ", ".join(self._platform_names())
            return Response.error(404, f"unknown platform '{platform}' (known: {known})")
        return fake.admin(action, request)

    def _platform_names(self) -> list[str]:
        extra = [n for n in self.fakes if n not in KNOWN_PLATFORMS]
        return [*KNOWN_PLATFORMS, *extra]


def _page() -> str:
    return resources.files("channels.sandbox").joinpath("page.html").read_text("utf-8")


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request` and writes back the `Response`."""

    server_version = "citybot-sandbox/1"
    # Keep-alive, as the real APIs: a connection serves request after request. A streamed body
    # and a dropped answer end their connection. No Nagle delay between headers and body.
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _serve(self) -> None:
        split = urlsplit(self.path)
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            try:
                body = self._read_chunked()
            except ValueError as exc:
                self.close_connection = True
                self.send_error(400, f"bad chunked body: {exc}")
                return
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
        )
        try:
            response = self.server.sandbox.dispatch(request)  # type: ignore[attr-defined]
        except Exception as exc:  # a bug in a fake must not kill the server
            log.exception("sandbox error on %s %s", self.command, _redact(split.path))
            response = Response.json(
                {"ok": False, "error_code": 500, "description": f"sandbox error: {exc}"}, 500
            )
        if getattr(response, "drop", False):  # a fake simulating an answer lost on the way
            self.close_connection = True
            return  # close the connection without writing a byte
        stream = getattr(response, "stream", None)  # an iterable of bytes: a long-lived body (SSE)
        if stream is not None:
            self.close_connection = True  # no length: the body ends when the connection does
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        if stream is None:
            self.send_header("Content-Length", str(len(response.body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in response.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command == "HEAD":
            return
        if stream is None:
            self.wfile.write(response.body)
        else:
            self._write_stream(stream)

    def _read_chunked(self) -> bytes:
        """A chunked request body (the connection stays usable for the next request).

        Raises ValueError for a malformed or cut-off body.
        """
        parts = []
        while True:
            line = self.rfile.readline()
            if not line:
                raise ValueError("the body ends before its last chunk")
            size = int(line.split(b";")[0].strip(), 16)  # ValueError when not hexadecimal
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            part = self.rfile.read(size)
            if len(part) < size:
                raise ValueError("the body ends inside a chunk")
            parts.append(part)
            self.rfile.readline()  # the CRLF after each chunk

    def _write_stream(self, chunks) -> None:
        """Write a streamed body chunk by chunk until it ends or the client hangs up."""
        try:
            for chunk in chunks:
                self.wfile.write(chunk)
                self.wfile.flush()
        except OSError:
            pass  # the client went away
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s %s", self.address_string(), _redact(format % args))


def serve(
    host: str = "127.0.0.1", port: int = 8765, *, announce: Callable[[str], None] | None = None
) -> None:
    """Serve the sandbox in the foreground until KeyboardInterrupt.

    `announce(line)` is called with a one-line "listening on URL" notice once the
    port is bound; by default it stays quiet (the CLI prints its own notice).
    """
    server = SandboxServer(host, port)
    if announce is not None:
        announce(f"citybot sandbox listening on {server.url} (Ctrl-C to stop)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()

"""The sandbox's HTTP layer: keep-alive connections as the platforms have, and a stop that hangs up on them."""

import json
import socket
from http.client import HTTPResponse

import httpx
import pytest

from channels.sandbox.server import SandboxServer


def _connect(sandbox: SandboxServer) -> socket.socket:
    host, port = sandbox.url.removeprefix("http://").split(":")
    return socket.create_connection((host, int(port)), timeout=5)


def _answer(connection: socket.socket) -> HTTPResponse:
    """The next whole response read off `connection` (the body read, the connection left open)."""
    response = HTTPResponse(connection)
    response.begin()  # raises RemoteDisconnected when the sandbox hung up instead
    response.body = response.read()
    return response


def test_one_connection_serves_request_after_request():
    with SandboxServer(port=0) as sandbox, httpx.Client(base_url=sandbox.url) as http:
        ports = set()
        for _ in range(3):
            answer = http.get("/_sandbox/platforms")
            assert answer.status_code == 200
            ports.add(answer.extensions["network_stream"].get_extra_info("client_addr")[1])
        assert len(ports) == 1  # the same client socket each time


def test_a_chunked_body_is_read_whole_and_the_connection_goes_on():
    with SandboxServer(port=0) as sandbox:
        connection = _connect(sandbox)
        body = b'{"user": "vecina", "text": "farola apagada"}'
        chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
        connection.sendall(b"POST /_sandbox/telegram/inbound HTTP/1.1\r\nHost: sandbox\r\n"
                           b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked)
        assert _answer(connection).status == 200
        connection.sendall(b"GET /botsandbox-token/getUpdates HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        updates = json.loads(_answer(connection).body)["result"]
        connection.close()
        assert [u["message"]["text"].split(" ", 1)[1] for u in updates] == ["farola apagada"]


def test_a_stopped_sandbox_hangs_up_on_open_connections():
    sandbox = SandboxServer(port=0).start()
    connection = _connect(sandbox)
    connection.sendall(b"GET /_sandbox/platforms HTTP/1.1\r\nHost: sandbox\r\n\r\n")
    answer = _answer(connection)
    assert (answer.version, answer.status) == (11, 200)
    sandbox.stop()
    try:
        connection.sendall(b"GET /_sandbox/platforms HTTP/1.1\r\nHost: sandbox\r\n\r\n")
        assert connection.recv(65536) == b""  # closed, no answer from a stopped sandbox
    except OSError:
        pass  # reset: also no answer
    finally:
        connection.close()


def test_a_client_sees_a_stopped_sandbox_as_down():
    sandbox = SandboxServer(port=0).start()
    with httpx.Client(base_url=sandbox.url) as http:
        assert http.get("/_sandbox/platforms").status_code == 200
        sandbox.stop()
        with pytest.raises(httpx.TransportError):
            http.get("/_sandbox/platforms")


def test_a_malformed_chunked_body_is_answered_400():
    with SandboxServer(port=0) as sandbox:
        connection = _connect(sandbox)
        connection.sendall(b"POST /_sandbox/telegram/inbound HTTP/1.1\r\nHost: sandbox\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n")
        answer = _answer(connection)
        assert (answer.version, answer.status) == (11, 400)
        connection.close()

"""Loopback fakes of the platform APIs, plus the admin API and a web page.

Start one with `SandboxServer().start()` (port 0 picks a free port) or run
`serve(host, port)` in the foreground. See `channels.sandbox.server`.
"""

from channels.sandbox.server import SandboxServer, serve

__all__ = ["SandboxServer", "serve"]

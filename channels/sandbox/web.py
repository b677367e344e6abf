"""Tiny HTTP value types shared by the sandbox server and its platform fakes.

`Request` is what a fake receives; `Response` is what it answers. Both are plain
data: the fakes never see sockets, so they stay easy to test and thread-safe.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Upload:
    """A file part of a multipart body."""

    filename: str | None
    content_type: str
    data: bytes


class BadInput(ValueError):
    """The request body or parameters cannot be understood (answered with HTTP 400)."""


@dataclass
class Request:
    """One HTTP request: method, path without query, parsed query, headers, raw body."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The body parsed as JSON. Raises BadInput when it is not JSON."""
        if not self.body.strip():
            raise BadInput("request body is empty; expected a JSON object")
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInput(f"request body is not valid JSON: {exc}") from None

    def params(self) -> dict[str, Any]:
        """Query string merged with the body (form, multipart or JSON object).

        Form and query values are strings; multipart files are `Upload`s; JSON
        bodies keep their types. Body values win over the query string.
        """
        merged: dict[str, Any] = {k: v[-1] for k, v in self.query.items()}
        ctype = self.content_type
        if not self.body:
            return merged
        if ctype == "application/x-www-form-urlencoded":
            form = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
            merged.update({k: v[-1] for k, v in form.items()})
        elif ctype == "multipart/form-data":
            merged.update(_parse_multipart(self.headers["content-type"], self.body))
        elif ctype == "application/json" or self.body.lstrip()[:1] == b"{":
            data = self.json()
            if not isinstance(data, dict):
                raise BadInput("JSON body must be an object")
            merged.update(data)
        return merged


@dataclass
class Response:
    """An HTTP answer. Use the `json`, `html` and `binary` constructors."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, value: Any, status: int = 200) -> Response:
        body = json.dumps(value, ensure_ascii=False).encode("utf-8")
        return cls(status, body, "application/json; charset=utf-8")

    @classmethod
    def html(cls, text: str, status: int = 200) -> Response:
        return cls(status, text.encode("utf-8"), "text/html; charset=utf-8")

    @classmethod
    def binary(cls, data: bytes, content_type: str) -> Response:
        return cls(200, data, content_type)

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        """An admin API error: `{"error": message}`."""
        return cls.json({"error": message}, status)


def _parse_multipart(content_type_header: str, body: bytes) -> dict[str, Any]:
    """Parse multipart/form-data with the stdlib email parser (cgi is gone in 3.13)."""
    head = f"Content-Type: {content_type_header}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
    if not msg.is_multipart():
        raise BadInput("malformed multipart body")
    fields: dict[str, Any] = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None or part.get_content_type() not in ("text/plain",):
            fields[str(name)] = Upload(filename, part.get_content_type(), payload)
        else:
            charset = part.get_content_charset() or "utf-8"
            fields[str(name)] = payload.decode(charset, "replace")
    return fields

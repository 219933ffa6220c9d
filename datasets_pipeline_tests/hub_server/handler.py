"""HTTP/1.1 request handling: logging on arrival, fault injection, sending answers."""

from __future__ import annotations

import json
import socket
import time
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from .faults import CORRUPT, DROP, IGNORE_RANGE, SHORT, STALL, STATUS, TRUNCATE, TRUNCATE_AFTER, Fault, RecordedRequest
from .responses import Reply

if TYPE_CHECKING:
    from .server import LoopbackHTTPServer


def fault_reply(fault: Fault) -> Reply:
    """The answer of a ``status`` fault."""
    headers = dict(fault.headers)
    body = fault.body
    if body is None:
        message = headers.get("X-Error-Message", f"Injected fault: HTTP {fault.status}")
        body = json.dumps({"error": message}).encode()
        headers.setdefault("Content-Type", "application/json; charset=utf-8")
    return Reply(fault.status, headers, body)


def corrupt(body: bytes, count: int) -> bytes:
    """``body`` with ``count`` bytes inverted from the middle on (same length)."""
    if not body:
        return body
    start = len(body) // 2
    data = bytearray(body)
    for i in range(start, min(start + max(count, 1), len(data))):
        data[i] ^= 0xFF
    return bytes(data)


class HubRequestHandler(BaseHTTPRequestHandler):
    """Serves one keep-alive connection of the loopback Hub."""

    protocol_version = "HTTP/1.1"
    server_version = "LoopbackHub/1.0"
    timeout = 120  # an idle keep-alive connection is closed after this many seconds
    server: LoopbackHTTPServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        """Quiet: requests are kept in ``HubServer.requests`` instead."""

    def do_GET(self) -> None:
        self.handle_hub_request()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def handle_hub_request(self) -> None:
        hub = self.server.hub
        target = self.path
        if "://" in target.split("?", 1)[0]:  # absolute-form request target
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        raw_path, _, query = target.partition("?")
        body = self.read_body()
        delays, fault = hub.fault_set.take(self.command, raw_path, query)
        applied = fault or (delays[-1] if delays else None)
        record = hub.log_arrival(self.command, raw_path, query, self.headers, applied)
        for delay in delays:
            time.sleep(delay.delay)
        if fault is not None and fault.kind == DROP:
            self.drop_connection()
            return
        if fault is not None and fault.kind == STATUS:
            reply = fault_reply(fault)
        else:
            ignore_range = fault is not None and fault.kind == IGNORE_RANGE
            reply = hub.answer(self.command, raw_path, query, body, self.headers, ignore_range)
        try:
            self.send_reply(reply, fault, record)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def drop_connection(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_reply(self, reply: Reply, fault: Fault | None, record: RecordedRequest) -> None:
        kind = fault.kind if fault is not None else None
        body = reply.body
        if kind == CORRUPT:
            body = corrupt(body, fault.nbytes or 1)  # type: ignore[union-attr]
        elif kind == SHORT:
            body = body[: fault.nbytes if fault.nbytes is not None else len(body) // 2]  # type: ignore[union-attr]
        record.status = reply.status
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if kind in (TRUNCATE, TRUNCATE_AFTER, STALL):
            default = len(body) // 2 if kind != TRUNCATE_AFTER else 0
            count = fault.nbytes if fault.nbytes is not None else default  # type: ignore[union-attr]
            self.wfile.write(body[: min(count, max(len(body) - 1, 0))])
            self.wfile.flush()
            if kind == STALL:
                time.sleep(fault.delay)  # type: ignore[union-attr]
            self.drop_connection()
            return
        self.wfile.write(body)

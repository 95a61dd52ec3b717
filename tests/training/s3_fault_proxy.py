"""An HTTP proxy on loopback in front of an S3 server, that fails requests on command.

Used by the fault tests and bench/faults.py: the trainer is pointed at the proxy, the proxy
forwards to moto or SeaweedFS. Modes, switchable while running:

- ``pass``: forward every request.
- ``drop``: close every connection without an answer, as a dropped network or a stopped
  MinIO looks to botocore.
- ``status``: answer every request with ``status`` (503 SlowDown by default).
- a ``put_failure`` fraction: that share of PUTs is answered 500 InternalError instead.
- ``hold_next(method, key_part)``: the next such request waits in the proxy until released, so a
  fault can be aimed at the moment the trainer is inside that request (a publish, a retention
  delete).

It binds 127.0.0.1 only.
"""
from __future__ import annotations

import http.client
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOOPBACK = "127.0.0.1"
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "expect"}


class Hold:
    """One request to hold: ``arrived`` is set when it reaches the proxy, which forwards it on ``release()``."""

    def __init__(self, method: str, key_part: str) -> None:
        self.method, self.key_part = method, key_part
        self.arrived = threading.Event()
        self._released = threading.Event()
        self.path: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and self.key_part in path

    def release(self) -> None:
        self._released.set()

    def wait_for_release(self, timeout: float = 300.0) -> None:
        self._released.wait(timeout)


class S3FaultProxy:
    """``with S3FaultProxy(upstream) as proxy: ... proxy.url ...; proxy.mode = "drop"``."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        parts = urlsplit(upstream)
        if parts.hostname not in (LOOPBACK, "localhost"):
            raise ValueError(f"the fault proxy forwards to loopback only, not {upstream}")
        self.upstream = (parts.hostname, parts.port)
        self.mode = "pass"
        self.status = (503, "SlowDown")
        self.put_failure = 0.0
        self.counts = {"forwarded": 0, "dropped": 0, "failed": 0, "held": 0}
        self._holds: list[Hold] = []
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer((LOOPBACK, 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="s3-fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def start(self) -> "S3FaultProxy":
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> "S3FaultProxy":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _count(self, what: str) -> None:
        with self._lock:
            self.counts[what] += 1

    def hold_next(self, method: str, key_part: str) -> Hold:
        """Hold the next ``method`` request whose path contains ``key_part`` until ``release()``."""
        hold = Hold(method, key_part)
        with self._lock:
            self._holds.append(hold)
        return hold

    def _take_hold(self, method: str, path: str) -> Hold | None:
        with self._lock:
            for hold in self._holds:
                if hold.matches(method, path):
                    self._holds.remove(hold)
                    self.counts["held"] += 1
                    hold.path = path
                    return hold
        return None

    def _fail_this_put(self) -> bool:
        with self._lock:
            return self._random.random() < self.put_failure

    def _handler_class(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_args) -> None:  # quiet
                pass

            def _relay(self) -> None:
                if proxy.mode == "drop":
                    proxy._count("dropped")
                    self.close_connection = True
                    try:
                        self.connection.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
                    return
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                if proxy.mode == "status" or (self.command == "PUT" and proxy._fail_this_put()):
                    status, code = proxy.status if proxy.mode == "status" else (500, "InternalError")
                    proxy._count("failed")
                    self._answer(status, [("Content-Type", "application/xml")],
                                 f"<Error><Code>{code}</Code><Message>injected by the test proxy</Message></Error>"
                                 .encode())
                    return
                hold = proxy._take_hold(self.command, self.path)
                if hold is not None:
                    hold.arrived.set()
                    hold.wait_for_release()
                upstream = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    response = upstream.getresponse()
                    data = response.read()
                    proxy._count("forwarded")
                    self._answer(response.status, [(k, v) for k, v in response.getheaders()
                                                   if k.lower() not in _HOP_HEADERS | {"content-length"}], data)
                finally:
                    upstream.close()

            def _answer(self, status: int, headers, data: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay

        return Handler

"""A Redis pub/sub subscription on its own socket, reading each message into one buffer of its size.

Episodes arrive as one 3 MB bulk string each (docs/protocol.md §5.3). redis-py's pure-Python reply
reader passes every byte through a ``BytesIO`` and slices it out again, three copies per episode
and most of the trainer's receive time. This reader speaks just the RESP2 subset a subscriber
sees (arrays, bulk strings, integers, simple strings, errors) and receives a large bulk string
straight into a ``bytearray`` of its exact length. Publishing and every other command stay with
redis-py.
"""
from __future__ import annotations

import logging
import socket

from markov.config import RedisConfig
from markov.errors import ProtocolError

log = logging.getLogger(__name__)

# Header lines and small messages (requests, ACKs) go through this buffer; a bulk string longer
# than it is received into a buffer of its own.
READ_BUFFER_SIZE = 1 << 16
# A message once begun must finish within this; the same bound as the publishing client's.
MESSAGE_TIMEOUT = 30.0


class RedisReplyError(ProtocolError):
    """Redis answered a command with an error reply (``-ERR ...``)."""


class Subscriber:
    """One connection subscribed to one channel; ``next_message`` returns the channel's payloads.

    Link failures surface as ``OSError`` (``ConnectionError`` when the server closed the
    connection, ``TimeoutError`` when a message stalled) for the caller to reconnect.
    """

    def __init__(self, config: RedisConfig, channel: str, *, connect_timeout: float = 5.0) -> None:
        self.config = config
        self.channel = channel.encode()
        self.connect_timeout = connect_timeout
        self._sock: socket.socket | None = None
        self._buf = bytearray(READ_BUFFER_SIZE)
        self._view = memoryview(self._buf)
        self._start = 0  # unread bytes are _buf[_start:_end]
        self._end = 0

    def connect(self) -> None:
        """Connect, authenticate, select the db and subscribe; raises OSError or ProtocolError."""
        sock = socket.create_connection((self.config.host, self.config.port), timeout=self.connect_timeout)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(MESSAGE_TIMEOUT)
        self._sock = sock
        self._start = self._end = 0
        try:
            if self.config.password:
                self._command(b"AUTH", self.config.password.encode())
            if self.config.db:
                self._command(b"SELECT", str(self.config.db).encode())
            self._send(b"SUBSCRIBE", self.channel)
            while True:  # the confirmation; nothing else can precede it on a fresh connection
                reply = self._read_reply()
                if isinstance(reply, list) and reply and reply[0] == b"subscribe":
                    return
        except BaseException:
            self.close()
            raise

    def next_message(self, timeout: float) -> bytes | bytearray | None:
        """The next payload published on the channel, or None if none began within ``timeout`` seconds."""
        sock = self._sock
        if sock is None:
            raise ConnectionError("the subscriber is closed")
        while True:
            if self._start == self._end:
                self._start = self._end = 0
                sock.settimeout(max(timeout, 0.0))
                try:
                    received = sock.recv_into(self._view)
                except (TimeoutError, BlockingIOError):
                    return None
                finally:
                    sock.settimeout(MESSAGE_TIMEOUT)
                if received == 0:
                    raise ConnectionError("Redis closed the connection")
                self._end = received
            reply = self._read_reply()
            # Subscribe confirmations, pongs and anything not for our channel are skipped.
            if isinstance(reply, list) and len(reply) == 3 and reply[0] == b"message" and reply[1] == self.channel:
                return reply[2]
            timeout = 0.0

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.close()
            except OSError:
                pass

    # -- RESP2 ---------------------------------------------------------------------------------

    def _send(self, *args: bytes) -> None:
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
        self._sock.sendall(b"".join(parts))

    def _command(self, *args: bytes) -> object:
        self._send(*args)
        reply = self._read_reply()
        if isinstance(reply, RedisReplyError):
            raise RedisReplyError(f"Redis at {self.config.host}:{self.config.port} refused {args[0].decode()}: {reply}; "
                                  "check --redis_password / REDIS_PASSWORD and the db number")
        return reply

    def _fill(self) -> None:
        """Receive more bytes after the unread ones, making room at the front first."""
        if self._end == len(self._buf):
            unread = self._end - self._start
            if self._start == 0:  # one header line longer than the buffer
                self._buf.extend(bytes(len(self._buf)))
                self._view = memoryview(self._buf)
            else:
                self._buf[:unread] = self._buf[self._start:self._end]
                self._start, self._end = 0, unread
        received = self._sock.recv_into(self._view[self._end:])
        if received == 0:
            raise ConnectionError("Redis closed the connection")
        self._end += received

    def _read_line(self) -> bytes:
        while True:
            stop = self._buf.find(b"\r\n", self._start, self._end)
            if stop >= 0:
                line = bytes(self._view[self._start:stop])
                self._start = stop + 2
                return line
            self._fill()

    def _read_bulk(self, length: int) -> bytes | bytearray:
        buffered = self._end - self._start
        if length + 2 <= buffered:
            data = bytes(self._view[self._start:self._start + length])
            self._start += length + 2
            return data
        if length + 2 <= len(self._buf):
            while self._end - self._start < length + 2:
                self._fill()
            return self._read_bulk(length)
        # A large payload: one buffer of its size, filled by the kernel directly.
        data = bytearray(length)
        view = memoryview(data)
        taken = min(buffered, length)
        view[:taken] = self._view[self._start:self._start + taken]
        self._start += taken
        while taken < length:
            received = self._sock.recv_into(view[taken:])
            if received == 0:
                raise ConnectionError("Redis closed the connection")
            taken += received
        view.release()
        if self._start == self._end:
            self._start = self._end = 0
        while self._end - self._start < 2:
            self._fill()
        self._start += 2  # the bulk string's CRLF
        return data

    def _read_reply(self) -> object:
        line = self._read_line()
        kind, rest = line[:1], line[1:]
        if kind == b"$":
            length = int(rest)
            return None if length < 0 else self._read_bulk(length)
        if kind == b"*":
            count = int(rest)
            return None if count < 0 else [self._read_reply() for _ in range(count)]
        if kind == b":":
            return int(rest)
        if kind == b"+":
            return rest
        if kind == b"-":
            return RedisReplyError(rest.decode(errors="replace"))
        raise ProtocolError(f"unexpected reply from Redis at {self.config.host}:{self.config.port}: {line[:40]!r}")

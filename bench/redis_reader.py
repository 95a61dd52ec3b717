"""Benchmark: whole training iterations with redis-py's pub/sub reader against our former own RESP2 reader.

Until this was measured, ``markov/memory/subscriber.py`` read episodes with a hand-written RESP2
reader (kept below as ``OwnReader``) that received each large bulk string straight into one
buffer, where redis-py's pure-Python reader copies it. This script measures what that saves in a
whole iteration as the training loop runs it: a rollout process serves N episodes over a loopback
``redis-server``; the trainer fetches them through ``TrainerBackend`` while ``ingest_transitions``
hands each transition to a real Clipped PPO graph (shallow camera network, default
hyperparameters), then trains the iteration. Checkpoint publishing, the same for both, is not
timed. The two readers alternate iteration by iteration in one trainer process (the graph is built
once), so load from other jobs falls on both alike. Printed: per iteration the reader, fetch+ingest
seconds, train seconds and the whole; then per reader the medians and the ratio of whole
iterations, redis-py / own.

    python bench/redis_reader.py [--iterations 3] [--episodes 20]
    python bench/redis_reader.py --fetch-only 3     (the fetch alone, as bench/fetch.py times it)
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_iteration import build_manager, make_episodes  # noqa: E402  (bench/ is not a package)

from markov.cli.tensorflow_logging import quiet  # noqa: E402
from markov.config import RedisConfig  # noqa: E402
from markov.errors import ProtocolError  # noqa: E402
from markov.memory.redis_server import LOOPBACK, RedisServer, free_port  # noqa: E402

quiet(debug=False)  # at import, so the spawned children (which import this module) start TensorFlow quietly too
PREFIX = "bench-reader"
READERS = ("own", "redis-py")
WARM_UP_EPISODES = 4


# Header lines and small messages (requests, ACKs) go through this buffer; a bulk string longer
# than it is received into a buffer of its own.
READ_BUFFER_SIZE = 1 << 16
# A message once begun must finish within this; the same bound as the publishing client's.
MESSAGE_TIMEOUT = 30.0


class RedisReplyError(ProtocolError):
    """Redis answered a command with an error reply (``-ERR ...``)."""


class OwnReader:
    """The hand-written RESP2 subscriber that ``markov/memory/subscriber.py`` held before it was measured.

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


# -- the processes -------------------------------------------------------------------------------

def rollout_process(config: RedisConfig, connection) -> None:
    """Serve the episodes of iteration i whenever the parent sends i; None ends it."""
    from markov.memory.rollout_backend import RolloutBackend

    while (job := connection.recv()) is not None:
        iteration, count = job
        episodes = make_episodes(np.random.default_rng(iteration), count)
        with RolloutBackend(config, PREFIX, episodes_per_iteration=count) as backend:
            for episode in episodes:
                backend.store_episode(episode)
            connection.send("ready")
            connection.recv()  # the trainer has its episodes


def trainer_process(config: RedisConfig, connection) -> None:
    """Build the graph once, then run an iteration with the reader the parent names each time."""
    import markov.compat  # noqa: F401  (first, as in the trainer: Coach's modules load through the bridge)
    from markov.memory import connection as link_module
    from markov.memory import subscriber
    from markov.memory.trainer_backend import TrainerBackend
    from markov.training.ingest import ingest_transitions, prepare_training, train_batch_size

    readers = {"own": OwnReader, "redis-py": subscriber.Subscriber}
    with tempfile.TemporaryDirectory() as experiment_path:
        manager, hyperparameters = build_manager("fp32", None, None, experiment_path)
        connection.send("built")
        while (job := connection.recv()) is not None:
            reader, count = job
            link_module.Subscriber = readers[reader]
            backend = TrainerBackend(config, PREFIX)
            backend.start()
            connection.send("subscribed")
            connection.recv()  # the rollout has stored its episodes
            began = time.perf_counter()
            steps = ingest_transitions(manager, backend.fetch(count))
            fetched = time.perf_counter()
            prepare_training(manager, count, steps, train_batch_size(hyperparameters.batch_size, steps), False)
            if not manager.should_train():
                raise RuntimeError("Coach did not want to train after a full iteration of episodes")
            manager.train()
            trained = time.perf_counter()
            backend.close()
            connection.send({"steps": steps, "fetch_s": fetched - began, "train_s": trained - fetched})
        manager.sess.close()


def fetch_only_trainer(config: RedisConfig, reader: str, results) -> None:
    """bench/fetch.py's trainer (20 stored episodes of 150 steps), with the given reader."""
    import fetch

    from markov.memory import connection as link_module
    from markov.memory import subscriber

    link_module.Subscriber = {"own": OwnReader, "redis-py": subscriber.Subscriber}[reader]  # type: ignore[misc]
    fetch.fetch_trainer(config, 20, 150, True, results)


def fetch_only(rounds: int) -> None:
    """The fetch alone, each reader in turn, the best of 3 runs each, ``rounds`` times."""
    import fetch

    with RedisServer(port=free_port(), bind=(LOOPBACK,)) as server:
        config = RedisConfig(host=server.host, port=server.port)
        print("fetch only: 20 stored episodes of 150 steps (56 MB), best of 3 runs")
        for round_ in range(1, rounds + 1):
            for reader in READERS:
                best = fetch.best_of(3, fetch_only_trainer, config, reader)
                print(f"round {round_}  {reader:<9} {best['seconds']:.3f} s  peak RSS {best['peak_rss']:.0f} MB", flush=True)


def run_iteration(trainer, rollout, iteration: int, reader: str, count: int) -> dict:
    trainer.send((reader, count))
    trainer.recv()
    rollout.send((iteration, count))
    rollout.recv()
    trainer.send("go")
    result = trainer.recv()
    rollout.send("done")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="timed iterations per reader (default: 3)")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per iteration (default: 20)")
    parser.add_argument("--fetch-only", type=int, metavar="ROUNDS", default=0,
                        help="instead, time the fetch alone (bench/fetch.py's) with each reader, ROUNDS times")
    args = parser.parse_args(argv)
    if args.fetch_only:
        fetch_only(args.fetch_only)
        return 0

    ctx = mp.get_context("spawn")
    with RedisServer(port=free_port(), bind=(LOOPBACK,)) as server:
        config = RedisConfig(host=server.host, port=server.port, poll_time=0.2)
        trainer_end, trainer = ctx.Pipe()
        rollout_end, rollout = ctx.Pipe()
        processes = [ctx.Process(target=trainer_process, args=(config, trainer_end)),
                     ctx.Process(target=rollout_process, args=(config, rollout_end))]
        for process in processes:
            process.start()
        trainer_end.close()  # so that a child that dies ends the parent's recv() instead of hanging it
        rollout_end.close()
        trainer.recv()
        for reader in READERS:  # warm-up: TensorFlow optimises each new session call once; not timed
            run_iteration(trainer, rollout, 0, reader, WARM_UP_EPISODES)
        print(f"{args.episodes} episodes of 30-59 steps (120x160x1 uint8 frames) per iteration; "
              "shallow camera network, Clipped PPO, default hyperparameters")
        print(f"{'iteration':>9} {'reader':<9} {'steps':>5} {'fetch+ingest s':>14} {'train s':>8} {'whole s':>8}")
        results: dict[str, list[dict]] = {reader: [] for reader in READERS}
        for iteration in range(1, args.iterations + 1):
            order = READERS if iteration % 2 else READERS[::-1]
            for reader in order:
                result = run_iteration(trainer, rollout, iteration, reader, args.episodes)
                results[reader].append(result)
                print(f"{iteration:>9} {reader:<9} {result['steps']:>5} {result['fetch_s']:>14.3f} "
                      f"{result['train_s']:>8.2f} {result['fetch_s'] + result['train_s']:>8.2f}", flush=True)
        trainer.send(None)
        rollout.send(None)
        for process in processes:
            process.join()

    def median(reader: str, key: str) -> float:
        return statistics.median(r["fetch_s"] + r["train_s"] if key == "whole" else r[key] for r in results[reader])

    print()
    print(f"{'reader':<9} {'median fetch+ingest s':>21} {'median train s':>14} {'median whole s':>14}")
    for reader in READERS:
        print(f"{reader:<9} {median(reader, 'fetch_s'):>21.3f} {median(reader, 'train_s'):>14.2f} "
              f"{median(reader, 'whole'):>14.2f}")
    saved = median("redis-py", "fetch_s") - median("own", "fetch_s")
    print(f"ratio of whole iterations, redis-py / own: {median('redis-py', 'whole') / median('own', 'whole'):.3f}; "
          f"the own reader saves {saved:.3f} s of fetch+ingest "
          f"({100 * saved / median('own', 'whole'):.1f} % of a whole iteration)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

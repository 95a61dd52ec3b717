"""The rollout's side of the episode transport: keep finished episodes and serve them on request.

Worker ``idx`` of ``n`` owns the global episode indices ``idx, idx+n, idx+2n, ...`` (docs/protocol.md
§5.5). On request ``e`` it publishes its episode ``e`` if it has it; otherwise it remembers
``e`` and publishes that episode the moment it is stored. Request ``N`` ends the iteration: every
worker forgets its episodes, and the owner of episode ``N-1`` publishes the ACK ``(N+1, "")``
(§5.4). The 2020 generation has one worker, which always ACKs; with ``n = 1`` that is the same rule.

Episodes are kept as the objects played and pickled by the request thread when asked for, and
the worker's next episode is pickled ahead while the trainer decodes the one just sent. Pickling
at store time instead made the request thread wait for the GIL behind the main thread's pickling
(docs/performance.md, "Redis episode fetch").
"""
from __future__ import annotations

import logging
import threading
from typing import Any

from markov.config import RedisConfig
from markov.errors import ConfigError
from markov.memory import channels as wire
from markov.memory.connection import RECONNECTED, PubSubLink, describe

log = logging.getLogger(__name__)


class RolloutBackend:
    """Serves this worker's episodes to the trainer from a daemon thread.

    Args:
        redis_config: the trainer's Redis (workers always use port 6379 there, docs/protocol.md §5.1).
        s3_prefix: the same raw string the trainer uses; the reply channel is named after it.
        episodes_per_iteration: N, the episodes of one iteration over all workers.
        worker_index, num_workers: this worker's place among the workers (§5.5).
        agent: Coach agent name.
        connect_timeout: seconds to wait for Redis at start and after a disconnect.
    """

    # How long the request thread blocks before checking for close(): bounds close() latency.
    LISTEN_SLICE = 0.1

    def __init__(self, redis_config: RedisConfig, s3_prefix: str, *, episodes_per_iteration: int,
                 worker_index: int = 0, num_workers: int = 1, agent: str = wire.DEFAULT_AGENT,
                 connect_timeout: float = 60.0, wait_log_interval: float = 30.0) -> None:
        if num_workers < 1 or not 0 <= worker_index < num_workers:
            raise ConfigError(f"rollout worker index {worker_index} of {num_workers} workers is invalid: "
                              "the index must be 0 .. num_workers-1")
        if redis_config.protocol == wire.PROTOCOL_2020 and num_workers != 1:
            raise ConfigError("--redis_protocol 2020 supports one rollout worker only (docs/protocol.md §5.7)")
        if episodes_per_iteration < 0:
            raise ConfigError(f"episodes per iteration must be >= 0, got {episodes_per_iteration}")
        self.redis_config = redis_config
        self.channels = wire.channels_for(s3_prefix, agent, redis_config.protocol)
        self.episodes_per_iteration = episodes_per_iteration
        self.worker_index = worker_index
        self.num_workers = num_workers
        self.iterations_completed = 0
        self._link = PubSubLink(redis_config, self.channels.requests, connect_timeout=connect_timeout,
                                wait_log_interval=wait_log_interval)
        self._lock = threading.Lock()
        self._episodes: list[Any] = []  # Coach Episodes, local order j -> global index idx + j*n
        self._prepared: tuple[int, bytes] | None = None  # the next episode, already pickled (see _prepare)
        self._pending_request: int | None = None
        self._last_request: int | None = None
        self._current: Any = None  # the Episode being assembled by store(transition)
        self._iteration_end = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect, subscribe to requests and answer them from a daemon thread."""
        if self._thread is not None:
            return
        self._link.open()
        self._thread = threading.Thread(target=self._serve, name=f"rollout-{self.worker_index}-requests", daemon=True)
        self._thread.start()
        log.info("Rollout worker %d of %d serving episodes: requests on %r, replies on %r at Redis %s",
                 self.worker_index, self.num_workers, self.channels.requests, self.channels.replies,
                 describe(self.redis_config))

    def close(self) -> None:
        """Stop answering and disconnect; joins the request thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self._link.close()

    def __enter__(self) -> "RolloutBackend":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- storing -------------------------------------------------------------------------------

    def global_index(self, local_index: int) -> int:
        """The index the trainer knows this worker's ``local_index``-th episode by (§5.5)."""
        return self.worker_index + local_index * self.num_workers

    def store_episode(self, episode: Any) -> int:
        """Keep a finished Coach ``Episode``; publish it at once if the trainer is waiting for it.

        Returns its global episode index. The episode must not change after this call. Episodes
        are kept as objects and pickled when they are sent, by the thread that sends them: pickling a 3 MB episode holds the GIL for ~5 ms, and
        done here ahead of time it would stall the request thread's answers (docs/performance.md).
        """
        with self._lock:
            index = self.global_index(len(self._episodes))
            self._episodes.append(episode)
            publish_now = self._pending_request == index
            if publish_now:
                self._pending_request = None
        if publish_now:
            self._publish(index, episode)
        log.debug("Stored episode %d", index)
        return index

    def store(self, obj: Any) -> None:
        """Coach's memory hook: an ``Episode`` is stored whole; transitions are collected until ``game_over``.

        Use one form or the other: Coach's episodic memories call ``store`` with each transition
        *and* with the finished episode.
        """
        if hasattr(obj, "transitions"):
            self.store_episode(obj)
            return
        from rl_coach.core_types import Episode

        if self._current is None:
            self._current = Episode()
        self._current.insert(obj)
        if getattr(obj, "game_over", False):
            episode, self._current = self._current, None
            self.store_episode(episode)

    @property
    def stored_episodes(self) -> int:
        with self._lock:
            return len(self._episodes)

    def wait_for_iterations(self, count: int, timeout: float | None = None) -> bool:
        """Block until the trainer has ended ``count`` iterations since start (request N each); False on timeout."""
        with self._iteration_end:
            return self._iteration_end.wait_for(lambda: self.iterations_completed >= count, timeout=timeout)

    # -- serving -------------------------------------------------------------------------------

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                payload = self._link.next_message(self.LISTEN_SLICE)
            except Exception:
                if self._stop.is_set():
                    return
                log.exception("Rollout request listener failed; retrying")
                self._stop.wait(1.0)
                continue
            if payload is None or payload is RECONNECTED:
                continue  # the trainer re-sends its request after a reconnect
            index = wire.decode_request(payload, self.channels.requests)
            if index is None:
                continue
            try:
                self._answer(index)
            except Exception as exc:  # the listener must outlive one bad answer: the trainer re-requests what it misses
                if self._stop.is_set():
                    return
                log.error("Rollout could not answer request %d (%s: %s); waiting for the next one", index,
                          type(exc).__name__, exc)
                log.debug("the failed answer", exc_info=True)

    def _answer(self, requested: int) -> None:
        n_workers = self.num_workers
        with self._lock:
            if requested < 0:
                return  # the image ignores negative requests (docs/protocol.md §5.3)
            repeated = requested == self._last_request
            self._last_request = requested
            if requested >= self.episodes_per_iteration:
                if requested == self.episodes_per_iteration:
                    self._end_iteration(repeated)
                return
            if (requested - self.worker_index) % n_workers == 0:
                local = (requested - self.worker_index) // n_workers
                if local < len(self._episodes):
                    episode = self._episodes[local]
                    prepared, self._prepared = self._prepared, None
                else:
                    self._pending_request = requested
                    return
            else:
                self._pending_request = requested
                return
        if prepared is not None and prepared[0] == requested:
            self._link.publish(self.channels.replies, prepared[1])
        else:
            self._publish(requested, episode)
        self._prepare(requested + n_workers)

    def _publish(self, index: int, episode: Any) -> None:
        payload = wire.encode_episode(index, episode, self.channels.protocol)
        self._link.publish(self.channels.replies, payload)
        log.debug("Sent episode %d (%d bytes)", index, len(payload))

    def _prepare(self, index: int) -> None:
        """Pickle this worker's next episode now, while the trainer decodes the one just sent.

        The trainer asks for episodes in order, so the next request is almost always for it; the
        pickled copy waits in one slot and is dropped if another request comes first.
        """
        with self._lock:
            local = (index - self.worker_index) // self.num_workers
            if not 0 <= local < len(self._episodes):
                return
            episode, iteration = self._episodes[local], self.iterations_completed
        payload = wire.encode_episode(index, episode, self.channels.protocol)
        with self._lock:
            if self.iterations_completed == iteration:
                self._prepared = (index, payload)

    def _end_iteration(self, repeated: bool) -> None:
        """Request N: forget this iteration; the owner of episode N-1 ACKs (docs/protocol.md §5.4). Holds the lock.

        A re-sent request N (its ACK was lost) is only ACKed again: clearing a second time could
        drop episodes of the next iteration stored in between.
        """
        last = self.episodes_per_iteration - 1
        if not repeated:
            self._episodes.clear()
            self._prepared = None
            self._pending_request = None
            self.iterations_completed += 1
            self._iteration_end.notify_all()
        if last < 0 or (last - self.worker_index) % self.num_workers == 0:
            self._link.publish(self.channels.replies, wire.encode_ack(self.episodes_per_iteration))

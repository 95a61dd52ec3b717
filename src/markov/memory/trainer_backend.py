"""The trainer's side of the episode transport: ask the rollout workers for one iteration's episodes.

One ``fetch(N)`` requests episodes 0, 1, ..., N-1 in order and then N, which the workers answer
with the ACK ``(N+1, "")`` (docs/protocol.md §5.4). The trainer never needs to know how many workers
there are: each owns the indices ``idx, idx+n, ...`` and answers only for those (§5.5).

Unlike the image, no fixed sleep sits on the hot path: the next request goes out the moment a
reply arrives, before it is even decoded, so the worker sends the next episode while the trainer
decodes and consumes this one. A request or reply lost to a disconnect is
re-sent after ``poll_time`` (DEEPRACER_POLL_TIME, default 1 s) and at once after a reconnect.
Replies are matched to the index asked for, so an episode that arrives twice (a re-send racing
a slow reply) is counted once.

Everything runs in the caller's thread: there is no background thread to keep the process alive.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any, Iterator

from markov.config import RedisConfig
from markov.errors import ConfigError, ProtocolError
from markov.memory import channels as wire
from markov.memory.connection import (RECONNECTED, BufferLimit, PubSubLink, channels_matching, describe,
                                      read_pubsub_buffer_limit)
from markov.memory.redis_server import docker_run_line
from markov.memory.safe_pickle import UnsafePayloadError, preload
from markov.model_metadata import SHALLOW

log = logging.getLogger(__name__)

# The image's defaults before MAX_MEMORY_STEPS (docs/protocol.md §5.6).
MAX_MEMORY_STEPS_SHALLOW = 10000
MAX_MEMORY_STEPS_OTHER = 3000


def max_memory_steps_for(network: str | None, override: int | None = None) -> int:
    """The per-iteration transition cap: MAX_MEMORY_STEPS if set, else the image's default for ``network``."""
    if override is not None:
        return override
    return MAX_MEMORY_STEPS_SHALLOW if network in (None, SHALLOW) else MAX_MEMORY_STEPS_OTHER


def episode_count(num_episodes: Any) -> int:
    """N from an int or from Coach's ``EnvironmentEpisodes``/``EnvironmentSteps`` (its ``num_steps``)."""
    value = getattr(num_episodes, "num_steps", num_episodes)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"episodes per iteration must be a non-negative integer, got {num_episodes!r}")
    return value


@dataclass
class FetchStats:
    """What one ``fetch`` received; final once the iterator is exhausted (``complete``)."""

    requested: int
    episodes: int = 0
    steps: int = 0
    episode_rewards: list[float] = field(default_factory=list)
    episode_steps: list[int] = field(default_factory=list)
    # From the last transition's ``info["progress"]`` where a rollout puts it there; else None.
    episode_progress: list[float | None] = field(default_factory=list)
    dropped_over_cap: int = 0
    duplicates: int = 0
    refused: int = 0
    ignored: int = 0
    reconnects: int = 0
    bytes_received: int = 0
    seconds: float = 0.0
    complete: bool = False


@dataclass
class _Exchange:
    """Where one request/reply exchange stands (:meth:`TrainerBackend._exchange`)."""

    wanted: int           # N: requesting N itself means "end of iteration", answered by the ACK
    index: int            # the episode asked for
    stats: FetchStats
    started: float
    end_iteration: bool
    asked_early: int = -1  # an index requested as soon as a payload arrived, before it was decoded
    steps_total: int = 0
    waiting_since: float = 0.0
    last_sent: float = 0.0
    last_log: float = 0.0
    diagnosed: bool = False  # the likely cause of a long wait has been logged

    def progressed(self, now: float) -> None:
        """An episode arrived (or the exchange began): the waiting clocks start again."""
        self.waiting_since = self.last_sent = self.last_log = now
        self.diagnosed = False


class TrainerBackend:
    """Requests episodes over Redis pub/sub and yields their transitions.

    Args:
        redis_config: where the trainer's Redis is (``markov.config.RedisConfig``); its
            ``protocol`` picks the channel layout and its ``poll_time`` the re-send interval.
        s3_prefix: the raw ``--s3_prefix``; the reply channel is named after it.
        agent: Coach agent name, ``agent`` for single-agent training.
        episodes_per_iteration: the N to ask for, overriding what ``fetch`` is passed. Set it to
            what the rollout uses (PPO: num_episodes_between_training; SAC: 1, docs/protocol.md §5.4).
        max_memory_steps: cap on transitions per iteration (§5.6), None for no cap.
        connect_timeout: seconds to wait for an unreachable Redis before ProtocolError.
        wait_log_interval: seconds between "still waiting" lines.
        wait_timeout: seconds without progress after which the likely cause is logged.
    """

    def __init__(self, redis_config: RedisConfig, s3_prefix: str, *, agent: str = wire.DEFAULT_AGENT,
                 episodes_per_iteration: int | None = None, max_memory_steps: int | None = None,
                 connect_timeout: float = 60.0, wait_log_interval: float = 30.0, wait_timeout: float = 600.0) -> None:
        self.redis_config = redis_config
        self.s3_prefix = s3_prefix
        self.channels = wire.channels_for(s3_prefix, agent, redis_config.protocol)
        self.episodes_per_iteration = None if episodes_per_iteration is None else episode_count(episodes_per_iteration)
        self.max_memory_steps = max_memory_steps
        self.poll_time = float(redis_config.poll_time)
        self.wait_log_interval = wait_log_interval
        self.wait_timeout = wait_timeout
        self.last_fetch: FetchStats | None = None
        self.buffer_limit: BufferLimit | None = None
        self._link = PubSubLink(redis_config, self.channels.replies, connect_timeout=connect_timeout,
                                wait_log_interval=wait_log_interval)
        self._started = False
        self._largest_reply = 0
        self._buffer_warned = False
        self._ever_received = False
        self._listeners: int | None = None
        self._unended: int | None = None  # N of a fetch whose end-of-iteration request is still to send

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> None:
        """Connect and subscribe (the image does this before writing ``.ready``, docs/protocol.md §7.1)."""
        if self._started:
            return
        preload()
        self._link.open()
        self._started = True
        log.info("Episodes from Redis %s: requests on %r, replies on %r (%s protocol)", describe(self.redis_config),
                 self.channels.requests, self.channels.replies, self.channels.protocol)
        if self.max_memory_steps is not None:
            log.info("Capping iteration steps at: %d", self.max_memory_steps)
        self.buffer_limit = read_pubsub_buffer_limit(self._link.client)
        if self.buffer_limit is not None:
            log.info("Redis pubsub output buffer limit: hard %d MB, soft %d MB for %d s", self.buffer_limit.hard >> 20,
                     self.buffer_limit.soft >> 20, self.buffer_limit.soft_seconds)

    def close(self) -> None:
        """Unsubscribe and disconnect. Safe to call twice."""
        self._link.close()
        self._started = False

    def __enter__(self) -> "TrainerBackend":
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- one iteration -------------------------------------------------------------------------

    def fetch(self, num_episodes: Any = None, end_iteration: bool = True) -> Iterator[Any]:
        """Yield the transitions of one iteration's episodes, in episode order.

        ``num_episodes`` (an int or Coach's ``EnvironmentEpisodes``) is used unless
        ``episodes_per_iteration`` is set. ``last_fetch`` holds the running statistics.
        With ``end_iteration=False`` the end-of-iteration request is left to
        :meth:`end_iteration`: the workers keep their episodes until then, so a trainer killed
        before it published what it trained on gets the same episodes again when it is rerun
        (docs/reliability.md).
        """
        if self.episodes_per_iteration is not None:
            wanted = self.episodes_per_iteration
        elif num_episodes is not None:
            wanted = episode_count(num_episodes)
        else:
            raise ConfigError("fetch() needs the number of episodes per iteration (or set episodes_per_iteration)")
        self.start()
        stats = FetchStats(requested=wanted)
        self.last_fetch = stats
        started = time.monotonic()
        self._discard_leftovers()
        self._unended = None
        yield from self._exchange(wanted, 0, stats, started, end_iteration)
        if not end_iteration:
            self._unended = wanted

    def end_iteration(self, episodes: int | None = None, timeout: float | None = None) -> bool:
        """Send the end-of-iteration request and wait for the ACK; False if none came within ``timeout``.

        Without ``episodes`` it ends the last ``fetch(end_iteration=False)`` (and does nothing if
        there is none to end). With it, it ends an iteration of ``episodes`` that an earlier,
        killed trainer published but did not end (docs/reliability.md).
        """
        wanted, self._unended = (self._unended if episodes is None else episode_count(episodes)), None
        if wanted is None:
            return True
        self.start()
        stats = FetchStats(requested=wanted)
        for _ in self._exchange(wanted, wanted, stats, time.monotonic(), True, give_up_after=timeout):
            pass
        return stats.complete

    def _exchange(self, wanted: int, index: int, stats: FetchStats, started: float, end_iteration: bool,
                  give_up_after: float | None = None) -> Iterator[Any]:
        """Request episodes from ``index`` on and yield their transitions; ``index == wanted`` asks for the ACK.

        Each turn of the loop handles one thing that can happen while waiting: a reconnect, a
        quiet interval (re-send, log, diagnose), an ACK, a duplicate, or the episode asked for.
        """
        reconnects_before = self._link.reconnects
        state = _Exchange(wanted=wanted, index=index, stats=stats, started=started, end_iteration=end_iteration)
        self._request(index)
        state.progressed(time.monotonic())
        while True:
            now = time.monotonic()
            payload = self._link.next_message(min(state.last_sent + self.poll_time,
                                                  state.last_log + self.wait_log_interval) - now)
            now = time.monotonic()
            if payload is RECONNECTED:
                self._request(state.index)
                state.last_sent = now
                continue
            if payload is None:
                if give_up_after is not None and now - started >= give_up_after:
                    return
                self._while_quiet(state, now)
                continue
            self._ask_for_next_early(state)
            reply = self._decode(payload, stats)
            del payload  # the bytes go now: an episode is held once, decoded (issue 4, item 5)
            self._take_back_early_request(state, reply)
            if reply is None:
                continue
            if not reply.is_episode:
                if reply.index == wire.ack_index(wanted) and state.index == wanted:
                    break
                stats.duplicates += 1  # an ACK left over from an earlier iteration
                log.debug("Ignored ACK %d while waiting for %d of %d", reply.index, state.index, wanted)
                continue
            if reply.index != state.index or state.index >= wanted:
                stats.duplicates += 1  # a re-sent episode that raced its first copy
                log.debug("Ignored episode %d while waiting for %d of %d", reply.index, state.index, wanted)
                continue
            if self._accept(state, reply):
                self._record(stats, reply.episode)
                yield from reply.episode.transitions
            del reply
            stats.seconds = time.monotonic() - started
            if state.index >= wanted and not end_iteration:
                break
        stats.reconnects = self._link.reconnects - reconnects_before
        stats.seconds = time.monotonic() - started
        stats.complete = True
        log.debug("Fetched %d episodes, %d steps in %.2f s", stats.episodes, stats.steps, stats.seconds)

    def _while_quiet(self, state: _Exchange, now: float) -> None:
        """Nothing arrived: re-send the request after ``poll_time``, say what we wait for, diagnose once."""
        if now - state.last_sent >= self.poll_time:
            self._request(state.index)  # lost or not yet answerable: ask again (docs/protocol.md §5.1)
            state.last_sent = now
        if now - state.last_log >= self.wait_log_interval:
            state.last_log = now
            waited = now - state.waiting_since
            self._log_waiting(state.index, state.wanted, state.stats, waited)
            if waited >= self.wait_timeout and not state.diagnosed:
                log.warning(self._likely_cause(state.index, state.wanted, state.stats, waited))
                state.diagnosed = True

    def _ask_for_next_early(self, state: _Exchange) -> None:
        """A payload arrived: ask for the next episode before decoding this one.

        Almost always this payload is episode ``index``, so the worker pickles and sends the next
        one while this one is decoded. Never request N early: it clears the workers' episodes
        (docs/protocol.md §5.4).
        """
        if state.index + 1 < state.wanted and state.asked_early != state.index + 1:
            self._request(state.index + 1)
            state.asked_early = state.index + 1

    def _take_back_early_request(self, state: _Exchange, reply: wire.Reply | None) -> None:
        """The payload was not episode ``index``: make ``index`` the workers' last request again.

        Its owner then sends it the moment it is finished (§5.4).
        """
        if state.asked_early == state.index + 1 and (reply is None or reply.index != state.index):
            self._request(state.index)
            state.asked_early = -1

    def _accept(self, state: _Exchange, reply: wire.Reply) -> bool:
        """Episode ``index`` arrived: move on to the next index and request it; False if it is over the cap.

        Over the cap (§5.6) it is dropped, and so are all later ones: like the image, jump to the
        last index and let its owner finish before the end-of-iteration request (§5.4).
        """
        length = len(reply.episode.transitions)
        state.steps_total += length
        capped = self.max_memory_steps is not None and state.steps_total > self.max_memory_steps
        if capped:
            state.stats.dropped_over_cap += 1
            log.info("Dropped episode %d (%d steps): the iteration would exceed %d steps (MAX_MEMORY_STEPS)",
                     reply.index, length, self.max_memory_steps)
            state.index = state.wanted - 1 if state.index < state.wanted - 1 else state.wanted
        else:
            state.index += 1
        if state.asked_early != state.index and (state.index < state.wanted or state.end_iteration):
            self._request(state.index)  # before handing this one to Coach, so that both overlap
        state.progressed(time.monotonic())
        self._ever_received = True
        return not capped

    def _discard_leftovers(self) -> None:
        """Drop what arrived since the last iteration's ACK (late duplicates) without decoding it."""
        while True:
            payload = self._link.next_message(0.0)
            if payload is None:
                return
            if payload is not RECONNECTED:
                log.debug("Discarded a %d-byte leftover message on %r", len(payload), self.channels.replies)

    def _request(self, index: int) -> None:
        listeners = self._link.publish(self.channels.requests, wire.encode_request(index))
        if listeners is not None:
            self._listeners = listeners

    def _decode(self, payload: bytes, stats: FetchStats) -> wire.Reply | None:
        stats.bytes_received += len(payload)
        try:
            reply = wire.decode_reply(payload, self.channels.replies)
        except UnsafePayloadError as exc:
            stats.refused += 1
            log.error("Refused a message on Redis channel %r: %s. It was dropped unexecuted; "
                      "someone who can reach this Redis sent it", self.channels.replies, exc)
            return None
        except ProtocolError as exc:
            stats.ignored += 1
            log.warning("%s; dropped", exc)
            return None
        if reply is None:
            stats.ignored += 1
            return None
        self._check_buffer_limit(reply.size)
        return reply

    def _record(self, stats: FetchStats, episode: Any) -> None:
        transitions = episode.transitions
        stats.episodes += 1
        stats.steps += len(transitions)
        stats.episode_steps.append(len(transitions))
        stats.episode_rewards.append(float(sum(float(t.reward) for t in transitions)))
        info = getattr(transitions[-1], "info", None) if transitions else None
        progress = info.get("progress") if isinstance(info, dict) else None
        stats.episode_progress.append(float(progress) if isinstance(progress, (int, float)) else None)

    # -- diagnostics ---------------------------------------------------------------------------

    def _check_buffer_limit(self, size: int) -> None:
        if size <= self._largest_reply:
            return
        self._largest_reply = size
        limit = self.buffer_limit
        if limit is not None and not self._buffer_warned and limit.too_low_for(size):
            self._buffer_warned = True
            log.warning(
                "Episodes of %.1f MB are close to Redis's pubsub output buffer limit (hard %d MB, soft %d MB); Redis will "
                "disconnect the trainer and episodes will be lost. Raise it: redis-cli -h %s -p %d CONFIG SET "
                "client-output-buffer-limit \"pubsub 1gb 512mb 60\" (or start Redis with: %s)",
                size / 2**20, limit.hard >> 20, limit.soft >> 20, self.redis_config.host, self.redis_config.port,
                docker_run_line())

    def _log_waiting(self, index: int, wanted: int, stats: FetchStats, waited: float) -> None:
        what = "the end-of-iteration ACK" if index >= wanted else f"episode {index} of {wanted}"
        listeners = "unknown" if self._listeners is None else str(self._listeners)
        log.info("Waiting for %s from the rollout workers for %.0f s: Redis %s, replies on %r, requests on %r "
                 "(%s listening); %d episodes received this iteration", what, waited, describe(self.redis_config),
                 self.channels.replies, self.channels.requests, listeners, stats.episodes)

    def _likely_cause(self, index: int, wanted: int, stats: FetchStats, waited: float) -> str:
        head = f"No episode for {waited:.0f} s. "
        if not self._listeners:
            others = [name for name in channels_matching(self._link.client, "worker_channel*")
                      if name != self.channels.requests]
            if "worker_channel" in others and self.channels.protocol == wire.CURRENT:
                return head + ("A 2020-generation rollout listens on 'worker_channel': start the trainer with "
                               "--redis_protocol 2020 (docs/redis.md).")
            if others:
                return head + (f"Rollout workers listen on {others}, not on {self.channels.requests!r}: "
                               "the agent name differs, or use --redis_protocol to match the image's generation.")
            return head + (f"No rollout worker listens on {self.channels.requests!r}. Check that the simulation "
                           f"workers run, that they reach Redis at the address in ip/ip.json on port 6379, and that "
                           f"their s3_prefix is exactly {self.s3_prefix!r}: the channel names are built from it "
                           "(docs/protocol.md §5.2).")
        if not self._ever_received:
            return head + (f"{self._listeners} rollout worker(s) listen on {self.channels.requests!r} but none has "
                           f"answered on {self.channels.replies!r}: their s3_prefix may differ from {self.s3_prefix!r}, "
                           "they may still be starting the simulator, or Redis's pubsub output buffer limit is too "
                           "low for whole episodes (docs/redis.md).")
        return head + (f"The rollout workers stopped answering after {stats.episodes} episodes of {wanted}: check the "
                       "simulation logs. The trainer asks for N episodes per iteration and N must match the rollout's "
                       "(PPO: num_episodes_between_training; SAC: 1, docs/protocol.md §5.4).")

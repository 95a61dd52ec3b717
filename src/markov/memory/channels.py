"""Redis channel names and payload shapes: the one place both sides of the episode transport agree on.

Everything here is dictated by the simulation image (docs/protocol.md §5.2, §5.3): a request is a
pickled int, a reply is a pickled ``(index, Episode)`` tuple, and the end of an iteration is the
ACK ``(N + 1, "")``. Two channel layouts exist: the current one (``worker_channel_<agent>`` and
``<s3_prefix>_<agent>``) and the 2020 one of the Windows guide's image, without the agent suffix.
"""
from __future__ import annotations

import logging
import pickle
from dataclasses import dataclass
from typing import Any

from markov.errors import ConfigError, ProtocolError
from markov.memory.safe_pickle import UnsafePayloadError, safe_loads

log = logging.getLogger(__name__)

CURRENT = "current"
PROTOCOL_2020 = "2020"
PROTOCOLS = (CURRENT, PROTOCOL_2020)

DEFAULT_AGENT = "agent"

# Python 3.6-era images (the 2020 generation) read at most protocol 4; 3.12 images read 4 as well,
# and protocol 5 only pays off with out-of-band buffers, which pub/sub cannot carry.
PICKLE_PROTOCOL = 4

# The second element of the ACK tuple (docs/protocol.md §5.3).
ACK_MARKER = ""


@dataclass(frozen=True)
class Channels:
    """The two pub/sub channels of one agent: requests go to the rollouts, replies come back."""

    requests: str
    replies: str
    protocol: str = CURRENT


def channels_for(s3_prefix: str, agent: str = DEFAULT_AGENT, protocol: str = CURRENT) -> Channels:
    """Channel names for ``s3_prefix`` and ``agent``.

    The prefix is used raw, not normalised: the rollout builds the same string from its own
    ``SAGEMAKER_SHARED_S3_PREFIX`` and the two must match byte for byte (docs/protocol.md §5.2).
    """
    if protocol == CURRENT:
        return Channels(requests=f"worker_channel_{agent}", replies=f"{s3_prefix}_{agent}", protocol=protocol)
    if protocol == PROTOCOL_2020:
        return Channels(requests="worker_channel", replies=s3_prefix, protocol=protocol)
    raise ConfigError(f"--redis_protocol {protocol!r} is unknown; use one of {', '.join(PROTOCOLS)}")


def ack_index(episodes_per_iteration: int) -> int:
    """The index the ACK carries: one past the end-of-iteration request N (docs/protocol.md §5.3)."""
    return episodes_per_iteration + 1


def encode_request(episode_index: int) -> bytes:
    return pickle.dumps(int(episode_index), protocol=PICKLE_PROTOCOL)


def encode_episode(episode_index: int, episode: Any, protocol: str = CURRENT) -> bytes:
    """The reply for one episode; for 2020-generation trainers (numpy 1.1x) with numpy 1.x names."""
    if protocol == PROTOCOL_2020:
        from markov.memory import numpy1_pickle

        return numpy1_pickle.dumps((int(episode_index), episode), protocol=PICKLE_PROTOCOL)
    return pickle.dumps((int(episode_index), episode), protocol=PICKLE_PROTOCOL)


def encode_ack(episodes_per_iteration: int) -> bytes:
    return pickle.dumps((ack_index(episodes_per_iteration), ACK_MARKER), protocol=PICKLE_PROTOCOL)


@dataclass(frozen=True)
class Reply:
    """One decoded message from the replies channel: an episode, or the ACK when ``episode`` is None."""

    index: int
    episode: Any
    size: int

    @property
    def is_episode(self) -> bool:
        return self.episode is not None


def decode_request(payload: bytes, channel: str) -> int | None:
    """The requested episode index, or None (logged) for anything that is not a plain int."""
    try:
        value = safe_loads(payload)
    except UnsafePayloadError as exc:
        log.error("Refused a request on Redis channel %r: %s; the message was dropped", channel, exc)
        return None
    except Exception as exc:  # a truncated or corrupt pickle: the trainer re-sends a request it still needs
        log.warning("Ignored an undecodable request on Redis channel %r (%s: %s)", channel, type(exc).__name__, exc)
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        log.warning("Ignored a request on Redis channel %r that is not an episode index: %s", channel, type(value).__name__)
        return None
    return value


def decode_reply(payload: bytes, channel: str) -> Reply | None:
    """Decode a rollout's reply; None for anything the protocol does not allow.

    Raises:
        UnsafePayloadError: the payload names a class or function outside the episode whitelist.
            The caller logs, counts and drops it; nothing of it was executed.
    """
    try:
        value = safe_loads(payload)
    except UnsafePayloadError:
        raise
    except Exception as exc:  # a truncated or corrupt pickle: drop it, the request is re-sent
        raise ProtocolError(f"undecodable message on Redis channel {channel!r}: {exc}") from exc
    # The image ignores any payload that is not a tuple (docs/protocol.md §5.3).
    if not isinstance(value, tuple) or len(value) != 2 or isinstance(value[0], bool) or not isinstance(value[0], int):
        log.warning("Ignored a message on Redis channel %r that is not an (index, episode) tuple", channel)
        return None
    index, body = value
    if isinstance(body, str) and body == ACK_MARKER:
        return Reply(index=index, episode=None, size=len(payload))
    if not hasattr(body, "transitions"):
        log.warning("Ignored a message on Redis channel %r whose second element is a %s, not an Episode",
                    channel, type(body).__name__)
        return None
    return Reply(index=index, episode=body, size=len(payload))

"""Channel names and payload shapes against docs/protocol.md §5.2/§5.3 and the image's real messages."""
from __future__ import annotations

import pickle

import pytest

from fixture_files import EPISODES
from markov.errors import ConfigError, ProtocolError
from markov.memory import channels as wire
from redis_episodes import make_episode


def test_current_channels_carry_the_agent_suffix_and_the_raw_prefix():
    names = wire.channels_for("rl-deepracer-sagemaker")
    assert (names.requests, names.replies) == ("worker_channel_agent", "rl-deepracer-sagemaker_agent")
    # The prefix is not normalised: a trailing slash stays, as on the rollout side.
    assert wire.channels_for("models/run1/", "agent_1").replies == "models/run1/_agent_1"


def test_2020_channels_have_no_suffix():
    names = wire.channels_for("rl-deepracer-sagemaker", protocol=wire.PROTOCOL_2020)
    assert (names.requests, names.replies) == ("worker_channel", "rl-deepracer-sagemaker")


def test_unknown_protocol_names_the_flag():
    with pytest.raises(ConfigError, match="--redis_protocol"):
        wire.channels_for("p", protocol="2019")


def test_request_and_ack_bytes_are_plain_pickles():
    assert pickle.loads(wire.encode_request(7)) == 7
    assert pickle.loads(wire.encode_ack(20)) == (21, "")
    assert wire.encode_ack(20) == (EPISODES / "ack_message.pkl").read_bytes()


def test_image_ack_decodes_as_ack():
    reply = wire.decode_reply((EPISODES / "ack_message.pkl").read_bytes(), "c")
    assert reply.index == 21 and not reply.is_episode


def test_image_episode_message_decodes():
    payload = (EPISODES / "episode_message_camera.pkl").read_bytes()
    reply = wire.decode_reply(payload, "c")
    assert reply.index == 3 and reply.size == len(payload)
    assert len(reply.episode.transitions) == 12
    assert reply.episode.transitions[-1].game_over and not reply.episode.transitions[0].game_over


def test_our_episode_round_trips():
    reply = wire.decode_reply(wire.encode_episode(4, make_episode(9, steps=3)), "c")
    assert reply.index == 4 and [t.reward for t in reply.episode.transitions] == [1.0, 2.0, 3.0]


@pytest.mark.parametrize("value", [5, "text", (1, 2, 3), (True, ""), ("1", ""), (2, {"not": "an episode"})])
def test_payloads_outside_the_protocol_are_ignored(value):
    assert wire.decode_reply(pickle.dumps(value), "c") is None


def test_corrupt_payload_is_a_protocol_error():
    with pytest.raises(ProtocolError, match="undecodable message on Redis channel 'c'"):
        wire.decode_reply(wire.encode_episode(0, make_episode(1))[:-100], "c")


def test_decode_request_accepts_ints_only():
    assert wire.decode_request(wire.encode_request(3), "c") == 3
    assert wire.decode_request(pickle.dumps("3"), "c") is None
    assert wire.decode_request(pickle.dumps(True), "c") is None
    for corrupt in (wire.encode_request(3)[:-2], b"\x80\x04\x95", b"not a pickle", b""):
        assert wire.decode_request(corrupt, "c") is None

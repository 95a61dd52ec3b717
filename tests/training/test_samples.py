"""The sample collector (docs/protocol.md §4.3, §9): which transitions become samples/sample_<k>.pkl, and how."""
from __future__ import annotations

import logging
import pickle

import numpy as np
from rl_coach.core_types import Transition

from markov.errors import StorageError
from markov.store.keys import ModelKeys
from markov.store.local import LocalStore
from markov.training.samples import SampleCollector

KEYS = ModelKeys("rl-samples")


def transitions(count: int) -> list[Transition]:
    return [Transition(state={"FRONT_FACING_CAMERA": np.full((120, 160, 1), i, np.uint8)}, action=i % 5,
                       reward=float(i), next_state={"FRONT_FACING_CAMERA": np.zeros((120, 160, 1), np.uint8)},
                       game_over=False) for i in range(count)]


def test_every_nth_transition_until_the_count(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    collector = SampleCollector(store, KEYS, max_sample_count=3, sampling_frequency=2)
    passed = list(collector.collect(transitions(10)))
    assert [t.reward for t in passed] == [float(i) for i in range(10)]  # every transition still reaches Coach
    assert store.list("rl-samples/samples/") == [f"rl-samples/samples/sample_{k}.pkl" for k in range(3)]
    data = store.get_bytes("rl-samples/samples/sample_0.pkl")
    assert data[:2] == b"\x80\x02"  # pickle protocol 2, as the image writes
    # The 2nd, 4th and 6th transitions, each as {agent_name: Transition}.
    for k, index in enumerate((1, 3, 5)):
        sample = pickle.loads(store.get_bytes(f"rl-samples/samples/sample_{k}.pkl"))
        assert list(sample) == ["agent"] and isinstance(sample["agent"], Transition)
        assert sample["agent"].reward == float(index) and sample["agent"].action == index % 5
        assert sample["agent"].state["FRONT_FACING_CAMERA"][0, 0, 0] == index


def test_off_by_default(tmp_path):
    store = LocalStore(tmp_path / "bucket")
    collector = SampleCollector(store, KEYS, max_sample_count=0)
    assert len(list(collector.collect(transitions(5)))) == 5
    assert store.list("rl-samples/") == []


class RefusingStore(LocalStore):
    def put_bytes(self, key: str, data: bytes) -> None:
        raise StorageError(f"access denied to {key}")


def test_a_failed_upload_ends_sampling_not_training(tmp_path, caplog):
    collector = SampleCollector(RefusingStore(tmp_path / "bucket"), KEYS, max_sample_count=5)
    with caplog.at_level(logging.WARNING, logger="markov.training.samples"):
        assert len(list(collector.collect(transitions(4)))) == 4
    assert not collector.active and collector.sample_count == 0
    assert caplog.text.count("no more samples are collected") == 1

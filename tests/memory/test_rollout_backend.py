"""Rollout backend: index ownership, announce-on-store, who ACKs, and Coach's store() hook (docs/protocol.md §5.4, §5.5)."""
from __future__ import annotations

import pickle
import time

import pytest
import redis

from markov.config import RedisConfig
from markov.errors import ConfigError
from markov.memory import channels as wire
from markov.memory.rollout_backend import RolloutBackend
from redis_episodes import episode_tags, make_episode

PREFIX = "pfx"


class FakeTrainer:
    """Publishes raw requests and reads raw replies, so the rollout is tested on the wire alone."""

    def __init__(self, config: RedisConfig):
        self.client = redis.Redis(host=config.host, port=config.port)
        self.names = wire.channels_for(PREFIX, protocol=config.protocol)
        self.pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(self.names.replies)

    def request(self, index: int) -> None:
        self.client.publish(self.names.requests, wire.encode_request(index))

    def replies(self, wait: float = 0.3) -> list:
        """Everything published until ``wait`` seconds pass with nothing new."""
        got = []
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            message = self.pubsub.get_message(timeout=deadline - time.monotonic())
            if message is not None and message["type"] == "message":
                got.append(pickle.loads(message["data"]))
                deadline = time.monotonic() + wait
        return got

    def close(self):
        self.pubsub.close()
        self.client.close()


@pytest.fixture
def trainer(redis_config):
    fake = FakeTrainer(redis_config)
    yield fake
    fake.close()


def indices(replies):
    return [index for index, _ in replies]


def test_worker_answers_only_for_the_indices_it_owns(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=7, worker_index=1, num_workers=3) as worker:
        assert [worker.store_episode(make_episode(tag)) for tag in (1, 4)] == [1, 4]
        for index in range(7):
            trainer.request(index)
        replies = trainer.replies()
        assert indices(replies) == [1, 4]
        assert episode_tags(t for _, episode in replies for t in episode.transitions) == [1, 4]


def test_stored_episode_is_published_when_it_was_already_requested(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=2) as worker:
        trainer.request(0)
        assert trainer.replies(wait=0.2) == []
        worker.store_episode(make_episode(9))
        assert indices(trainer.replies()) == [0]


def test_only_the_owner_of_the_last_episode_acks(redis_config, trainer):
    # N = 5 over 2 workers: episode 4 belongs to worker 0, which alone ACKs with (6, "").
    workers = [RolloutBackend(redis_config, PREFIX, episodes_per_iteration=5, worker_index=i, num_workers=2)
               for i in range(2)]
    try:
        for worker in workers:
            worker.start()
            worker.store_episode(make_episode(0))
        trainer.request(5)
        assert trainer.replies() == [(6, "")]
        assert all(worker.wait_for_iterations(1, timeout=1) for worker in workers)
        assert [worker.stored_episodes for worker in workers] == [0, 0]
    finally:
        for worker in workers:
            worker.close()


def test_end_of_iteration_clears_and_restarts_the_numbering(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=1) as worker:
        worker.store_episode(make_episode(1))
        trainer.request(1)
        assert trainer.replies() == [(2, "")]
        assert worker.wait_for_iterations(1, timeout=1)
        assert worker.store_episode(make_episode(2)) == 0


def test_a_re_sent_end_request_is_acked_again_without_clearing(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=1) as worker:
        trainer.request(1)
        assert trainer.replies() == [(2, "")]
        worker.store_episode(make_episode(3))  # already the next iteration's episode 0
        trainer.request(1)  # the trainer lost the ACK and asks again
        assert trainer.replies() == [(2, "")]
        assert worker.stored_episodes == 1 and worker.iterations_completed == 1


def test_negative_and_foreign_requests_are_ignored(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=3) as worker:
        worker.store_episode(make_episode(1))
        trainer.request(-1)
        trainer.client.publish(trainer.names.requests, pickle.dumps("0"))
        assert trainer.replies(wait=0.2) == []


def test_corrupt_and_hostile_requests_are_dropped_and_the_worker_still_answers(redis_config, trainer, tmp_path):
    marker = tmp_path / "pwned"
    hostile = f"cos\nsystem\n(S'touch {marker}'\ntR.".encode()
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=3) as worker:
        worker.store_episode(make_episode(1))
        for payload in (hostile, hostile[:-5], b"\x80\x04\x95", wire.encode_request(0)[:-2], b"not a pickle"):
            trainer.client.publish(trainer.names.requests, payload)
        trainer.request(0)  # the request thread is still alive and answers
        replies = trainer.replies()
    assert indices(replies) == [0]
    assert not marker.exists()


def test_a_failed_answer_does_not_end_the_request_listener(redis_config, trainer, monkeypatch):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=3) as worker:
        worker.store_episode(make_episode(1))
        answer, calls = worker._answer, []

        def fails_once(index: int) -> None:
            calls.append(index)
            if len(calls) == 1:
                raise RuntimeError("the reply could not be published")
            answer(index)

        monkeypatch.setattr(worker, "_answer", fails_once)
        trainer.request(0)
        assert trainer.replies(wait=0.3) == []
        trainer.request(0)  # the trainer re-requests what it misses; the listener is still there
        replies = trainer.replies()
    assert calls == [0, 0] and indices(replies) == [0]


def test_store_collects_transitions_into_episodes(redis_config, trainer):
    with RolloutBackend(redis_config, PREFIX, episodes_per_iteration=2) as worker:
        for tag in (5, 6):
            for transition in make_episode(tag, steps=3).transitions:
                worker.store(transition)
        worker.store(make_episode(7))  # a whole Episode is stored as is
        assert worker.stored_episodes == 3
        trainer.request(1)
        (index, episode), = trainer.replies()
        assert index == 1 and len(episode.transitions) == 3 and episode.transitions[-1].game_over


@pytest.mark.parametrize("index, workers", [(-1, 1), (2, 2), (0, 0)])
def test_bad_worker_index_is_a_config_error(redis_config, index, workers):
    with pytest.raises(ConfigError, match="worker index"):
        RolloutBackend(redis_config, PREFIX, episodes_per_iteration=2, worker_index=index, num_workers=workers)


def test_2020_protocol_allows_one_worker_only(redis_config):
    old = RedisConfig(host=redis_config.host, port=redis_config.port, protocol=wire.PROTOCOL_2020)
    with pytest.raises(ConfigError, match="one rollout worker"):
        RolloutBackend(old, PREFIX, episodes_per_iteration=2, worker_index=0, num_workers=2)

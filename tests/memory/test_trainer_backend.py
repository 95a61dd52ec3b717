"""Trainer backend against a real redis-server: request order, workers, cap, losses, hostile payloads, waiting."""
from __future__ import annotations

import logging
import pickle
import threading
import time

import pytest
import redis
from rl_coach.core_types import EnvironmentEpisodes

from markov.config import RedisConfig
from markov.errors import ProtocolError
from markov.memory import channels as wire
from markov.memory.redis_server import free_port
from markov.memory.rollout_backend import RolloutBackend
from markov.memory.trainer_backend import TrainerBackend, max_memory_steps_for
from redis_episodes import episode_tags, make_episode
from test_safe_pickle import hostile_payloads

PREFIX = "rl-deepracer-sagemaker"


@pytest.fixture
def trainer(redis_config):
    backend = TrainerBackend(redis_config, PREFIX)
    backend.start()
    yield backend
    backend.close()


def rollout(redis_config, n_episodes, index=0, workers=1, episodes=()):
    backend = RolloutBackend(redis_config, PREFIX, episodes_per_iteration=n_episodes, worker_index=index,
                             num_workers=workers)
    backend.start()
    for episode in episodes:
        backend.store_episode(episode)
    return backend


def test_one_iteration_round_trip_with_stats(trainer, redis_config):
    worker = rollout(redis_config, 3, episodes=[make_episode(tag, steps=4, progress=25.0 * tag) for tag in (10, 11, 12)])
    try:
        transitions = list(trainer.fetch(3))
        assert episode_tags(transitions) == [10, 11, 12]
        stats = trainer.last_fetch
        assert (stats.episodes, stats.steps, stats.complete) == (3, 12, True)
        assert stats.episode_rewards == [10.0, 10.0, 10.0]
        assert stats.episode_progress == [250.0, 275.0, 300.0]
        assert worker.wait_for_iterations(1, timeout=2) and worker.stored_episodes == 0
    finally:
        worker.close()


def test_several_workers_interleave_by_index(trainer, redis_config):
    # N = 7 over 3 workers: worker idx owns idx, idx+3, idx+6 (docs/protocol.md §5.5).
    workers = [rollout(redis_config, 7, index=i, workers=3) for i in range(3)]
    try:
        for i, worker in enumerate(workers):
            for j in range(len(range(i, 7, 3))):
                assert worker.store_episode(make_episode(100 + i + 3 * j)) == i + 3 * j
        assert episode_tags(trainer.fetch(EnvironmentEpisodes(7))) == list(range(100, 107))
        assert all(worker.wait_for_iterations(1, timeout=2) for worker in workers)
    finally:
        for worker in workers:
            worker.close()


def test_episodes_finished_after_the_request_are_sent_at_once(trainer, redis_config):
    worker = rollout(redis_config, 2)

    def play():
        for tag in (1, 2):
            time.sleep(0.05)
            worker.store_episode(make_episode(tag))

    player = threading.Thread(target=play)
    try:
        trainer.poll_time = 30.0  # a re-send would take 30 s: only the announce path can be this fast
        started = time.monotonic()
        player.start()
        assert episode_tags(trainer.fetch(2)) == [1, 2]
        assert time.monotonic() - started < 2.0
    finally:
        player.join()
        worker.close()


def test_lost_request_is_re_sent_after_poll_time(trainer, redis_config):
    # The first request goes out before any rollout subscribes, so it is lost (pub/sub keeps nothing).
    fetch = trainer.fetch(1)
    worker = None
    try:
        worker_box = []

        def late_worker():
            worker_box.append(rollout(redis_config, 1, episodes=[make_episode(5)]))

        starter = threading.Timer(0.1, late_worker)
        starter.start()
        started = time.monotonic()
        assert episode_tags(fetch) == [5]
        elapsed = time.monotonic() - started
        starter.join()
        worker = worker_box[0]
        assert 0.1 < elapsed < 0.2 + 1.0
    finally:
        if worker:
            worker.close()


def test_duplicates_and_stale_acks_are_counted_once(trainer, redis_config):
    publisher = redis.Redis(host=redis_config.host, port=redis_config.port)
    worker = rollout(redis_config, 2)
    replies = trainer.channels.replies
    fetch = trainer.fetch(2)
    try:
        publisher.publish(replies, wire.encode_ack(2))  # a stale ACK before anything arrived
        worker.store_episode(make_episode(1))
        first = next(fetch)
        publisher.publish(replies, wire.encode_episode(0, make_episode(1)))  # episode 0 again
        worker.store_episode(make_episode(2))
        rest = list(fetch)
        assert episode_tags([first, *rest]) == [1, 2]
        assert trainer.last_fetch.episodes == 2 and trainer.last_fetch.duplicates >= 1
    finally:
        worker.close()
        publisher.close()


def test_step_cap_drops_the_episode_that_passes_it_and_all_later_ones(redis_config):
    trainer = TrainerBackend(redis_config, PREFIX, max_memory_steps=12)
    worker = rollout(redis_config, 5, episodes=[make_episode(tag, steps=5) for tag in range(5)])
    try:
        transitions = list(trainer.fetch(5))
        assert episode_tags(transitions) == [0, 1]  # 10 steps; the third would make 15 > 12
        stats = trainer.last_fetch
        assert (stats.steps, stats.dropped_over_cap, stats.complete) == (10, 2, True)  # episodes 2 and 4
        assert worker.wait_for_iterations(1, timeout=2)
    finally:
        worker.close()
        trainer.close()


def test_cap_defaults_follow_the_image():
    assert max_memory_steps_for("DEEP_CONVOLUTIONAL_NETWORK_SHALLOW") == 10000
    assert max_memory_steps_for("DEEP_CONVOLUTIONAL_NETWORK_DEEP") == 3000
    assert max_memory_steps_for("DEEP_CONVOLUTIONAL_NETWORK", override=500) == 500


def test_hostile_payload_is_dropped_and_training_continues(trainer, redis_config, tmp_path, caplog):
    target = tmp_path / "pwned"
    publisher = redis.Redis(host=redis_config.host, port=redis_config.port)
    worker = rollout(redis_config, 2)
    fetch = trainer.fetch(2)
    try:
        worker.store_episode(make_episode(1))
        first = next(fetch)  # the fetch runs: what arrives now is decoded (earlier leftovers are dropped unread)
        for payload in hostile_payloads(target).values():
            publisher.publish(trainer.channels.replies, payload)
        worker.store_episode(make_episode(2))
        with caplog.at_level(logging.ERROR, logger="markov.memory.trainer_backend"):
            assert episode_tags([first, *fetch]) == [1, 2]
        assert not target.exists()
        assert trainer.last_fetch.refused == len(hostile_payloads(target))
        assert f"channel {PREFIX + '_agent'!r}" in caplog.text
    finally:
        worker.close()
        publisher.close()


def test_episodes_per_iteration_overrides_what_coach_passes(trainer, redis_config):
    # SAC: the rollout uses N = 1 while Coach would pass num_episodes_between_training (docs/protocol.md §5.4).
    trainer.episodes_per_iteration = 1
    worker = rollout(redis_config, 1, episodes=[make_episode(3)])
    try:
        assert episode_tags(trainer.fetch(EnvironmentEpisodes(20))) == [3]
        assert trainer.last_fetch.requested == 1
    finally:
        worker.close()


def test_2020_protocol_round_trip(redis_config):
    old = RedisConfig(host=redis_config.host, port=redis_config.port, protocol=wire.PROTOCOL_2020, poll_time=0.2)
    trainer = TrainerBackend(old, PREFIX)
    worker = rollout(old, 2, episodes=[make_episode(7), make_episode(8)])
    seen = []
    probe = redis.Redis(host=old.host, port=old.port).pubsub()
    probe.subscribe("worker_channel")
    try:
        assert episode_tags(trainer.fetch(2)) == [7, 8]
        while (message := probe.get_message(timeout=0.2)) is not None:
            if message["type"] == "message":
                seen.append(pickle.loads(message["data"]))
        assert seen == [0, 1, 2]
    finally:
        probe.close()
        worker.close()
        trainer.close()


def test_waiting_is_logged_with_the_likely_cause(redis_config, caplog):
    trainer = TrainerBackend(redis_config, PREFIX, wait_log_interval=0.2, wait_timeout=0.3)
    old_worker = redis.Redis(host=redis_config.host, port=redis_config.port).pubsub()
    old_worker.subscribe("worker_channel")  # a 2020 image listening where we do not publish
    fetch = trainer.fetch(1)
    stopper = threading.Timer(0.9, lambda: rollout_box.append(rollout(redis_config, 1, episodes=[make_episode(4)])))
    rollout_box = []
    try:
        with caplog.at_level(logging.INFO, logger="markov.memory.trainer_backend"):
            stopper.start()
            assert episode_tags(fetch) == [4]
        assert "Waiting for episode 0 of 1" in caplog.text and "'worker_channel_agent' (0 listening)" in caplog.text
        assert "--redis_protocol 2020" in caplog.text
    finally:
        stopper.join()
        old_worker.close()
        for worker in rollout_box:
            worker.close()
        trainer.close()


def test_low_pubsub_buffer_limit_is_warned_with_the_fix(redis_server, redis_config, caplog):
    admin = redis.Redis(host=redis_config.host, port=redis_config.port)
    admin.config_set("client-output-buffer-limit", "pubsub 300kb 100kb 60")
    trainer = TrainerBackend(redis_config, PREFIX)
    worker = rollout(redis_config, 1, episodes=[make_episode(1, steps=5)])  # ~190 KB
    try:
        with caplog.at_level(logging.WARNING, logger="markov.memory.trainer_backend"):
            trainer.start()
            list(trainer.fetch(1))
        assert trainer.buffer_limit.hard == 300 * 1024
        assert "CONFIG SET client-output-buffer-limit \"pubsub 1gb 512mb 60\"" in caplog.text
    finally:
        worker.close()
        trainer.close()
        admin.close()


def test_unreachable_redis_is_one_line_naming_the_setting():
    config = RedisConfig(host="127.0.0.1", port=free_port())
    trainer = TrainerBackend(config, PREFIX, connect_timeout=0.3)
    with pytest.raises(ProtocolError, match="unreachable .*--redis_host / --redis_port"):
        trainer.start()
    trainer.close()


def test_close_leaves_no_thread_behind(redis_config):
    before = set(threading.enumerate())
    trainer = TrainerBackend(redis_config, PREFIX)
    worker = rollout(redis_config, 1, episodes=[make_episode(1)])
    list(trainer.fetch(1))
    worker.close()
    trainer.close()
    assert {t for t in threading.enumerate() if t not in before and not t.daemon} == set()
    assert [t for t in threading.enumerate() if t.name.startswith("rollout-")] == []


def test_password_and_database_are_used_by_both_sides(redis_server, redis_config):
    admin = redis.Redis(host=redis_config.host, port=redis_config.port)
    admin.config_set("requirepass", "s3cret")
    try:
        secured = RedisConfig(host=redis_config.host, port=redis_config.port, password="s3cret", db=3,
                              poll_time=0.2)
        trainer = TrainerBackend(secured, PREFIX)
        worker = rollout(secured, 2, episodes=[make_episode(5), make_episode(6)])
        try:
            assert episode_tags(trainer.fetch(2)) == [5, 6]
        finally:
            worker.close()
            trainer.close()
        wrong = TrainerBackend(RedisConfig(host=redis_config.host, port=redis_config.port, password="nope"), PREFIX,
                               connect_timeout=1.0)
        with pytest.raises(ProtocolError, match="refused the login.*--redis_password"):
            wrong.start()
        wrong.close()
    finally:
        redis.Redis(host=redis_config.host, port=redis_config.port, password="s3cret").config_set("requirepass", "")


def test_the_next_episode_is_requested_as_soon_as_a_reply_arrives(trainer, redis_config):
    """Before the reply is decoded, never request N early (it clears the workers' episodes, §5.4)."""
    seen = []
    probe = redis.Redis(host=redis_config.host, port=redis_config.port).pubsub()
    probe.subscribe(wire.channels_for(PREFIX, wire.DEFAULT_AGENT, wire.CURRENT).requests)
    worker = rollout(redis_config, 3, episodes=[make_episode(1), make_episode(2), make_episode(3)])
    try:
        assert episode_tags(trainer.fetch(3)) == [1, 2, 3]
        while (message := probe.get_message(timeout=0.2)) is not None:
            if message["type"] == "message":
                seen.append(pickle.loads(message["data"]))
        assert seen == [0, 1, 2, 3]  # each once: the early request is not repeated after decoding
        assert trainer.last_fetch.duplicates == 0
    finally:
        probe.close()
        worker.close()


def test_a_reply_that_is_not_the_awaited_episode_restores_the_request(trainer, redis_config):
    """The early request for episode 1 is taken back by asking for 0 again, so that episode 0's
    owner still sends it the moment it is finished (it answers its last request, §5.4)."""
    channels = wire.channels_for(PREFIX, wire.DEFAULT_AGENT, wire.CURRENT)
    client = redis.Redis(host=redis_config.host, port=redis_config.port)
    probe = client.pubsub()
    probe.subscribe(channels.requests)
    seen = []
    worker = None

    def stray_reply_then_worker():
        nonlocal worker
        time.sleep(0.3)
        client.publish(channels.replies, pickle.dumps((7, make_episode(99))))  # an old episode, not index 0
        time.sleep(0.3)
        worker = rollout(redis_config, 2, episodes=[make_episode(1), make_episode(2)])

    helper = threading.Thread(target=stray_reply_then_worker)
    helper.start()
    try:
        assert episode_tags(trainer.fetch(2)) == [1, 2]
        helper.join()
        while (message := probe.get_message(timeout=0.2)) is not None:
            if message["type"] == "message":
                seen.append(pickle.loads(message["data"]))
        # 0 (re-sent every poll_time); on the stray reply's arrival 1 early; once decoded (it is
        # not episode 0) 0 again at once
        early = seen.index(1)
        assert set(seen[:early]) == {0}
        assert seen[early + 1] == 0
        assert seen[-1] == 2  # the end-of-iteration request comes last, once
        assert seen.count(2) == 1
    finally:
        helper.join()
        probe.close()
        if worker is not None:
            worker.close()


def test_an_iteration_can_be_ended_after_its_publish(trainer, redis_config):
    """fetch(end_iteration=False): the workers keep the episodes until end_iteration() (docs/reliability.md)."""
    worker = rollout(redis_config, 2, episodes=[make_episode(tag, steps=3) for tag in (1, 2)])
    try:
        assert episode_tags(list(trainer.fetch(2, end_iteration=False))) == [1, 2]
        assert trainer.last_fetch.complete
        time.sleep(0.3)
        assert worker.iterations_completed == 0 and worker.stored_episodes == 2  # kept: a rerun could fetch them
        # A trainer killed here is rerun: it gets the same episodes again.
        rerun = TrainerBackend(redis_config, PREFIX)
        try:
            assert episode_tags(list(rerun.fetch(2, end_iteration=False))) == [1, 2]
            assert rerun.end_iteration() is True
        finally:
            rerun.close()
        assert worker.wait_for_iterations(1, timeout=2) and worker.stored_episodes == 0
        assert trainer.end_iteration(2, timeout=2) is True  # a repeated end is only ACKed again
        assert worker.iterations_completed == 1
    finally:
        worker.close()


def test_ending_an_iteration_nobody_holds_gives_up_after_the_timeout(trainer):
    began = time.monotonic()
    assert trainer.end_iteration(2, timeout=1.0) is False
    assert 1.0 <= time.monotonic() - began < 3.0

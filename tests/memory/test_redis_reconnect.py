"""Redis dies and comes back mid-iteration: the iteration still gets every episode exactly once."""
from __future__ import annotations

import threading
import time

from markov.memory.rollout_backend import RolloutBackend
from markov.memory.trainer_backend import TrainerBackend
from redis_episodes import episode_tags, make_episode

PREFIX = "rl-deepracer-sagemaker"
EPISODES = 6


def test_redis_killed_and_restarted_during_a_fetch(redis_server, redis_config):
    trainer = TrainerBackend(redis_config, PREFIX, connect_timeout=20)
    worker = RolloutBackend(redis_config, PREFIX, episodes_per_iteration=EPISODES, connect_timeout=20)
    worker.start()

    def play():  # the rollout keeps finishing episodes while Redis is away
        for tag in range(EPISODES):
            worker.store_episode(make_episode(tag, steps=5))
            time.sleep(0.1)

    player = threading.Thread(target=play)
    try:
        fetch = trainer.fetch(EPISODES)
        player.start()
        received = []
        for transition in fetch:
            received.append(transition)
            if len(episode_tags(received)) == 2 and transition.game_over:
                redis_server.kill()  # a crash: no goodbye to either client
                time.sleep(0.3)
                redis_server.start()
        assert episode_tags(received) == list(range(EPISODES))
        stats = trainer.last_fetch
        assert (stats.episodes, stats.steps, stats.complete) == (EPISODES, 5 * EPISODES, True)
        assert stats.reconnects >= 1
        assert worker.wait_for_iterations(1, timeout=5)
    finally:
        player.join()
        worker.close()
        trainer.close()

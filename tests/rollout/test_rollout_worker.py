"""Rollout worker pieces: episode shares, simtrace keys, recorded transitions, Coach policy actions."""
from __future__ import annotations

import numpy as np
import pytest

from markov.defaults import MODEL_METADATA
from markov.model_metadata import load_model_metadata
from markov.rollout.episode import play_episode
from markov.rollout.policy import PolicyAction
from markov.rollout.worker import episode_share, simtrace_key
from markov.sim.env import DeepRacerEnv
from markov.store.keys import ModelKeys


@pytest.mark.parametrize("n, workers, expected", [(20, 1, [20]), (10, 3, [4, 3, 3]), (1, 2, [1, 0]), (5, 5, [1] * 5)])
def test_episode_share_splits_n_as_the_image_does(n, workers, expected):
    shares = [episode_share(n, index, workers) for index in range(workers)]
    assert shares == expected
    assert sum(shares) == n


def test_simtrace_keys_follow_the_drfc_layouts():
    keys = ModelKeys("rl-model/")
    assert simtrace_key(keys, 0, 1, 3) == "rl-model/training-simtrace/3-iteration.csv"
    assert simtrace_key(keys, 1, 2, 0) == "rl-model/1/training-simtrace/0-iteration.csv"


class StraightAhead:
    def act(self, observation):
        assert observation["FRONT_FACING_CAMERA"].shape == (120, 160, 1)
        probabilities = np.array([0.1, 0.1, 0.6, 0.1, 0.1], dtype=np.float32)
        return PolicyAction(2, np.int64(2), {"all_action_probabilities": probabilities, "action": np.int64(2)})


def test_played_episode_is_recorded_as_the_trainer_expects():
    env = DeepRacerEnv(load_model_metadata(MODEL_METADATA), max_steps=12)
    episode, result = play_episode(env, StraightAhead())
    transitions = episode.transitions
    assert len(transitions) == result.steps == 12
    assert [t.game_over for t in transitions] == [False] * 11 + [True]
    assert result.status == "time_up" and not result.lap_complete
    assert result.reward == pytest.approx(sum(t.reward for t in transitions))
    assert transitions[-1].info["progress"] == pytest.approx(result.progress)
    assert 0 < result.progress < 100
    first = transitions[0]
    assert first.action == 2 and first.reward == 0.0  # the prepare step (image rule)
    assert first.next_state["FRONT_FACING_CAMERA"].dtype == np.uint8
    assert transitions[1].state is first.next_state


def test_coach_policy_samples_discrete_actions_with_their_probabilities(tmp_path):
    from markov.graph.manager import build_graph_manager, create_graph
    from markov.hyperparameters import parse_hyperparameters
    from markov.rollout.policy import CoachPolicy

    metadata = load_model_metadata(MODEL_METADATA)
    manager = build_graph_manager(metadata, parse_hyperparameters({}))
    create_graph(manager, experiment_path=tmp_path)
    try:
        policy = CoachPolicy(manager, metadata)
        env = DeepRacerEnv(metadata, max_steps=5)
        observation, _ = env.reset()
        chosen = {int(policy.act(observation).network_action) for _ in range(40)}
        decision = policy.act(observation)
        assert isinstance(decision.network_action, np.int64)
        assert decision.info["all_action_probabilities"].shape == (5,)
        assert decision.info["all_action_probabilities"].sum() == pytest.approx(1.0, abs=1e-5)
        assert decision.env_action == int(decision.network_action)
        assert len(chosen) > 1  # sampled, not argmax: a fresh policy is near uniform
    finally:
        manager.sess.close()


def test_a_continued_model_keeps_its_recorded_best(tmp_path):
    """Worker 0 reads the earlier run's best (name and score) and keeps it against this run's checkpoints."""
    import json

    from markov.checkpoint_records import checkpoint_records_json
    from markov.rollout.worker import RolloutConfig, RolloutWorker
    from markov.store.local import LocalStore

    store = LocalStore(tmp_path / "bucket")
    store.ensure_bucket()
    keys = ModelKeys("run")
    store.put_bytes(keys.deepracer_checkpoints,
                    checkpoint_records_json("3_Step-30.ckpt", "5_Step-50.ckpt", best_metric=80.0))
    worker = RolloutWorker(RolloutConfig(store=store, s3_prefix="run", work_dir=tmp_path / "work"))
    worker._remember_best()
    worker._scores["6_Step-60.ckpt"] = 40.0  # this run's first checkpoint played worse
    worker._write_records("6_Step-60.ckpt")
    records = json.loads(store.get_bytes(keys.deepracer_checkpoints))
    assert records["best_checkpoint"]["name"] == "3_Step-30.ckpt"
    assert records["best_checkpoint"]["avg_eval_metric"] == 80.0
    assert records["last_checkpoint"]["name"] == "6_Step-60.ckpt"

    store.put_bytes(keys.deepracer_checkpoints, b"{not json")
    worker = RolloutWorker(RolloutConfig(store=store, s3_prefix="run", work_dir=tmp_path / "work"))
    worker._remember_best()  # an unreadable file is ignored with a warning
    assert worker._scores == {}

"""Coach learns from episodes fed the way Redis delivers them (issue 2, item 7).

Graph tests show that one optimisation step changes the weights; they cannot show that the
weights move the right way. Here a task a shallow network learns in a few iterations stands in
for a track: the light falls on the left or on the right half of the camera frame, and the
reward says which action fits each. Episodes are played on-policy with the agent's own network (as a rollout worker would),
pickled and unpickled as on the wire (docs/protocol.md §5.3), and handed to Coach by
``ingest_transitions`` in the trainer loop's order: ingest, ``prepare_training``,
``should_train``, ``train``. The policy is then judged on frames it never trained on.
Each test runs in fp32 and, where the CPU multiplies bf16 natively, in bf16 (the trainer's
``--precision auto`` there): mixed precision must not cost the learning.
"""
from __future__ import annotations

import numpy as np
import pytest

import markov.compat  # noqa: F401  (must precede rl_coach)
from rl_coach.core_types import Episode, Transition

from markov.graph.manager import build_graph_manager, create_graph
from markov.graph.precision import BF16, FP32, detect_hardware
from markov.hyperparameters import parse_hyperparameters
from markov.memory.channels import decode_reply, encode_episode
from markov.model_metadata import parse_model_metadata
from markov.training.ingest import ingest_transitions, prepare_training, train_batch_size

CAMERA = "FRONT_FACING_CAMERA"
STEERING = (-30, -15, 0, 15, 30)
LEFT_ACTION, RIGHT_ACTION = 0, 4  # the discrete action each kind of frame rewards
LEFT_STEERING, RIGHT_STEERING = 20.0, -20.0  # the continuous steering each kind of frame rewards
_HARDWARE = detect_hardware()
PRECISIONS = [FP32, pytest.param(BF16, marks=pytest.mark.skipif(
    not _HARDWARE.cpu_bf16_flags or _HARDWARE.has_gpu,
    reason="bf16 needs a CPU with AVX-512-BF16 or AMX and the networks on it (elsewhere oneDNN emulates it)"))]


def frames(rng: np.random.Generator, left: np.ndarray) -> np.ndarray:
    """Camera frames, uint8 (n, 120, 160, 1): the left half bright where ``left``, else the right half.

    Both kinds have the same mean brightness, so the policy must tell *where* the light is. (All
    bright against all dark would be a poor test: a ReLU network with small biases answers a
    dimmer frame with roughly scaled-down logits, the same favourite action.)
    """
    level = np.full((len(left), 120, 160, 1), 50, np.int16)
    level[left, :, :80] = 200
    level[~left, :, 80:] = 200
    noise = rng.integers(-30, 31, level.shape, dtype=np.int16)
    return np.clip(level + noise, 0, 255).astype(np.uint8)


def build(metadata: dict, hyperparameters: dict, tmp_path, precision: str = FP32):
    parsed = parse_model_metadata({"sensor": [CAMERA], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                                   "version": "5", **metadata})
    hp = parse_hyperparameters(hyperparameters)
    manager = build_graph_manager(parsed, hp)
    create_graph(manager, experiment_path=tmp_path, seed=0, precision=precision)  # the same initial weights in every run
    return manager, hp


def over_the_wire(episode: Episode) -> Episode:
    """The episode as the trainer receives it: pickled by the rollout, restricted-unpickled (§5.3)."""
    return decode_reply(encode_episode(0, episode), "test").episode


def train_iteration(manager, hp, episodes: list[Episode], is_sac: bool) -> None:
    """One iteration of ``markov.training.loop._training_loop`` without Redis and checkpoints."""
    received = [over_the_wire(episode) for episode in episodes]
    steps = ingest_transitions(manager, (t for episode in received for t in episode.transitions))
    prepare_training(manager, len(received), steps, train_batch_size(hp.batch_size, steps), is_sac)
    assert manager.should_train()
    manager.train()


def play_episodes(rng, count: int, length: int, act, reward) -> list[Episode]:
    """``count`` episodes of ``length`` steps; ``act(states)`` picks actions for a batch of frames at once."""
    left = rng.random((count, length + 1)) < 0.5
    images = frames(rng, left.ravel()).reshape(count, length + 1, 120, 160, 1)
    actions, infos = act(images[:, :length].reshape(-1, 120, 160, 1))
    episodes = []
    for e in range(count):
        episode = Episode()
        for t in range(length):
            i = e * length + t
            episode.insert(Transition(
                state={CAMERA: images[e, t]}, action=actions[i], reward=reward(left[e, t], actions[i]),
                next_state={CAMERA: images[e, t + 1]}, game_over=t == length - 1,
                info={**infos[i], "progress": 100.0 * (t + 1) / length}))
        episodes.append(episode)
    return episodes


# --- Clipped PPO, discrete actions ---------------------------------------------------------

def ppo_probabilities(manager, images: np.ndarray) -> np.ndarray:
    """The policy output (softmax over actions) for a batch of frames."""
    network = manager.get_agent().networks["main"].online_network
    return network.predict({CAMERA: images})[1]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_clipped_ppo_learns_the_action_each_frame_rewards(tmp_path, precision):
    np.random.seed(0)  # Coach shuffles with numpy's global generator
    rng = np.random.default_rng(0)
    manager, hp = build({"action_space": [{"steering_angle": s, "speed": 1.0} for s in STEERING]},
                        # few epochs and small batches keep it fast; a short horizon makes each reward the action's own
                        {"num_epochs": 3, "batch_size": 32, "discount_factor": 0.1}, tmp_path, precision)
    try:
        def act(images):
            probabilities = ppo_probabilities(manager, images)
            actions = [int(rng.choice(len(STEERING), p=p / p.sum())) for p in probabilities]
            return actions, [{"all_action_probabilities": p, "action": a} for p, a in zip(probabilities, actions)]

        def reward(left, action):
            return 1.0 if action == (LEFT_ACTION if left else RIGHT_ACTION) else 0.0

        held_out = rng.random(64) < 0.5
        held_out_images = frames(rng, held_out)
        correct = np.where(held_out, LEFT_ACTION, RIGHT_ACTION)

        def correct_probability() -> float:
            return float(ppo_probabilities(manager, held_out_images)[np.arange(64), correct].mean())

        before = correct_probability()
        history = [before]
        for _ in range(6):
            train_iteration(manager, hp, play_episodes(rng, 8, 8, act, reward), is_sac=False)
            history.append(correct_probability())
            if history[-1] >= 0.8:
                break
        print(f"PPO ({precision}): probability of the rewarded action per iteration", np.round(history, 3))
        assert before < 0.5  # a fresh policy is near uniform (1/5)
        assert history[-1] >= 0.8, f"after {len(history) - 1} iterations: {history}"
    finally:
        manager.sess.close()


# --- SAC, continuous steering --------------------------------------------------------------

def sac_head(manager):
    network = manager.get_agent().networks["policy"].online_network
    return network, network.output_heads[0]


@pytest.mark.parametrize("precision", PRECISIONS)
def test_sac_steers_toward_the_target_each_frame_rewards(tmp_path, precision):
    np.random.seed(0)
    rng = np.random.default_rng(1)
    manager, hp = build({"action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1}},
                         "action_space_type": "continuous", "training_algorithm": "sac"},
                        {"batch_size": 32, "discount_factor": 0.1}, tmp_path, precision)
    try:
        network, head = sac_head(manager)

        def act(images):
            sampled = network.predict({CAMERA: images}, outputs=[head.actions])
            return list(sampled), [{} for _ in sampled]

        def reward(left, action):
            target = LEFT_STEERING if left else RIGHT_STEERING
            return float(np.exp(-abs(float(action[0]) - target) / 10.0))

        held_out = rng.random(64) < 0.5
        held_out_images = frames(rng, held_out)
        target = np.where(held_out, LEFT_STEERING, RIGHT_STEERING)

        def steering() -> np.ndarray:
            return network.predict({CAMERA: held_out_images}, outputs=[head.deterministic_actions])[:, 0]

        def steering_error() -> float:
            return float(np.abs(steering() - target).mean())

        before = steering_error()
        history = [before]
        for _ in range(6):
            train_iteration(manager, hp, play_episodes(rng, 1, 32, act, reward), is_sac=True)
            history.append(steering_error())
            if history[-1] <= before / 2:
                break
        print(f"SAC ({precision}): mean |steering - target| per iteration", np.round(history, 2))
        assert history[-1] <= before / 2, f"after {len(history) - 1} iterations: {history}"
        assert steering()[held_out].mean() > 0 > steering()[~held_out].mean()
    finally:
        manager.sess.close()

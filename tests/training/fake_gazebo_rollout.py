"""A rollout worker without Gazebo: what the simulation image's worker does, with synthetic episodes.

Run by test_end_to_end.py as its own process. Like the image's rollout worker (docs/protocol.md §4.2)
it waits for ``ip/done`` and reads the Redis address, builds its own Coach graph from the
published model metadata and hyperparameters, restores checkpoint 0, waits for ``.ready``, and
then per iteration plays N episodes, serves them over Redis, waits for the next checkpoint in
the bucket and restores it into its graph before it plays again. It writes a JSON report of
every checkpoint it restored, with a fingerprint of the restored weights, for the test.

    python fake_gazebo_rollout.py --endpoint URL --bucket B --prefix P --redis_port PORT
        --iterations 3 --episodes 2 --steps 10 --report report.json --work_dir DIR
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

log = logging.getLogger("fake_gazebo_rollout")

TIMEOUT_S = 120.0
POLL_S = 0.2


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--local_store", type=Path, default=None, help="a local store folder instead of the endpoint")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--redis_port", type=int, required=True)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=2)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--work_dir", type=Path, default=None)
    parser.add_argument("--timeout", type=float, default=TIMEOUT_S, help="seconds each wait may take")
    parser.add_argument("--tag_episodes", action="store_true",
                        help="the last transition's progress is the episode's serial number (1, 2, ...), which the "
                             "trainer's iteration lines report back: the fault bench counts lost and repeated ones")
    return parser.parse_args(argv)


def synthetic_episode(rng: np.random.Generator, steps: int, n_actions: int, camera_shape: tuple[int, ...],
                      tag: int | None = None):
    """A Coach Episode shaped like a camera rollout's: uint8 frames, action probabilities, progress."""
    from rl_coach.core_types import Episode, Transition

    episode = Episode()
    for step in range(steps):
        action = int(rng.integers(0, n_actions))
        episode.insert(Transition(
            state={"FRONT_FACING_CAMERA": rng.integers(0, 255, camera_shape, dtype=np.uint8)},
            action=action,
            reward=float(action == n_actions // 2),
            next_state={"FRONT_FACING_CAMERA": rng.integers(0, 255, camera_shape, dtype=np.uint8)},
            game_over=step == steps - 1,
            info={"all_action_probabilities": np.full(n_actions, 1.0 / n_actions, np.float32), "action": action,
                  "progress": float(tag) if tag is not None and step == steps - 1 else 100.0 * (step + 1) / steps},
        ))
    return episode


def weights_fingerprint(graph_manager) -> str:
    """A hash of every trainable variable of the online networks: it changes when training does."""
    import tensorflow as tf

    with graph_manager.graph.as_default():
        variables = sorted((v for v in tf.compat.v1.trainable_variables() if "/online/" in v.name),
                           key=lambda v: v.name)
        values = graph_manager.sess.run(variables)
    digest = hashlib.sha256()
    for value in values:
        digest.update(np.ascontiguousarray(value).tobytes())
    return digest.hexdigest()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="rollout: %(message)s", stream=sys.stdout)
    args = parse_args(argv)
    work_dir = args.work_dir or Path(tempfile.mkdtemp(prefix="fake-gazebo-"))
    work_dir.mkdir(parents=True, exist_ok=True)

    import markov.compat  # noqa: F401  (Coach loads through the bridge)
    from markov.config import RedisConfig
    from markov.graph.manager import build_graph_manager, create_graph
    from markov.hyperparameters import parse_hyperparameters
    from markov.memory.rollout_backend import RolloutBackend
    from markov.model_metadata import load_model_metadata
    from markov.store.download import get_coach_checkpoint_number, wait_for_checkpoint
    from markov.store.keys import ModelKeys
    from markov.store.lifecycle import wait_for_ip, wait_for_trainer_ready
    from markov.store.s3 import S3Store

    if args.local_store is not None:
        from markov.store.local import LocalStore
        store = LocalStore(args.local_store)
    else:
        store = S3Store(args.bucket, endpoint_url=args.endpoint)
    keys = ModelKeys(args.prefix)
    redis_host = wait_for_ip(store, keys, timeout_s=args.timeout, poll_s=POLL_S)
    log.info("Redis address from ip/ip.json: %s", redis_host)

    # Step 2 of §4.2: the model's files, as the image's worker reads them.
    store.download_file(keys.model_metadata, work_dir / "model_metadata.json")
    metadata = load_model_metadata(work_dir / "model_metadata.json")
    hyperparameters = parse_hyperparameters(json.loads(store.get_bytes(keys.hyperparameters)), keys.hyperparameters)
    graph_manager = build_graph_manager(metadata, hyperparameters)
    create_graph(graph_manager, experiment_path=work_dir / "experiment")
    checkpoint_dir = work_dir / "checkpoint"
    restored: list[dict] = []

    def restore(expected: int) -> None:
        name = wait_for_checkpoint(store, keys, checkpoint_dir, expected_number=expected, timeout_s=args.timeout,
                                   poll_s=POLL_S)
        graph_manager.checkpoint_saver.restore(graph_manager.sess, str(checkpoint_dir / name))
        restored.append({"checkpoint": name, "number": get_coach_checkpoint_number(store, keys),
                         "fingerprint": weights_fingerprint(graph_manager)})
        log.info("Restored checkpoint %s", name)

    restore(0)
    wait_for_trainer_ready(store, keys, timeout_s=args.timeout, poll_s=POLL_S)

    backend = RolloutBackend(RedisConfig(host=redis_host, port=args.redis_port), args.prefix,
                             episodes_per_iteration=args.episodes)
    backend.start()
    rng = np.random.default_rng(0)
    camera_shape = (120, 160, 1)
    n_actions = len(metadata.action_space)
    acked = []
    played: list[list[int]] = []  # the tags of each iteration's episodes
    serial = 0
    try:
        for iteration in range(args.iterations):
            played.append([])
            for _ in range(args.episodes):
                serial += 1
                backend.store_episode(synthetic_episode(rng, args.steps, n_actions, camera_shape,
                                                        serial if args.tag_episodes else None))
                played[-1].append(serial)
            acked.append(backend.wait_for_iterations(iteration + 1, timeout=args.timeout))
            log.info("Iteration %d ended by the trainer: %s", iteration, acked[-1])
            if not acked[-1]:
                raise TimeoutError(f"the trainer did not end iteration {iteration} within {args.timeout:.0f} s")
            restore(int(restored[-1]["checkpoint"].split("_")[0]) + 1)  # the next one, whoever publishes it
    finally:
        backend.close()
        args.report.write_text(json.dumps({"restored": restored, "acked": acked, "played": played}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

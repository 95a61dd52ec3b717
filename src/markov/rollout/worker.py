"""The rollout worker's loop: the simulation worker's side of docs/protocol.md §4.2, with the built-in simulator.

Start-up waits for what a Gazebo worker waits for: ``ip/done``, ``ip/hyperparameters.json``, a
checkpoint, ``.ready``. Then, per iteration, it plays its share of the episodes with the current
policy, serves them over Redis, waits for the trainer to end the iteration, and waits for a
checkpoint numbered higher than the one it played (§4.2 rollout step 6). It stops when
``model/.finished`` appears. Nothing here depends on our trainer: any trainer that speaks the
protocol will do.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Callable

import numpy as np

from markov.checkpoint_names import parse_checkpoint_number
from markov.checkpoint_records import parse_best_score
from markov.config import RedisConfig
from markov.errors import StorageError, TrainingError
from markov.hyperparameters import HyperParameters, parse_hyperparameters
from markov.memory.redis_server import WORKER_PORT
from markov.model_metadata import ModelMetadata, load_model_metadata
from markov.rollout.episode import EpisodeResult
from markov.sim.env import DEFAULT_MAX_STEPS
from markov.sim.randomization import OFF, Randomization, describe
from markov.sim.track_library import DEFAULT_TRACK
from markov.store import lifecycle
from markov.store.backend import ObjectStore, get_bytes_or_none
from markov.store.download import get_coach_checkpoint_number, load_from_store, wait_for_checkpoint
from markov.store.keys import ModelKeys
from markov.store.records import write_checkpoint_records
from markov.training.loop import episodes_per_iteration  # N, the same rule on both sides (§5.5)
from markov.training.metrics import TrainingMetrics

log = logging.getLogger(__name__)

# Called with (worker index, checkpoint number the episode was played with, result).
EpisodeCallback = Callable[[int, int, EpisodeResult], None]


@dataclass
class RolloutConfig:
    """How one rollout worker is set up, the way a simulation worker is configured."""

    store: ObjectStore
    s3_prefix: str
    work_dir: Path
    worker_index: int = 0
    num_workers: int = 1
    track: str = DEFAULT_TRACK
    tracks_dir: Path | None = None              # the image's track worlds (markov.sim.world); None: built-ins only
    reward_function: str | Path | None = None  # a .py file; None: the package default
    max_steps: int = DEFAULT_MAX_STEPS          # per episode
    redis_host: str | None = None               # None: the address in ip/ip.json
    redis_port: int = WORKER_PORT               # simulation workers always use 6379 (§5.1)
    redis_password: str | None = None
    redis_protocol: str = "current"
    redis_username: str | None = None           # our additions (docs/redis.md, "Securing Redis")
    redis_tls: bool = False
    redis_tls_ca_file: str | None = None
    wait_timeout: float = 1200.0                # the image's SAGEMAKER_WAIT_TIME
    poll_s: float = 1.0
    seed: int | None = None                     # seeds this worker's simulator and action sampling
    randomization: Randomization = OFF          # per-episode domain randomisation, seeded by worker_seed
    on_episode: EpisodeCallback | None = field(default=None, repr=False)

    @property
    def worker_seed(self) -> int | None:
        """``seed + worker_index``: seeded workers repeat, and do not all play the same episodes."""
        return None if self.seed is None else self.seed + self.worker_index


def episode_share(episodes_per_iteration: int, worker_index: int, num_workers: int) -> int:
    """How many of the N episodes worker ``idx`` of ``n`` plays (docs/protocol.md §5.5)."""
    base, extra = divmod(episodes_per_iteration, num_workers)
    return base + (1 if worker_index < extra else 0)


def simtrace_key(keys: ModelKeys, worker_index: int, num_workers: int, iteration: int) -> str:
    """Where an iteration's simtrace goes, in the DRfC layout deepracer-utils detects (LANDSCAPE.md §5.1).

    One worker: ``<prefix>/training-simtrace/<i>-iteration.csv``; several:
    ``<prefix>/<worker>/training-simtrace/<i>-iteration.csv``.
    """
    name = f"training-simtrace/{iteration}-iteration.csv"
    return keys.key(name if num_workers == 1 else f"{worker_index}/{name}")


@dataclass
class RolloutSummary:
    """What a worker did, for its exit message and tests."""

    iterations: int = 0
    episodes: int = 0
    last_checkpoint: str | None = None


class RolloutWorker:
    """One rollout worker; ``run()`` blocks until the trainer writes ``.finished``."""

    def __init__(self, config: RolloutConfig) -> None:
        self.config = config
        self.keys = ModelKeys(config.s3_prefix)
        self.checkpoint_dir = Path(config.work_dir) / "checkpoint" / "agent"
        self.summary = RolloutSummary()
        self._scores: dict[str, float] = {}  # checkpoint name -> mean progress (worker 0's records)

    # -- start-up (§4.2 rollout steps 1-5) -------------------------------------------------------

    def _start(self):
        config, store, keys = self.config, self.config.store, self.keys
        address = lifecycle.wait_for_ip(store, keys, timeout_s=config.wait_timeout, poll_s=config.poll_s)
        raw = get_bytes_or_none(store, keys.hyperparameters)
        if raw is None:
            raise StorageError(f"{store.uri(keys.hyperparameters)} is missing; the trainer publishes it before ip/done")
        try:
            hyperparameters = parse_hyperparameters(json.loads(raw.decode("utf-8")), store.uri(keys.hyperparameters))
        except ValueError as exc:
            raise StorageError(f"{store.uri(keys.hyperparameters)} is not valid JSON: {exc}") from None
        log.info("Using the following hyper-parameters\n%s", raw.decode("utf-8"))
        metadata_path = Path(config.work_dir) / "model_metadata.json"
        lifecycle.download_model_metadata(store, keys.model_metadata, metadata_path)
        metadata = load_model_metadata(metadata_path)
        name = wait_for_checkpoint(store, keys, self.checkpoint_dir, timeout_s=config.wait_timeout,
                                   poll_s=config.poll_s)
        lifecycle.wait_for_trainer_ready(store, keys, timeout_s=min(300.0, config.wait_timeout),
                                         poll_s=config.poll_s)
        redis = RedisConfig(host=config.redis_host or address, port=config.redis_port,
                            password=config.redis_password, protocol=config.redis_protocol,
                            username=config.redis_username, tls=config.redis_tls,
                            tls_ca_file=config.redis_tls_ca_file)
        return metadata, hyperparameters, name, redis

    def _build_policy(self, metadata: ModelMetadata, hyperparameters: HyperParameters, name: str):
        from markov.graph.manager import build_graph_manager, create_graph
        from markov.rollout.policy import CoachPolicy

        graph_manager = build_graph_manager(metadata, hyperparameters)
        seed = self.config.worker_seed
        if seed is not None:
            import random

            random.seed(seed)
            np.random.seed(seed)  # Coach's exploration policies sample actions with numpy's global generator
        # The graph seed makes TF's own sampling (SAC's head) repeat; the weights come from the checkpoint.
        create_graph(graph_manager, experiment_path=Path(self.config.work_dir) / "coach", seed=seed)
        self._restore(graph_manager, name)
        return graph_manager, CoachPolicy(graph_manager, metadata)

    def _restore(self, graph_manager, name: str) -> None:
        graph_manager.checkpoint_saver.restore(graph_manager.sess, str(self.checkpoint_dir / name))
        log.info("Loaded checkpoint %s", name)

    # -- the loop (§4.2 rollout step 6-7) --------------------------------------------------------

    def run(self) -> RolloutSummary:
        from markov.memory.rollout_backend import RolloutBackend
        from markov.rollout.episode import play_episode
        from markov.sim.env import DeepRacerEnv

        config = self.config
        metadata, hyperparameters, name, redis = self._start()
        n_episodes = episodes_per_iteration(metadata, hyperparameters)
        share = episode_share(n_episodes, config.worker_index, config.num_workers)
        log.info("Rollout worker %d of %d plays %d of the %d episodes per iteration",
                 config.worker_index, config.num_workers, share, n_episodes)
        graph_manager, policy = self._build_policy(metadata, hyperparameters, name)
        self._remember_best()
        env = DeepRacerEnv(metadata, track=config.track, tracks_dir=config.tracks_dir, reward_function=config.reward_function,
                           max_steps=config.max_steps, seed=config.worker_seed, randomization=config.randomization)
        if config.randomization.enabled:
            log.info("Domain randomisation per episode: %s", describe(config.randomization))
        self._record_track(env)
        metrics = TrainingMetrics.from_json(get_bytes_or_none(config.store, self.keys.training_metrics(config.worker_index)))
        backend = RolloutBackend(redis, config.s3_prefix, episodes_per_iteration=n_episodes,
                                 worker_index=config.worker_index, num_workers=config.num_workers)
        backend.start()
        try:
            while True:
                number = parse_checkpoint_number(name) or 0
                simtrace = Path(config.work_dir) / "simtrace" / f"{number}-iteration.csv"
                env.set_simtrace(simtrace)
                results = []
                metrics.start_iteration()
                for _ in range(share):
                    if self._finished():
                        return self._stop(env, name)
                    episode, result = play_episode(env, policy)
                    backend.store_episode(episode)
                    results.append(result)
                    self.summary.episodes += 1
                    self._write_metrics(metrics, env, result)
                    if config.on_episode is not None:
                        config.on_episode(config.worker_index, number, result)
                env.close()
                self._upload_simtrace(simtrace, number)
                if not self._wait_for_iteration_end(backend):
                    return self._stop(env, name)
                self.summary.iterations += 1
                if results:
                    self._scores[name] = fmean(r.progress for r in results)
                self._write_records(name)
                newer = self._wait_for_next_checkpoint(number)
                if newer is None:
                    return self._stop(env, name)
                name = newer
                self._restore(graph_manager, name)
        finally:
            backend.close()
            env.close()
            graph_manager.sess.close()

    def _finished(self) -> bool:
        return self.config.store.exists(self.keys.finished)

    def _stop(self, env, name: str) -> RolloutSummary:
        """``.finished``: record the newest checkpoint as the last one, and exit (§4.2 rollout step 7)."""
        env.close()
        pointer = get_bytes_or_none(self.config.store, self.keys.coach_checkpoint)
        newest = pointer.decode("utf-8", "replace").strip() if pointer else name
        self.summary.last_checkpoint = newest
        self._write_records(newest)
        log.info("The trainer has finished; rollout worker %d stops after %d iterations", self.config.worker_index,
                 self.summary.iterations)
        return self.summary

    def _record_track(self, env) -> None:
        """Worker 0 records what the run drives: the track and world (training_track.json, tracks/<name>.npy)
        and the reward function at ``<prefix>/reward_function.py``, where DRfC copies it and export looks."""
        if self.config.worker_index != 0:
            return
        from markov.defaults import REWARD_FUNCTION
        from markov.store.keys import RUN_REWARD_FUNCTION
        from markov.training.track_record import describe_track, publish_track_record

        record = describe_track(self.config.track, env.track, self.keys, getattr(env, "world", None),
                                getattr(env, "renderer", None))
        try:
            publish_track_record(self.config.store, self.keys, record, env.track)
            self.config.store.put_file(self.keys.key(RUN_REWARD_FUNCTION), Path(self.config.reward_function or REWARD_FUNCTION))
        except StorageError as exc:
            log.warning("could not record the track and reward function: %s", exc)

    def _write_metrics(self, metrics: TrainingMetrics, env, result: EpisodeResult) -> None:
        """Append the episode to TrainingMetrics.json and rewrite it, as the image does after each episode."""
        metrics.add_episode(reward=result.reward, progress=result.progress, status=result.status,
                            start_time=env.sim_time - env.episode_time, end_time=env.sim_time)
        key = self.keys.training_metrics(self.config.worker_index)
        try:
            self.config.store.put_bytes(key, metrics.to_json())
        except StorageError as exc:
            log.warning("could not write %s: %s", self.config.store.uri(key), exc)

    def _upload_simtrace(self, path: Path, iteration: int) -> None:
        if path.is_file():
            key = simtrace_key(self.keys, self.config.worker_index, self.config.num_workers, iteration)
            self.config.store.put_file(key, path)

    def _wait_for_iteration_end(self, backend) -> bool:
        """Wait for request N (§5.4); False if the trainer finished instead."""
        target = self.summary.iterations + 1
        deadline = time.monotonic() + self.config.wait_timeout
        while not backend.wait_for_iterations(target, timeout=self.config.poll_s):
            if self._finished():
                return False
            if time.monotonic() > deadline:
                raise TrainingError(f"the trainer did not collect this iteration's episodes within "
                                    f"{self.config.wait_timeout:.0f} s; is it running with --s3_prefix "
                                    f"{self.config.s3_prefix!r} and this Redis?")
        return True

    def _wait_for_next_checkpoint(self, last: int) -> str | None:
        """Poll the pointer until it is > ``last``, then download it; None once ``.finished`` is there."""
        store, keys = self.config.store, self.keys
        deadline = time.monotonic() + self.config.wait_timeout
        while True:
            if get_coach_checkpoint_number(store, keys) > last:
                name = load_from_store(store, keys, self.checkpoint_dir, expected_number=last + 1)
                if name is not None:
                    return name
            if self._finished():
                return None
            if time.monotonic() > deadline:
                raise TrainingError(f"no checkpoint newer than {last} at {store.uri(keys.coach_checkpoint)} within "
                                    f"{self.config.wait_timeout:.0f} s; is the trainer still training?")
            time.sleep(self.config.poll_s)

    def _remember_best(self) -> None:
        """A continued model keeps its best checkpoint from earlier runs as a candidate."""
        if self.config.worker_index != 0:
            return
        data = get_bytes_or_none(self.config.store, self.keys.deepracer_checkpoints)
        try:
            best = parse_best_score(data) if data else None
        except ValueError:
            log.warning("ignoring an unreadable %s", self.config.store.uri(self.keys.deepracer_checkpoints))
            return
        if best is not None:
            self._scores[best[0]] = best[1]

    def _write_records(self, last: str) -> None:
        """Worker 0 keeps ``deepracer_checkpoints.json``: best by mean progress, and last (§6.3)."""
        if self.config.worker_index != 0:
            return
        best = max(self._scores, key=self._scores.get) if self._scores else last
        try:
            write_checkpoint_records(self.config.store, self.keys, best=best, last=last,
                                     best_metric=self._scores.get(best), last_metric=self._scores.get(last))
        except StorageError as exc:
            log.warning("could not write %s: %s", self.config.store.uri(self.keys.deepracer_checkpoints), exc)


def run_rollout(config: RolloutConfig) -> RolloutSummary:
    """Run one rollout worker until the trainer finishes."""
    return RolloutWorker(config).run()

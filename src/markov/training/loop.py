"""The training worker, top to bottom: what ``python -m training_worker`` does.

Start-up publishes, in the order the simulation workers wait for them (docs/protocol.md §4.2):
model metadata, hyperparameters, ``ip/ip.json`` then ``ip/done``, the initial checkpoint, and
``.ready`` once subscribed to Redis. Then each iteration fetches N episodes, trains, checks
the loss for NaN and publishes a checkpoint with its frozen graph. ``.finished`` is written at
exit on every path, and nothing is left running: the process ends by itself.
"""
from __future__ import annotations

import logging
import math
import os
import shutil
import time
from pathlib import Path

from markov.config import TrainerConfig
from markov.errors import ConfigError, StorageError, TrainingError
from markov.hyperparameters import HyperParameters, hyperparameters_from_sm_training_env, parse_hyperparameters
from markov.model_metadata import SAC, ModelMetadata, load_model_metadata
from markov.public_address import choose_public_address
from markov.store import factory, lifecycle
from markov.store.backend import EndpointUnreachableError, ObjectStore
from markov.store.checkpoints import CheckpointPublisher, download_pretrained
from markov.store.keys import ModelKeys, split_s3_uri
from markov.training.progress import IterationReport
from markov.training.stop import GracefulStop, StopRequested

log = logging.getLogger(__name__)
progress_log = logging.getLogger("markov.training.progress")


def open_store(config: TrainerConfig, bucket: str | None = None) -> ObjectStore:
    """The model's store: a local folder for ``--local_store``, else the S3/MinIO bucket."""
    return factory.open_store(bucket or config.s3_bucket, local_dir=config.local_store,
                              endpoint_url=config.s3_endpoint_url, region=config.aws_region,
                              kms_key_arn=config.kms_key_arn)


def episodes_per_iteration(metadata: ModelMetadata, hyperparameters: HyperParameters) -> int:
    """N: what the rollout side plays per iteration (docs/protocol.md §5.4).

    SAC rollouts of today's image play 1 episode per iteration whatever the hyperparameters say;
    asking for more would stall after the first iteration, so a SAC trainer asks for 1.
    """
    if metadata.training_algorithm == SAC:
        return 1
    return hyperparameters.num_episodes_between_training


def run_training(config: TrainerConfig, store: ObjectStore | None = None) -> int:
    """Run a whole training; returns the process exit code (0 also after SIGTERM/Ctrl-C)."""
    from markov.training.coach_log import use_image_log_format

    use_image_log_format()
    stop = GracefulStop().install()
    config.work_dir.mkdir(parents=True, exist_ok=True)
    if config.pid_file is not None:
        config.pid_file.write_text(str(os.getpid()))
    store = store or open_store(config)
    keys = ModelKeys(config.s3_prefix)
    backend = None
    started = False
    try:
        _wait_until_reachable(store, config.connect_timeout, stop)

        # 1. What to train: model metadata and hyperparameters (§1.4, §1.5).
        metadata_path = _fetch_model_metadata(config, store)
        try:
            metadata = load_model_metadata(metadata_path)
        except ConfigError as exc:  # name the file the user gave, not our downloaded copy
            raise ConfigError(str(exc).replace(str(metadata_path), config.model_metadata_s3_key)) from None
        log.info("Sensor list %s, network %s, simapp_version %s, training_algorithm %s, action_space_type %s lidar_config %s",
                 list(metadata.sensors), metadata.neural_network, metadata.version, metadata.training_algorithm,
                 metadata.action_space_type, metadata.lidar_config)
        raw, source = hyperparameters_from_sm_training_env(config.sm_training_env)
        hyperparameters = parse_hyperparameters(raw, source)
        echo = hyperparameters.echo_json(metadata.training_algorithm)
        log.info("Using the following hyper-parameters\n%s", echo)

        # 2. Start-up objects, in the order the workers wait for them (§4.2 steps 1-4).
        started = True
        lifecycle.clear_stale_sync_files(store, keys, keep_pointer=_pretrained_is_this_prefix(config))
        lifecycle.publish_model_metadata(store, keys, metadata_path)
        config.model_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(metadata_path, config.model_dir / "model_metadata.json")
        lifecycle.publish_hyperparameters(store, keys, echo)
        address, why = choose_public_address(config.redis.public_ip)
        log.info("Rollout workers will reach Redis at %s (%s)", address, why)
        lifecycle.publish_ip_config(store, keys, address)

        # 3. The graph, from fresh weights or a pretrained model (§4.4), and checkpoint 0 (§4.3).
        restore_dir = None
        if config.use_pretrained:
            pretrained_store = open_store(config, bucket=config.pretrained_s3_bucket)
            pretrained = download_pretrained(pretrained_store, ModelKeys(config.pretrained_s3_prefix),
                                             config.pretrained_checkpoint_dir / "agent",
                                             checkpoint=config.pretrained_checkpoint, metadata_version=metadata.version)
            restore_dir = pretrained.local_dir
        else:
            log.info("No pretrained model: starting from freshly initialised weights")
        graph_manager, freeze = _build_graph(metadata, hyperparameters, config, restore_dir)
        checkpoint_dir = config.checkpoint_dir / "agent"
        publisher = CheckpointPublisher(store, keys, checkpoint_dir, frozen_model=freeze,
                                        frozen_dir=config.work_dir / "frozen_models" / "agent", model_dir=config.model_dir,
                                        tf_state_file=config.redis.protocol == "2020")
        graph_manager.save_checkpoint()
        publisher.publish()

        # 4. Subscribe, then tell the workers we are ready (§4.2 steps 7-8).
        from markov.memory.trainer_backend import TrainerBackend, max_memory_steps_for

        n_episodes = episodes_per_iteration(metadata, hyperparameters)
        backend = TrainerBackend(
            config.redis, config.s3_prefix, episodes_per_iteration=n_episodes,
            max_memory_steps=max_memory_steps_for(metadata.neural_network, config.max_memory_steps),
            connect_timeout=config.connect_timeout, wait_timeout=config.wait_timeout,
        )
        with stop.interruptible():
            backend.start()
        lifecycle.signal_ready(store, keys, checkpoint_dir)

        # 5. Train (§7.1).
        _training_loop(graph_manager, backend, publisher, metadata, hyperparameters, n_episodes, config, stop)
        return 0
    except StopRequested:
        log.info("Stopped while waiting; the last published checkpoint is the model")
        return 0
    finally:
        if backend is not None:
            backend.close()
        if started:
            try:
                lifecycle.signal_finished(store, keys)
            except StorageError as exc:
                log.warning("could not write the finished marker: %s", exc)
        stop.uninstall()


def _training_loop(graph_manager, backend, publisher, metadata: ModelMetadata, hyperparameters: HyperParameters,
                   n_episodes: int, config: TrainerConfig, stop: GracefulStop) -> None:
    from markov.training.ingest import ingest_transitions, prepare_training, train_batch_size
    from markov.training.samples import SampleCollector

    agent = graph_manager.get_agent()
    samples = SampleCollector(publisher.store, publisher.keys, hyperparameters.max_sample_count,
                              hyperparameters.sampling_frequency)
    summaries = None
    if config.tensorboard_dir is not None:
        from markov.training.summaries import IterationSummaries

        summaries = IterationSummaries(config.tensorboard_dir)
    is_sac = metadata.training_algorithm == SAC
    for iteration in range(1, hyperparameters.term_cond_max_episodes + 1):
        began = time.monotonic()
        try:
            with stop.interruptible():
                ingest_transitions(graph_manager, samples.collect(backend.fetch(n_episodes)))
        except StopRequested:
            log.info("Stopped during a fetch; the episodes of this unfinished iteration are not trained on")
            _final_checkpoint(graph_manager, publisher)
            return
        stats = backend.last_fetch
        fetched = time.monotonic()
        if stats.steps == 0:
            raise TrainingError("No rollout data received in this iteration; check that the rollout workers run "
                                f"with --s3_prefix {config.s3_prefix!r} and reach this Redis")

        prepare_training(graph_manager, stats.episodes, stats.steps,
                         train_batch_size(hyperparameters.batch_size, stats.steps), is_sac)
        if graph_manager.should_train():
            graph_manager.train()
        trained = time.monotonic()
        loss = _signal_mean(agent, "loss")
        if loss is not None and math.isnan(loss):
            raise TrainingError("NaN detected in loss function, aborting training. Lower 'lr' or check the reward "
                                "function for huge or non-finite rewards")
        graph_manager.save_checkpoint()
        name = publisher.publish()
        published = time.monotonic()

        report = IterationReport(
            iteration=iteration, episodes=stats.episodes, steps=stats.steps,
            episode_rewards=list(stats.episode_rewards), episode_progress=list(stats.episode_progress),
            policy_loss=_signal_mean(agent, "policy_loss"), value_loss=_signal_mean(agent, "value_loss"),
            entropy=_signal_mean(agent, "entropy"), kl=_signal_mean(agent, "kl_divergence"), checkpoint=name,
            explained_variance=_signal_mean(agent, "explained_variance"),
            clip_fraction=_signal_mean(agent, "clip_fraction"),
            fetch_s=fetched - began, train_s=trained - fetched, upload_s=published - trained,
        )
        progress_log.info(report.as_json() if config.log_format == "json" else report.as_text())
        if summaries is not None:
            summaries.write(report)  # flushed at once: nothing to close on any way out
        if stop.requested:
            log.info("Stopping after iteration %d as requested (%s)", iteration, stop.signal_name)
            return
    log.info("Reached term_cond_max_episodes = %d training iterations", hyperparameters.term_cond_max_episodes)


def _final_checkpoint(graph_manager, publisher) -> None:
    """Save and publish once more on a stop, as the image does (§7.1 step 4)."""
    graph_manager.save_checkpoint()
    publisher.publish()


def _signal_mean(agent, name: str) -> float | None:
    signal = getattr(agent, name, None)
    if signal is None or not hasattr(signal, "get_mean"):
        return None
    try:
        value = float(signal.get_mean())
    except (TypeError, ValueError):
        return None
    return value


def _build_graph(metadata: ModelMetadata, hyperparameters: HyperParameters, config: TrainerConfig,
                 restore_dir: Path | None):
    """The Coach graph and the function that freezes it for ``model_<n>.pb`` (§4.3 step 4)."""
    from markov.export.frozen_graph import freeze_session
    from markov.graph.manager import build_graph_manager, create_graph
    from markov.graph.precision import resolve_precision

    precision = resolve_precision(config.precision)  # the one start-up line saying which and why
    graph_manager = build_graph_manager(metadata, hyperparameters)
    if config.seed is not None:
        import random

        import numpy as np

        random.seed(config.seed)     # Coach's Clipped PPO shuffles the dataset with random,
        np.random.seed(config.seed)  # and its batches (and SAC's samples) with numpy's global generator
    create_graph(graph_manager, experiment_path=config.model_dir, checkpoint_save_dir=config.checkpoint_dir / "agent",
                 checkpoint_restore_path=restore_dir, seed=config.seed, precision=precision.precision)

    def freeze(checkpoint_name: str) -> bytes:
        return freeze_session(graph_manager.sess, metadata, graph_manager.graph)

    return graph_manager, freeze


def _fetch_model_metadata(config: TrainerConfig, store: ObjectStore) -> Path:
    local = config.work_dir / "custom_files" / "agent" / "model_metadata.json"
    if config.local_store is not None and Path(config.model_metadata_s3_key).is_file():
        local.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config.model_metadata_s3_key, local)
        return local
    bucket, key = split_s3_uri(config.model_metadata_s3_key, default_bucket=config.s3_bucket)
    source = store if bucket == config.s3_bucket or config.local_store is not None else open_store(config, bucket)
    return lifecycle.download_model_metadata(source, key, local)


def _pretrained_is_this_prefix(config: TrainerConfig) -> bool:
    return config.use_pretrained and config.pretrained_s3_bucket == config.s3_bucket \
        and config.pretrained_s3_prefix == config.s3_prefix


def _wait_until_reachable(store: ObjectStore, timeout: float, stop: GracefulStop) -> None:
    """Retry an unreachable endpoint for ``timeout`` seconds; other errors (no bucket, bad keys) fail at once."""
    deadline = time.monotonic() + timeout
    last_log = 0.0
    # This loop is the retry, bounded by --connect_timeout; the store's own retries (about 30 s
    # for S3Store) would otherwise run first on every check, whatever the timeout says.
    attempts = getattr(store, "attempts", None)
    if attempts is not None:
        store.attempts = 1
    try:
        while True:
            try:
                store.check()
                return
            except EndpointUnreachableError as exc:
                if time.monotonic() >= deadline:
                    raise
                if time.monotonic() - last_log >= 30 or last_log == 0.0:
                    log.info("Waiting for the store %s (%s); giving up in %.0f s", store.location, exc,
                             deadline - time.monotonic())
                    last_log = time.monotonic()
                with stop.interruptible():
                    time.sleep(min(2.0, max(0.1, deadline - time.monotonic())))
    finally:
        if attempts is not None:
            store.attempts = attempts

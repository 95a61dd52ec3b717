"""The training worker, top to bottom: what ``python -m training_worker`` does.

Start-up publishes, in the order the simulation workers wait for them (docs/protocol.md §4.2):
model metadata, hyperparameters, ``ip/ip.json`` then ``ip/done``, the initial checkpoint, and
``.ready`` once subscribed to Redis. A prefix that already holds a model is continued from its
newest whole checkpoint instead (``markov.store.resume``): nothing is republished, numbers and
step counts go on. Then each iteration fetches N episodes, trains, checks the loss for NaN,
publishes a checkpoint with its frozen graph and only then ends the iteration on Redis, so
that a trainer killed before its publish is given the same episodes again when rerun. A store
that stops answering is waited for (``--store_outage_timeout``) rather than ending the run.
``.finished`` is written at exit on every path, and nothing is left running: the process ends
by itself. docs/reliability.md says what happens under each fault.
"""
from __future__ import annotations

import contextlib
import errno
import functools
import logging
import math
import os
import shutil
import time
from pathlib import Path
from typing import Callable, ContextManager, TypeVar

from markov.config import TrainerConfig
from markov.errors import ConfigError, StorageError, TrainingError
from markov.hyperparameters import HyperParameters, hyperparameters_from_sm_training_env, parse_hyperparameters
from markov.model_metadata import SAC, ModelMetadata, load_model_metadata
from markov.public_address import choose_public_address
from markov.store import factory, lifecycle, resume
from markov.store.backend import ObjectStore
from markov.store.checkpoint_dir import read_local_coach_checkpoint
from markov.store.download import download_pretrained
from markov.store.publisher import CheckpointPublisher
from markov.store.atomic import atomic_write_bytes, raise_if_disk_full
from markov.store.outage import ride_out
from markov.store.keys import ModelKeys, split_s3_uri
from markov.training.progress import IterationReport
from markov.training.stop import GracefulStop, StopRequested

log = logging.getLogger(__name__)
T = TypeVar("T")
# In --work_dir: the newest checkpoint after which the rollout workers hold no episode it was trained on
# (its iteration was ended on Redis, or it was trained on none). A rerun that finds an older name
# there ends the iteration its predecessor published but was killed before ending.
ENDED_MARKER = "ended_iteration"
FLUSH_TIMEOUT_S = 10.0
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

        at_start_up = functools.partial(_at_start_up, config, stop)

        # 1. What to train: model metadata and hyperparameters (§1.4, §1.5).
        metadata_path = at_start_up(lambda: _fetch_model_metadata(config, store), "fetching the model metadata")
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

        # 2. What the prefix holds: a model to continue, half checkpoints a kill left (docs/reliability.md).
        started = True
        state = at_start_up(lambda: resume.inspect_and_clean(store, keys), f"reading {store.uri(keys.model_dir)}")
        continued = state.newest if not config.new_model else None
        if config.new_model and state.newest is not None:
            log.warning("--new-model: starting from fresh weights; the %d checkpoints in %s stay, and the new ones are "
                        "numbered from %d so that none is overwritten", len(state.checkpoints),
                        store.uri(keys.model_dir), state.highest_number + 1)

        # 3. Start-up objects, in the order the workers wait for them (§4.2 steps 1-4).
        at_start_up(lambda: lifecycle.clear_stale_sync_files(store, keys, keep_pointer=continued is not None),
                    "removing an earlier run's sync files")
        at_start_up(lambda: lifecycle.publish_model_metadata(store, keys, metadata_path), "publishing the model metadata")
        config.model_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(metadata_path, config.model_dir / "model_metadata.json")
        at_start_up(lambda: lifecycle.publish_hyperparameters(store, keys, echo), "publishing the hyperparameters")
        address, why = choose_public_address(config.redis.public_ip)
        log.info("Rollout workers will reach Redis at %s (%s)", address, why)
        at_start_up(lambda: lifecycle.publish_ip_config(store, keys, address), "publishing ip/ip.json")

        # 4. The graph: the model continued, a pretrained model (§4.4) or fresh weights with checkpoint 0 (§4.3).
        restore_dir = None
        if continued is not None:
            log.info("Continuing the model in %s from its checkpoint %s; new checkpoints are numbered from %d "
                     "(pass --new-model to start from fresh weights instead)", store.uri(keys.model_dir),
                     continued.name, continued.number + 1)
            restore_dir = at_start_up(
                lambda: resume.download_checkpoint(store, continued, config.pretrained_checkpoint_dir / "agent"),
                f"downloading checkpoint {continued.name}")
        elif config.use_pretrained:
            restore_dir = _download_pretrained(config, stop, metadata.version)
        else:
            log.info("No pretrained model: starting from freshly initialised weights")
        graph_manager, freeze = _build_graph(metadata, hyperparameters, config, restore_dir)
        checkpoint_dir = config.checkpoint_dir / "agent"
        publisher = CheckpointPublisher(store, keys, checkpoint_dir, frozen_model=freeze,
                                        frozen_dir=config.work_dir / "frozen_models" / "agent", model_dir=config.model_dir,
                                        tf_state_file=config.redis.protocol == "2020")
        if continued is not None:
            # The restored weights are that checkpoint: the pointer names it, nothing is republished.
            from markov.training.ingest import continue_step_count

            continue_step_count(graph_manager, continued.step)
            for entry in state.checkpoints:
                publisher.adopt(entry.name, entry.keys)
            at_start_up(lambda: resume.point_to(store, keys, continued), f"pointing to checkpoint {continued.name}")
        else:
            # Numbers go on after whatever the prefix holds, so no earlier checkpoint is written over.
            graph_manager.checkpoint_id = max(graph_manager.checkpoint_id, state.highest_number + 1)
            _save(graph_manager, config, stop)
            _mark_ended(config, _publish(publisher, config, stop))

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
            if continued is not None:
                _end_unended_iteration(backend, config, continued.name, n_episodes)
        ride_out(lambda: lifecycle.signal_ready(store, keys, checkpoint_dir), "writing model/.ready",
                 config.store_outage_timeout, setting="--store_outage_timeout", interruptible=stop.interruptible)

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
                ingest_transitions(graph_manager, samples.collect(backend.fetch(n_episodes, end_iteration=False)))
        except StopRequested:
            log.info("Stopped during a fetch; the episodes of this unfinished iteration are not trained on")
            _final_checkpoint(graph_manager, publisher, config)
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
        _save(graph_manager, config, stop)
        name = _publish(publisher, config, stop)
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
        # Only now may the workers forget this iteration's episodes: they are in a published checkpoint.
        try:
            if stop.requested:  # asked to stop during the publish: still end it, but do not wait long
                ended = backend.end_iteration(timeout=FLUSH_TIMEOUT_S)
            else:
                with stop.interruptible():
                    ended = backend.end_iteration()
            if ended:
                _mark_ended(config, name)
        except StopRequested:
            log.info("Stopped while ending iteration %d; its checkpoint %s is published", iteration, name)
            return
        if stop.requested:
            log.info("Stopping after iteration %d as requested (%s)", iteration, stop.signal_name)
            return
    log.info("Reached term_cond_max_episodes = %d training iterations", hyperparameters.term_cond_max_episodes)


def _at_start_up(config: TrainerConfig, stop: GracefulStop, action: Callable[[], T], what: str) -> T:
    """A start-up step; 5xx and throttling are retried within --connect_timeout, a stop ends the wait."""
    return ride_out(action, what, config.connect_timeout, setting="--connect_timeout", interruptible=stop.interruptible)


def _download_pretrained(config: TrainerConfig, stop: GracefulStop, metadata_version: float) -> Path:
    """Download the pretrained checkpoint (§4.4) as a start-up step, so a store that is briefly away is waited for."""
    store = open_store(config, bucket=config.pretrained_s3_bucket)
    keys = ModelKeys(config.pretrained_s3_prefix)
    pretrained = _at_start_up(
        config, stop,
        lambda: download_pretrained(store, keys, config.pretrained_checkpoint_dir / "agent",
                                    checkpoint=config.pretrained_checkpoint, metadata_version=metadata_version),
        f"downloading the pretrained model {store.uri(keys.model_dir)}")
    return pretrained.local_dir


def _final_checkpoint(graph_manager, publisher, config: TrainerConfig) -> None:
    """Save and publish once more on a stop, as the image does (§7.1 step 4).

    It holds no episode of the unfinished iteration, so the workers must keep those for the rerun:
    the marker names it as a checkpoint with nothing left to end. A store that is away is waited
    for (--store_outage_timeout) like any publish, since the stop was asked for already; a second
    signal still exits at once.
    """
    _save(graph_manager, config, None)
    _mark_ended(config, _publish(publisher, config, None))


def _save(graph_manager, config: TrainerConfig, stop: GracefulStop | None) -> None:
    """Save a checkpoint in --work_dir; a full disk is waited for (--store_outage_timeout), not fatal."""
    def save() -> None:
        try:
            graph_manager.save_checkpoint()
        except Exception as exc:  # TensorFlow reports ENOSPC as ResourceExhaustedError, Python as OSError
            if "No space left on device" in str(exc) or isinstance(exc, OSError):
                raise_if_disk_full(exc if isinstance(exc, OSError) else OSError(errno.ENOSPC, "No space left on device"),
                                   config.checkpoint_dir)
            raise

    ride_out(save, f"saving a checkpoint in {config.checkpoint_dir}", config.store_outage_timeout,
             setting="--store_outage_timeout", interruptible=_interruptible(stop))


def _interruptible(stop: GracefulStop | None) -> Callable[[], ContextManager[None]]:
    """The waits a stop may cut short; none once the stop is being carried out (``stop`` None)."""
    return stop.interruptible if stop is not None else contextlib.nullcontext


def _mark_ended(config: TrainerConfig, name: str) -> None:
    try:
        atomic_write_bytes(config.work_dir / ENDED_MARKER, name.encode("utf-8"))
    except (StorageError, OSError) as exc:  # only a rerun's clean-up needs it
        log.warning("could not record the ended iteration in %s: %s", config.work_dir / ENDED_MARKER, exc)


def _end_unended_iteration(backend, config: TrainerConfig, continued: str, n_episodes: int) -> None:
    """End the iteration of ``continued`` on Redis if the run that published it was killed before it could.

    Its episodes are in that checkpoint; rollout workers still holding them would otherwise serve
    them again, to be trained on twice. Only a marker naming an older checkpoint says so: with no
    marker (another --work_dir) nothing is sent, since the workers may hold episodes not yet trained on.
    """
    marker = config.work_dir / ENDED_MARKER
    ended = marker.read_text(encoding="utf-8").strip() if marker.is_file() else None
    if ended is not None and ended != continued:
        log.info("Ending the iteration of checkpoint %s on Redis: the earlier run published it but was stopped "
                 "before it could tell the rollout workers", continued)
        if not backend.end_iteration(n_episodes, timeout=FLUSH_TIMEOUT_S):
            log.info("No rollout worker answered within %.0f s; none holds that iteration's episodes", FLUSH_TIMEOUT_S)
    _mark_ended(config, continued)


def _publish(publisher: CheckpointPublisher, config: TrainerConfig, stop: GracefulStop | None) -> str:
    """Publish the newest local checkpoint; a store that does not answer is waited for, the checkpoint kept.

    Nothing else could happen meanwhile: every rollout worker waits for this checkpoint before
    it plays again (docs/protocol.md §4.2). A repeated publish starts again from the first file,
    so the pointer never names a checkpoint whose files are not all there.
    """
    name = read_local_coach_checkpoint(publisher.checkpoint_dir)
    return ride_out(lambda: publisher.publish(name), f"publishing checkpoint {name}", config.store_outage_timeout,
                    setting="--store_outage_timeout", interruptible=_interruptible(stop))


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
    # A 2020-generation rollout stacks stack_size frames and restores with Coach 1.0.1's own saver,
    # which needs every global variable (docs/protocol.md §1.4, §3.4); the current image does neither.
    is_2020 = config.redis.protocol == "2020"
    graph_manager = build_graph_manager(metadata, hyperparameters, stack_size=hyperparameters.stack_size if is_2020 else 1,
                                        checkpoint_every_global=is_2020)
    if config.seed is not None:
        import random

        import numpy as np

        random.seed(config.seed)     # Coach's Clipped PPO shuffles the dataset with random,
        np.random.seed(config.seed)  # and its batches (and SAC's samples) with numpy's global generator
    create_graph(graph_manager, experiment_path=config.model_dir, checkpoint_save_dir=config.checkpoint_dir / "agent",
                 checkpoint_restore_path=restore_dir, seed=config.seed, precision=precision.precision,
                 fold_constants=False)  # less memory, same speed (docs/performance.md)

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


def _wait_until_reachable(store: ObjectStore, timeout: float, stop: GracefulStop) -> None:
    """Retry an unreachable, overloaded or restarting store for ``timeout`` seconds (--connect_timeout).

    Other errors (no bucket, refused credentials) fail at once. Each check is a single try, so
    that botocore's own retries do not stretch the timeout.
    """
    check = getattr(store, "probe", store.check)
    ride_out(check, f"connecting to {store.location}", timeout, setting="--connect_timeout",
             interruptible=stop.interruptible)

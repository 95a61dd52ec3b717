"""Drive the built-in simulator with a frozen model, the way an evaluation job drives a car.

The frozen graph gives what the car's inference gets (docs/protocol.md §6.2), and the action is
decoded as the car does: the most likely action for discrete PPO, the normalised [-1, 1] output
scaled to the action-space bounds for continuous PPO, and tanh of the raw mean scaled to the
bounds for SAC. One lap is one episode started at the start line; an off-track or a reversed
car ends it, as in the simulator's rules.

Results are laid out as an evaluation of the image under DRfC leaves them, where
deepracer-utils' ``DeepRacerLog.load_evaluation_trace`` finds them, under a root folder (the run's
prefix when a run is evaluated)::

    <root>/evaluation-<YYYYmmddHHMMSS>/evaluation-simtrace/0-iteration.csv
    <root>/evaluation-<YYYYmmddHHMMSS>/laps.png
    <root>/evaluation-<YYYYmmddHHMMSS>/camera.gif                (with a CameraClip: the frames the model saw)
    <root>/metrics/EvaluationMetrics-<YYYYmmddHHMMSS>.json     (the image's evaluation metrics)
"""
from __future__ import annotations

import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from markov.errors import ConfigError
from markov.export.archives import CarModel, check_frozen_model_matches
from markov.export.frozen_graph import FrozenModel, load_frozen_graph
from markov.model_metadata import SAC, ModelMetadata
from markov.sim.camera_clip import CLIP_NAME, CameraClip, ClipRecorder, camera_sensor
from markov.sim.track_plot import plot_track
from markov.sim.world import WORLDS
from markov.store import keys as store_keys
from markov.training.metrics import evaluation_json, evaluation_record
from markov.training.track_record import BUILT_IN, IMAGE_WORLD, TrackRecord

log = logging.getLogger(__name__)

STAMP_FORMAT = "%Y%m%d%H%M%S"  # DRfC's evaluation time stamp; deepracer-utils matches 14 digits
DEFAULT_TRACK = "oval"


@dataclass
class LapResult:
    lap: int
    status: str
    progress: float
    lap_time: float | None
    elapsed_time: float
    off_track: int
    mean_speed: float
    steps: int


@dataclass
class EvaluationOutput:
    """Where one evaluation's files went (paths below the root folder)."""

    root: Path
    stamp: str
    laps: list[LapResult]
    simtrace: Path
    metrics: Path
    plot: Path | None
    camera_clip: Path | None = None


def choose_action(model_output: np.ndarray, metadata: ModelMetadata):
    """The simulator action for one policy output (index, or [steering deg, speed m/s])."""
    output = np.asarray(model_output, dtype=np.float64).reshape(-1)
    if metadata.is_discrete:
        return int(np.argmax(output))
    if metadata.training_algorithm == SAC:
        output = np.tanh(output)
    normalised = np.clip(output, -1.0, 1.0)
    space = metadata.action_space
    low = np.array([space.steering_low, space.speed_low])
    high = np.array([space.steering_high, space.speed_high])
    return low + (normalised + 1.0) * 0.5 * (high - low)


def check_simulator_can_feed(model: FrozenModel, env, source: str) -> None:
    """Every model input must be an observation the simulator renders, in the same shape."""
    shapes = env.observation_shapes
    for sensor, shape in model.input_shapes.items():
        if sensor not in shapes:
            raise ConfigError(f"{source}: the model reads {sensor}, which the built-in simulator cannot render")
        if tuple(shapes[sensor][0]) != tuple(shape):
            raise ConfigError(f"{source}: the model expects {sensor} of shape {shape}; the simulator renders {shapes[sensor][0]}")


def evaluate_car_model(car: CarModel, root: str | Path, *, track: str | Path = DEFAULT_TRACK,
                       tracks_dir: str | Path | None = None, laps: int = 3, max_steps: int = 3000,
                       plot: bool = True, stamp: str | None = None,
                       camera_clip: CameraClip | None = None) -> EvaluationOutput:
    """Run ``laps`` evaluation laps of a car model and lay the results out under ``root``.

    With ``camera_clip``, the camera observations the policy got in the first lap (up to its
    seconds) also go into an animated GIF, by default ``camera.gif`` beside ``laps.png``.

    Raises:
        ConfigError: for a model/metadata mismatch or sensors the simulator cannot render,
            each as one line.
    """
    from markov.sim.env import DeepRacerEnv

    if laps < 1:
        raise ConfigError(f"--laps {laps}: must be at least 1")
    root = Path(root)
    stamp = stamp or time.strftime(STAMP_FORMAT)
    simtrace = root / store_keys.EVALUATION_SIMTRACE.format(stamp=stamp)
    metrics_path = root / store_keys.EVALUATION_METRICS.format(stamp=stamp)
    results: list[LapResult] = []
    records: list[dict] = []
    paths: list[np.ndarray] = []
    env_options = {"tracks_dir": Path(tracks_dir)} if tracks_dir is not None else {}
    recorder = ClipRecorder(camera_clip, camera_sensor(car.metadata)) if camera_clip is not None else None
    with load_frozen_graph(car.frozen_model, f"{car.source}:agent/model.pb") as model:
        check_frozen_model_matches(model, car.metadata, car.source)
        env = DeepRacerEnv(car.metadata, track=track, max_steps=max_steps, start_position="fixed",
                           simtrace=simtrace, **env_options)
        check_simulator_can_feed(model, env, car.source)
        try:
            for lap in range(1, laps + 1):
                observation, _ = env.reset()
                speeds, points, done, info = [], [], False, {}
                while not done:
                    if recorder is not None and lap == 1:
                        recorder.add(observation)
                    action = choose_action(model.predict(observation), car.metadata)
                    observation, _, terminated, truncated, info = env.step(action)
                    done = terminated or truncated
                    speeds.append(info["speed"])
                    params = info["reward_params"]
                    points.append((params["x"], params["y"]))
                status = info.get("episode_status", "unknown")
                elapsed = float(info.get("elapsed_time", 0.0))
                results.append(LapResult(
                    lap=lap, status=status, progress=float(info.get("progress", 0.0)), lap_time=info.get("lap_time"),
                    elapsed_time=elapsed, off_track=int(status == "off_track"),
                    mean_speed=float(np.mean(speeds)) if speeds else 0.0, steps=len(speeds),
                ))
                # One lap per episode: a reset ends it, so each lap counts at most one reset.
                records.append(evaluation_record(trial=lap, progress=float(info.get("progress", 0.0)), status=status,
                                                 start_time=env.sim_time - env.episode_time, end_time=env.sim_time,
                                                 resets={status: 1}))
                paths.append(np.asarray(points))
            track_obj = env.track
        finally:
            env.close()
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    metrics_path.write_bytes(evaluation_json(records))
    plot_path = plot_track(track_obj, simtrace.parents[1] / "laps.png", title=f"{track_obj.name}: driven line",
                           lines=[(p[:, 0], p[:, 1]) for p in paths if len(p)],
                           labels=[f"lap {i}" for i, p in enumerate(paths, start=1) if len(p)]) if plot else None
    clip_path = recorder.write(simtrace.parents[1] / CLIP_NAME) if recorder is not None else None
    return EvaluationOutput(root=root, stamp=stamp, laps=results, simtrace=simtrace, metrics=metrics_path, plot=plot_path,
                            camera_clip=clip_path)


@dataclass
class EvaluationSource:
    """What ``--model`` names, resolved: the car model, where results go, and the run's track."""

    car: CarModel
    root: Path
    track: str | None           # the run's recorded track, for runs
    run: bool
    tracks_dir: Path | None = None  # the image's tracks folder the run's world lies in, when it is on this machine


def open_evaluation_source(model: str | Path, out_dir: str | Path | None, step: str | int, work_dir: Path,
                           tracks_dir: str | Path | None = None) -> EvaluationSource:
    """``--model`` as a car archive (or folder with ``agent/model.pb``) or a run's folder.

    A run's folder (the prefix with ``model/``, or ``model/`` itself) is frozen at ``step`` as
    ``export --format car`` would, and its results go into that prefix (where the run's
    training-simtrace and metrics are), unless ``out_dir`` says otherwise. Its recorded track
    (``model/training_track.json``) is the default track; a route copy stored with the run is
    used for a route file, and for an image track when no ``tracks_dir`` is given.
    """
    from markov.export.archives import read_car_model
    from markov.export.checkpoint_selection import open_local_model_folder, select_checkpoint
    from markov.export.model_export import freeze_selected, read_model_metadata
    from markov.training.track_record import parse_track_record

    path = Path(model).expanduser()
    if path.is_file() or (path / "agent" / "model.pb").is_file() or (path / "model.pb").is_file():
        car = read_car_model(path)
        root = Path(out_dir) if out_dir is not None else Path("evaluation")
        # A folder with model/model_metadata.json is one deepracer-utils recognises (a DRfC model upload).
        metadata_file = root / store_keys.MODEL_METADATA
        if not metadata_file.exists():
            metadata_file.parent.mkdir(parents=True, exist_ok=True)
            metadata_file.write_text(json.dumps(_explicit_metadata(car.metadata), indent=2), encoding="utf-8")
        return EvaluationSource(car=car, root=root, track=None, run=False)
    folder = open_local_model_folder(path)
    metadata, metadata_bytes = read_model_metadata(folder)
    checkpoint = select_checkpoint(folder, step)
    frozen, _ = freeze_selected(folder, checkpoint, metadata, work_dir)
    car = CarModel(frozen_model=frozen, metadata=metadata, source=f"{folder.location} checkpoint {checkpoint}")
    run_root = folder.path.parent if folder.path.name == "model" else folder.path
    record = parse_track_record(folder.read(Path(store_keys.TRACK_RECORD).name))
    track, world_dir = recorded_track(record, run_root, tracks_dir) if record is not None else (None, None)
    return EvaluationSource(car=car, root=Path(out_dir) if out_dir is not None else run_root, track=track, run=True,
                            tracks_dir=world_dir)


def recorded_track(record: TrackRecord, run_root: Path, tracks_dir: str | Path | None) -> tuple[str, Path | None]:
    """The track to evaluate a run on, from its ``training_track.json``, and the tracks folder to draw it from.

    An image world is drawn from ``tracks_dir`` when given, else from the folder the run read it
    from when that is still on this machine: the car should see the frames it trained on. Without
    either, its route copy is driven on the flat renderer, and a warning says how to get the world.
    """
    world_dir = None
    if record.source == IMAGE_WORLD and tracks_dir is None:
        world_file = Path(record.world) if record.world else None
        if world_file is not None and world_file.is_file() and world_file.parent.name == WORLDS:
            world_dir = world_file.parent.parent
            log.info("Drawing the run's world %s from %s", record.name, world_dir)
        else:
            log.warning("The run trained on the image world %s (%s), which is not on this machine: evaluating on its "
                        "route with the flat renderer; pass --tracks-dir DIR (the folder with worlds/ and routes/) to "
                        "drive it in its world", record.name, record.world or "no world file recorded")
    track = record.name
    if record.source != BUILT_IN and not (record.source == IMAGE_WORLD and (tracks_dir is not None or world_dir)):
        copy = run_root / store_keys.ROUTE.format(name=record.name)
        track = str(copy) if copy.is_file() else (record.route or record.name)
    log.info("Evaluating on the run's track %s (%s)", record.name, record.source)
    return track, world_dir


def _explicit_metadata(metadata: ModelMetadata) -> dict:
    """The car's model_metadata.json with the parser's defaults written out (deepracer-utils reads
    ``sensor``, ``neural_network`` and ``version`` without defaults)."""
    return {**metadata.raw, "sensor": list(metadata.sensors), "neural_network": metadata.neural_network,
            "version": metadata.raw.get("version", metadata.version), "training_algorithm": metadata.training_algorithm,
            "action_space_type": metadata.action_space_type}


def evaluate(model: str | Path, *, track: str | Path | None = None, tracks_dir: str | Path | None = None,
             laps: int = 3, max_steps: int = 3000, out_dir: str | Path | None = None,
             step: str | int = "best", camera_clip: CameraClip | None = None) -> EvaluationOutput:
    """``deepracer-trainer evaluate``: resolve ``model``, drive it, lay the results out."""
    with tempfile.TemporaryDirectory(prefix="deepracer-evaluate-") as tmp:
        source = open_evaluation_source(model, out_dir, step, Path(tmp), tracks_dir)
        return evaluate_car_model(source.car, source.root, track=track or source.track or DEFAULT_TRACK,
                                  tracks_dir=tracks_dir or source.tracks_dir, laps=laps, max_steps=max_steps, camera_clip=camera_clip)

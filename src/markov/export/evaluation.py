"""Drive the built-in simulator with a frozen model, the way an evaluation job drives a car.

The frozen graph gives what the car's inference gets (docs/protocol.md §6.2), and the action is
decoded as the car does: the most likely action for discrete PPO, the normalised [-1, 1] output
scaled to the action-space bounds for continuous PPO, and tanh of the raw mean scaled to the
bounds for SAC. One lap is one episode started at the start line; an off-track or a reversed
car ends it, as in the simulator's rules.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from markov.errors import ConfigError
from markov.export.archives import check_frozen_model_matches, read_car_model
from markov.export.frozen_graph import FrozenModel, load_frozen_graph
from markov.model_metadata import SAC, ModelMetadata

log = logging.getLogger(__name__)


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


def evaluate(model_path: str | Path, *, track: str = "oval", laps: int = 3, max_steps: int = 3000,
             simtrace: str | Path | None = None, plot: str | Path | None = None) -> list[LapResult]:
    """Run ``laps`` evaluation laps of a car ``model.tar.gz`` (or folder); returns per-lap stats.

    Raises:
        ConfigError: for a bad archive, a model/metadata mismatch or sensors the simulator
            cannot render, each as one line.
    """
    from markov.sim.env import DeepRacerEnv

    car = read_car_model(model_path)
    if laps < 1:
        raise ConfigError(f"--laps {laps}: must be at least 1")
    results: list[LapResult] = []
    paths: list[np.ndarray] = []
    with load_frozen_graph(car.frozen_model, f"{car.source}:agent/model.pb") as model:
        check_frozen_model_matches(model, car.metadata, car.source)
        env = DeepRacerEnv(car.metadata, track=track, max_steps=max_steps, start_position="fixed", simtrace=simtrace)
        check_simulator_can_feed(model, env, car.source)
        try:
            for lap in range(1, laps + 1):
                observation, _ = env.reset()
                speeds, points, done, info = [], [], False, {}
                while not done:
                    action = choose_action(model.predict(observation), car.metadata)
                    observation, _, terminated, truncated, info = env.step(action)
                    done = terminated or truncated
                    speeds.append(info["speed"])
                    params = info["reward_params"]
                    points.append((params["x"], params["y"]))
                status = info.get("episode_status", "unknown")
                results.append(LapResult(
                    lap=lap, status=status, progress=float(info.get("progress", 0.0)), lap_time=info.get("lap_time"),
                    elapsed_time=float(info.get("elapsed_time", 0.0)), off_track=int(status == "off_track"),
                    mean_speed=float(np.mean(speeds)) if speeds else 0.0, steps=len(speeds),
                ))
                paths.append(np.asarray(points))
            track_obj = env.track
        finally:
            env.close()
    if plot is not None:
        plot_laps(track_obj, paths, plot)
    return results


def plot_laps(track, paths: list[np.ndarray], out: str | Path) -> Path:
    """A PNG of the track borders with each lap's driven line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6))
    for line, style in ((track.inner, "k-"), (track.outer, "k-"), (track.center, "k:")):
        ax.plot(line[:, 0], line[:, 1], style, linewidth=0.8)
    for i, path in enumerate(paths, start=1):
        if len(path):
            ax.plot(path[:, 0], path[:, 1], linewidth=1.5, label=f"lap {i}")
    ax.set_aspect("equal")
    ax.set_title(f"{track.name}: driven line")
    if paths:
        ax.legend(loc="best", fontsize="small")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out

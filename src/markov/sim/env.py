"""DeepRacerEnv: the built-in simulator behind a Gymnasium-style ``reset`` / ``step``.

One step is 1/15 s of simulated time, as in the image (the camera paces its steps). The rules
are the image's (``rollout_agent_ctrl.py`` and ``reset/rules``):

- The first step of an episode is the "prepare" step: the car stands still, the reward is 0
  and the reward function is not called.
- Off track: *no* wheel on the road. ``all_wheels_on_track`` is False as soon as one wheel is off.
- Reversed: progress went down on 15 steps in a row.
- Lap complete: progress reached 100 %; it is checked first, so a car that leaves the road
  on the finish line still completes the lap.
- Step limit: ``max_steps`` ends the episode as truncated with status ``time_up``.
- Start positions advance 5 % of the lap after every episode (round robin); ``direction``
  "alternate" flips the driving direction after every episode, like the image's ``alternate_dir``.

The reward function sees the image's params (``reward_params.py``), measured at the front of the
car. No TensorFlow or Coach here: numpy only, so the simulator runs anywhere.
"""
from __future__ import annotations

import logging
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from markov.errors import ConfigError
from markov.model_metadata import (
    CAMERA_SENSORS, FRONT_FACING_CAMERA, LEFT_CAMERA, LIDAR, OBSERVATION,
    SECTOR_LIDAR, STEREO_CAMERAS, ModelMetadata, load_model_metadata,
)
from markov.sensors import LIDAR_CLIP, SECTOR_LIDAR_CONFIG, observation_dtype, observation_shape
from markov.sim.camera import Camera, CameraSpec, StereoRig, stereo_pair
from markov.sim.car import STEPS_PER_SECOND, ActionDecoder, CarSpec, CarState, advance, clip_command
from markov.sim.lidar import Lidar, clip_lidar, discretize_sectors
from markov.sim.randomization import IDENTITY, OFF, DomainRandomizer, Randomization
from markov.sim.reward_function import RewardFunction, load_reward_function
from markov.sim.reward_params import make_reward_params
from markov.sim.simtrace import SimtraceWriter
from markov.sim.track import Track
from markov.sim.mesh_camera import MeshScene, gl_available
from markov.sim.sensor_mounts import load_car_mounts
from markov.sim.track_library import DEFAULT_TRACK, resolve_track
from markov.sim.track_map import TrackMap
from markov.sim.world import Lighting, World

log = logging.getLogger(__name__)

IN_PROGRESS = "in_progress"
PREPARE = "prepare"
OFF_TRACK = "off_track"
REVERSED = "reversed"
LAP_COMPLETE = "lap_complete"
TIME_UP = "time_up"
TERMINAL_STATUSES = (LAP_COMPLETE, OFF_TRACK, REVERSED)

REVERSE_STEPS = 15           # NUMBER_OF_REVERSE_COUNTS
ROUND_ROBIN_ADVANCE = 0.05   # ROUND_ROBIN_ADVANCE_DIST, fraction of the lap
DEFAULT_MAX_STEPS = 10000    # the image's MAX_STEPS
DIRECTIONS = ("forward", "reverse", "alternate")
START_POSITIONS = ("round_robin", "fixed", "random")
MESH, FLAT = "mesh", "flat"
RENDERERS = ("auto", MESH, FLAT)
LIDAR_HEIGHT = 0.1847  # the image's laser link above base_link, for a tracks folder whose URDF has no lidar


class DeepRacerEnv:
    """The built-in DeepRacer simulator.

    Args:
        metadata: a ModelMetadata, a path to model_metadata.json, or None for the package
            default. Its sensors decide the observation keys, its action space the actions.
        track: a built-in track name (``oval``, ``twisty``), an image route ``.npy`` path, a
            Track, or the name of an image track in ``tracks_dir`` (its route and world).
        reward_function: a callable ``f(params) -> float``, a ``.py`` file defining
            ``reward_function``, or None for the package default.
        max_steps: episode step limit (truncation, status ``time_up``).
        direction: "forward", "reverse" (the track driven the other way, ``is_reversed``) or
            "alternate" (flip after every episode).
        start_position: "round_robin" (advance 5 % of the lap per episode, as in training),
            "fixed" (always the start line, as in evaluation), "random", or a float in [0, 1):
            the fraction of the lap to start at.
        simtrace: path of a simtrace CSV to write (every step of every episode), or None.
        car, camera: physical specs; ``map_resolution`` is the raster cell size in metres.
        prepare_step: keep the image's motionless, zero-reward first step.
        seed: seeds the random start positions.
        randomization: per-episode domain randomisation of the camera frames and lights
            (markov.sim.randomization); off by default.
        tracks_dir: a folder in the simulation image's layout (markov.sim.world) that ``track``
            names a track of; None for built-in tracks and route files only.
        renderer: "auto" (the mesh camera on an image track's world when OpenGL works, else the
            flat renderer with one warning), "mesh" (fail instead) or "flat".
    """

    dt = 1.0 / STEPS_PER_SECOND

    def __init__(self, metadata: ModelMetadata | str | Path | None = None,
                 track: str | Path | Track = DEFAULT_TRACK,
                 reward_function: Callable[[dict], Any] | str | Path | None = None, *,
                 max_steps: int = DEFAULT_MAX_STEPS, direction: str = "forward",
                 start_position: str | float = "round_robin", simtrace: str | Path | None = None,
                 car: CarSpec = CarSpec(), camera: CameraSpec = CameraSpec(),
                 map_resolution: float = 0.01, prepare_step: bool = True, seed: int | None = None,
                 randomization: Randomization = OFF, tracks_dir: str | Path | None = None,
                 renderer: str = "auto") -> None:
        if metadata is None:
            from markov.defaults import MODEL_METADATA
            metadata = MODEL_METADATA
        if not isinstance(metadata, ModelMetadata):
            metadata = load_model_metadata(metadata)
        if direction not in DIRECTIONS:
            raise ConfigError(f"direction {direction!r}: allowed {', '.join(DIRECTIONS)}")
        if isinstance(start_position, str) and start_position not in START_POSITIONS:
            raise ConfigError(f"start_position {start_position!r}: allowed {', '.join(START_POSITIONS)} or a fraction")
        if not isinstance(start_position, str) and not 0.0 <= float(start_position) < 1.0:
            raise ConfigError(f"start_position {start_position!r}: a fraction of the lap must be in [0, 1)")
        if int(max_steps) < 1:
            raise ConfigError(f"max_steps {max_steps!r}: must be at least 1")
        self.metadata = metadata
        self.actions = ActionDecoder(metadata)
        self.reward_function: RewardFunction = load_reward_function(reward_function)
        self.max_steps = int(max_steps)
        self.direction = direction
        self.start_position = start_position
        self.car_spec = car
        self.camera_spec = camera
        self.prepare_step = prepare_step
        self.rng = np.random.default_rng(seed)

        resolved = resolve_track(track, tracks_dir)
        forward = resolved.track
        self.world: World | None = resolved.world
        self.renderer = self._choose_renderer(renderer)
        self._tracks = {False: forward}
        self._maps = {False: TrackMap(forward, resolution=map_resolution)}
        if direction != "forward":
            backward = forward.reversed()
            self._tracks[True] = backward
            # The ground is the same both ways; only the polylines' order differs.
            self._maps[True] = self._maps[False]
        self._reversed = direction == "reverse"
        self._sensors = self._build_sensors(self._maps[False])
        # Unless the randomisation has its own seed, the simulator's seed seeds it too.
        self.randomizer = DomainRandomizer(randomization if randomization.seed is not None or seed is None
                                           else replace(randomization, seed=seed),
                                           lit_renderer=self.renderer == MESH)
        self.conditions = IDENTITY  # this episode's draw
        self._cameras = [name for name in self._sensors if name in CAMERA_SENSORS]

        self._simtrace = SimtraceWriter(simtrace) if simtrace is not None else None
        self.episode = -1
        self.sim_time = 0.0
        self._start_ndist = 0.0
        self._next_start = 0.0 if isinstance(start_position, str) else float(start_position)
        self._sequence_start = 0  # episode number that a seed last started the sequence at
        self._done = True
        self.state = CarState(0.0, 0.0, 0.0)
        self.steps = 0

    # -- public API ----------------------------------------------------------------------------
    @property
    def track(self) -> Track:
        """The track as currently driven (reversed when the direction is)."""
        return self._tracks[self._reversed]

    @property
    def track_map(self) -> TrackMap:
        return self._maps[False]

    @property
    def observation_shapes(self) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
        """Observation key -> (shape, dtype), as the graphs take them (docs/protocol.md §3.1)."""
        return {name: (observation_shape(name, self.metadata.lidar_config), observation_dtype(name))
                for name in self.metadata.sensors}

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        """Start an episode. ``options`` may override, for this episode only: ``start_ndist``
        (fraction of the lap where progress counts from, and where the car stands),
        ``reversed`` (bool), or ``pose`` ((x, y, yaw) of the car's origin, metres and radians;
        progress still counts from the start line).

        A ``seed`` starts the episode sequence over, as Gymnasium's ``reset(seed=...)`` means:
        the random starts and the randomisation draws are reseeded, and the round-robin start
        and the alternating direction return to their first episode's.

        Returns (observation, info).
        """
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            self.randomizer.seed(seed)
            self._sequence_start = self.episode + 1
            self._next_start = 0.0 if isinstance(self.start_position, str) else float(self.start_position)
            self._reversed = self.direction == "reverse"
        options = options or {}
        if "reversed" in options:
            self._reversed = bool(options["reversed"])
            if self._reversed and True not in self._tracks:
                self._tracks[True] = self._tracks[False].reversed()
                self._maps[True] = self._maps[False]
        if "start_ndist" in options:
            start = float(options["start_ndist"]) % 1.0
        elif self.start_position == "random":
            start = float(self.rng.random())
        else:
            start = self._next_start
        self.episode += 1
        self.conditions = self.randomizer.episode(self.episode - self._sequence_start)
        if self._scene is not None and (self._relit or not self.conditions.lighting.is_identity):
            self._scene.set_lighting(self.conditions.lighting.relight(self._base_lighting))
            self._relit = not self.conditions.lighting.is_identity
        self._start_ndist = start
        x, y, yaw = options.get("pose") or self.track.pose_at(start * self.track.length)
        self.state = CarState(x, y, yaw)
        self.steps = 0
        self.episode_time = 0.0
        self._prev_progress = 0.0
        self._reverse_count = 0
        self._done = False
        self._last_params = None
        obs = self._observe()
        info = {"episode": self.episode, "steps": 0, "progress": 0.0, "episode_status": PREPARE,
                "start_ndist": start, "is_reversed": self.track.is_reversed, "lap_time": None,
                "elapsed_time": 0.0, "speed": 0.0}
        return obs, info

    def step(self, action) -> tuple[dict, float, bool, bool, dict]:
        """Apply one action for 1/15 s.

        Returns (observation, reward, terminated, truncated, info). ``info`` holds
        ``episode_status`` (in_progress, prepare, off_track, reversed, lap_complete, time_up),
        ``progress`` (percent), ``lap_time`` (seconds, when the lap is complete),
        ``elapsed_time``, ``speed`` (the car's actual m/s), ``all_wheels_on_track`` and
        ``reward_params`` (the dict the reward function saw).
        """
        if self._done:
            raise RuntimeError("step() called on a finished episode; call reset() first")
        track, spec = self.track, self.car_spec
        steering, speed, action_label = self.actions.decode(action)
        preparing = self.prepare_step and self.steps == 0
        if not preparing:
            self.state = advance(self.state, spec, *clip_command(steering, speed), dt=self.dt)
        self.steps += 1
        self.episode_time += self.dt
        self.sim_time += self.dt

        # Geometry is measured at the front of the car, as the image's model point.
        fx, fy = self.state.front_point(spec)
        proj = track.project(fx, fy)
        progress = _current_progress(proj.distance / track.length - self._start_ndist, self._prev_progress)
        wx, wy = self.state.wheel_points(spec)
        wheels = self.track_map.on_track(wx, wy)
        all_on, off_track = bool(wheels.all()), not bool(wheels.any())
        if not preparing and progress < self._prev_progress:
            self._reverse_count += 1
        else:
            self._reverse_count = 0
        prev_wp, next_wp = track.closest_waypoints(proj.distance)

        if preparing:
            status = PREPARE
        elif progress >= 100.0:
            status = LAP_COMPLETE
        elif off_track:
            status = OFF_TRACK
        elif self._reverse_count >= REVERSE_STEPS:
            status = REVERSED
        else:
            status = IN_PROGRESS
        terminated = status in TERMINAL_STATUSES
        truncated = not terminated and self.steps >= self.max_steps
        if truncated:
            status = TIME_UP

        params = make_reward_params(
            x=fx, y=fy, heading=math.degrees(self.state.yaw), speed=speed, steering_angle=steering,
            progress=progress, steps=self.steps, track_width=track.local_width(fx, fy),
            track_length=track.length, distance_from_center=proj.offset,
            projection_distance=proj.distance, is_left_of_center=proj.is_left,
            all_wheels_on_track=all_on, is_offtrack=off_track, is_reversed=track.is_reversed,
            waypoints=track.waypoints, closest_waypoints=(prev_wp, next_wp),
        )
        reward = 0.0 if preparing else self.reward_function(params)
        self._prev_progress = 0.0 if progress == 100.0 else progress
        self._done = terminated or truncated

        if self._simtrace is not None:
            wp = track.center
            d_prev = math.hypot(fx - wp[prev_wp][0], fy - wp[prev_wp][1])
            d_next = math.hypot(fx - wp[next_wp][0], fy - wp[next_wp][1])
            self._simtrace.write({
                "episode": self.episode, "steps": self.steps, "X": fx, "Y": fy,
                "yaw": params["heading"], "steer": steering, "throttle": speed, "action": action_label,
                "reward": reward, "done": self._done, "all_wheels_on_track": all_on,
                "progress": progress, "closest_waypoint": next_wp if d_next < d_prev else prev_wp,
                "track_len": track.length, "tstamp": round(self.sim_time, 4), "episode_status": status,
                "pause_duration": 0.0,
            })
        info = {
            "episode": self.episode, "steps": self.steps, "progress": progress, "episode_status": status,
            "lap_time": self.episode_time if status == LAP_COMPLETE else None,
            "elapsed_time": self.episode_time, "speed": self.state.speed, "all_wheels_on_track": all_on,
            "is_reversed": track.is_reversed, "reward_params": params,
        }
        if self._done:
            self._finish_episode()
        return self._observe(), reward, terminated, truncated, info

    def render(self) -> np.ndarray:
        """The front camera's current (120, 160) grey frame, whatever the model's sensors."""
        if "_front_camera" not in self.__dict__:
            self._front_camera = self._camera("front")
        return self._front_camera.render(self.state.x, self.state.y, self.state.yaw)

    @property
    def lighting(self) -> Lighting | None:
        """The world's lighting in use now (None on the flat renderer, which has no lights)."""
        return self._scene.lighting if self._scene is not None else None

    def set_lighting(self, lighting: Lighting | None) -> None:
        """Light the following frames with ``lighting`` (None: the world's own), e.g. per episode.

        Domain randomisation's light jitter, when on, varies around this. No effect on the flat
        renderer.
        """
        if self._scene is None:
            log.debug("set_lighting: the flat renderer has no lights")
            return
        self._base_lighting = lighting or self._scene.world.lighting
        self._scene.set_lighting(self._base_lighting)
        self._relit = False

    def close(self) -> None:
        if self._simtrace is not None:
            self._simtrace.close()

    def set_simtrace(self, path: str | Path | None) -> None:
        """Write the following steps to a new simtrace file (e.g. one per training iteration)."""
        self.close()
        self._simtrace = SimtraceWriter(path) if path is not None else None

    # -- internals -----------------------------------------------------------------------------
    def _finish_episode(self) -> None:
        if self.start_position == "round_robin":
            self._next_start = (self._start_ndist + ROUND_ROBIN_ADVANCE) % 1.0
        if self.direction == "alternate":
            self._reversed = not self._reversed
        if self._simtrace is not None:
            self._simtrace.flush()

    def _choose_renderer(self, renderer: str) -> str:
        """``mesh`` or ``flat``; builds the mesh scene (``self._scene``) for ``mesh``."""
        self._scene: MeshScene | None = None
        self._base_lighting: Lighting | None = None
        self._relit = False
        if renderer not in RENDERERS:
            raise ConfigError(f"renderer {renderer!r}: allowed {', '.join(RENDERERS)}")
        if renderer == FLAT or (self.world is None and renderer == "auto"):
            return FLAT
        if self.world is None:
            raise ConfigError("renderer 'mesh' needs an image track: --track NAME --tracks-dir DIR (see docs/simulator.md)")
        reason = gl_available()
        if reason is not None:
            if renderer == MESH:
                raise ConfigError(f"renderer 'mesh': {reason} (see docs/simulator.md for what OpenGL needs)")
            _warn_flat_once(self.world.name, reason)
            return FLAT
        self._scene = MeshScene(self.world)
        self._base_lighting = self.world.lighting
        self._mounts = load_car_mounts(self.world.folder)
        log.info("%s: the mesh camera draws its world (%s)", self.world.name,
                 self._scene.ctx.info.get("GL_RENDERER", "OpenGL"))
        return MESH

    def _camera(self, which: str):
        """A camera with the flat Camera's ``render``: ``front``, ``left`` or ``stereo`` (a rig of two)."""
        if self._scene is not None:
            mounts = {"front": [self._mounts.front], "left": [self._mounts.stereo[0]],
                      "stereo": list(self._mounts.stereo)}[which]
            return self._scene.camera(mounts, self._mounts.optics)
        if which == "front":
            return Camera(self.track_map, self.camera_spec)
        left, right = stereo_pair(self.track_map, self.camera_spec)
        return left if which == "left" else StereoRig(left, right)

    def _build_sensors(self, track_map: TrackMap) -> dict[str, Callable[[CarState], np.ndarray]]:
        sensors: dict[str, Callable[[CarState], np.ndarray]] = {}
        for name in self.metadata.sensors:
            if name in (FRONT_FACING_CAMERA, OBSERVATION, LEFT_CAMERA):
                cam = self._camera("left" if name == LEFT_CAMERA else "front")
                sensors[name] = lambda s, cam=cam: cam.render(s.x, s.y, s.yaw)[:, :, None]
            elif name == STEREO_CAMERAS:
                rig = self._camera("stereo")
                sensors[name] = lambda s, rig=rig: np.ascontiguousarray(np.moveaxis(rig.render(s.x, s.y, s.yaw), 0, -1))
        lidar_name = self.metadata.lidar_sensor
        if lidar_name is not None:
            if lidar_name == LIDAR:
                reach, make = LIDAR_CLIP[1], clip_lidar
            elif lidar_name == SECTOR_LIDAR:
                reach = SECTOR_LIDAR_CONFIG.clipping_dist
                make = lambda r: discretize_sectors(r, SECTOR_LIDAR_CONFIG)  # noqa: E731
            else:
                cfg = self.metadata.lidar_config
                reach = cfg.clipping_dist
                make = lambda r, cfg=cfg: discretize_sectors(r, cfg)  # noqa: E731
            useful = max(reach, 0.15) + 1e-6
            if self.world is not None:
                # The image's lidar sees the world's walls (its collision mesh at the lidar's height).
                mount = load_car_mounts(self.world.folder).lidar
                height, ahead = (mount[2, 3], mount[0, 3]) if mount is not None else (LIDAR_HEIGHT, 0.0)
                lidar = Lidar.from_segments(self.world.wall_segments(height), useful_range=useful, forward=ahead)
            else:
                # Borders of both directions are the same lines, so one caster serves both.
                lidar = Lidar(self._tracks[False], useful_range=useful)
            sensors[lidar_name] = lambda s, lidar=lidar, make=make: make(lidar.ranges(s.x, s.y, s.yaw))
        return sensors

    def _observe(self) -> dict[str, np.ndarray]:
        observation = {name: sense(self.state) for name, sense in self._sensors.items()}
        if not self.conditions.is_identity:
            for name in self._cameras:
                observation[name] = self.conditions.apply(observation[name])
        return observation


_flat_warned: set[str] = set()


def _warn_flat_once(track: str, reason: str) -> None:
    """One warning line per process and track: which renderer draws instead, and why."""
    if track not in _flat_warned:
        _flat_warned.add(track)
        log.warning("%s: the flat renderer draws this track instead of its meshes: %s (see docs/simulator.md)",
                    track, reason)


def make_env(metadata: ModelMetadata | str | Path | None = None, track: str | Path | Track = DEFAULT_TRACK,
             reward_function: Callable[[dict], Any] | str | Path | None = None, **kwargs) -> DeepRacerEnv:
    """Build a DeepRacerEnv (see its arguments)."""
    return DeepRacerEnv(metadata, track=track, reward_function=reward_function, **kwargs)


def _current_progress(fraction: float, prev_progress: float) -> float:
    """Percent of the lap since the start line, across the finish line (``compute_current_prog``)."""
    progress = 100.0 * fraction
    if progress <= 0:
        progress += 100.0
    if prev_progress > progress + 50.0:
        progress += 100.0
    if progress > prev_progress + 50.0:
        progress -= 100.0
    return min(progress, 100.0)

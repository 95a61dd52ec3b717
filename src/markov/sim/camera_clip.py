"""A short animated GIF of the camera frames a policy got while it drove an evaluation lap.

The frames are the observations themselves (grey 160x120, stereo pairs side by side, after any
domain randomisation), not a prettier render: the point is to see what the model saw, on the
image's track worlds (mesh renderer) or on the flat world. They are enlarged 2x by repeating
pixels, so every observation pixel is a 2x2 block and nothing is smoothed away.

A GIF (Pillow, already a dependency) rather than an MP4: no codec to install, and 256 grey levels
fit a GIF palette exactly, so the file holds the observation's values without loss.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from markov.errors import ConfigError
from markov.model_metadata import CAMERA_SENSORS, ModelMetadata

log = logging.getLogger(__name__)

CLIP_NAME = "camera.gif"          # beside laps.png in evaluation-<stamp>/
CAMERA_HZ = 15                    # the car's camera rate, one observation per step
DEFAULT_SECONDS = 5.0
UPSCALE = 2
# GIF delays are whole centiseconds; 70, 70, 60 ms repeated average 1/15 s, so the clip plays in real time.
FRAME_DELAYS_MS = (70, 70, 60)


@dataclass(frozen=True)
class CameraClip:
    """What ``--camera-gif [PATH] --gif-seconds S`` asked for.

    ``path`` None means ``camera.gif`` in the evaluation's folder, beside ``laps.png``.
    """

    path: Path | None = None
    seconds: float = DEFAULT_SECONDS

    @property
    def frames(self) -> int:
        """Observations the clip holds at most (the first lap may end sooner)."""
        return max(1, round(self.seconds * CAMERA_HZ))


def camera_clip(path: str | Path | None = None, seconds: float = DEFAULT_SECONDS) -> CameraClip:
    """A checked :class:`CameraClip`, refused before any lap is driven.

    Raises:
        ConfigError: seconds that are not more than 0, or a path that cannot be written (a folder,
            a file in the way of its folder, a folder without write permission), each as one line.
    """
    if not np.isfinite(seconds) or seconds <= 0:
        raise ConfigError(f"--gif-seconds {seconds:g}: must be more than 0 "
                          f"(seconds of the first lap, at {CAMERA_HZ} frames/s)")
    if path is None or str(path) == "":
        return CameraClip(None, float(seconds))
    path = Path(path).expanduser()
    check_writable(path)
    if path.suffix.lower() != ".gif":
        raise ConfigError(f"--camera-gif {path}: the clip is an animated GIF; give a name ending in .gif")
    return CameraClip(path, float(seconds))


def check_writable(path: Path) -> None:
    """Refuse a path the clip could not be written to, naming the part that is in the way."""
    if path.is_dir():
        raise ConfigError(f"--camera-gif {path}: is a folder; give a file name such as {path / CLIP_NAME}")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise ConfigError(f"--camera-gif {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ConfigError(f"--camera-gif {path}: no permission to write in {folder}")


def camera_sensor(metadata: ModelMetadata) -> str:
    """The camera observation a clip shows: the model's one camera (model_metadata.json holds exactly one)."""
    return next(sensor for sensor in metadata.sensors if sensor in CAMERA_SENSORS)


def clip_frame(observation: np.ndarray) -> np.ndarray:
    """One observation (H, W, channels) as a viewing frame: channels side by side, 2x nearest."""
    frame = np.asarray(observation, dtype=np.uint8)
    if frame.ndim == 3:
        frame = np.concatenate([frame[:, :, c] for c in range(frame.shape[2])], axis=1)
    return np.repeat(np.repeat(frame, UPSCALE, axis=0), UPSCALE, axis=1)


class ClipRecorder:
    """Collects the first ``clip.frames`` camera observations of a lap and writes them as a GIF."""

    def __init__(self, clip: CameraClip, sensor: str):
        self.clip = clip
        self.sensor = sensor
        self.frames: list[np.ndarray] = []

    @property
    def full(self) -> bool:
        return len(self.frames) >= self.clip.frames

    def add(self, observation: dict[str, np.ndarray]) -> None:
        """Keep the camera frame of one observation the policy is given (until the clip is full)."""
        if not self.full:
            self.frames.append(clip_frame(observation[self.sensor]))

    def write(self, default_path: Path) -> Path:
        """Write the GIF (to ``clip.path``, else ``default_path``); returns where it went.

        A frame identical to the one before lengthens it instead of being stored again (Pillow's
        GIF writer), so the clip keeps its timing.

        Raises:
            ConfigError: when the file cannot be written, as one line.
        """
        from PIL import Image

        path = self.clip.path or default_path
        if not self.frames:
            raise ConfigError(f"--camera-gif {path}: the lap gave no camera frame to write")
        images = [Image.fromarray(frame) for frame in self.frames]
        delays = [FRAME_DELAYS_MS[i % len(FRAME_DELAYS_MS)] for i in range(len(images))]
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            images[0].save(path, format="GIF", save_all=True, append_images=images[1:], duration=delays, loop=0)
        except OSError as exc:
            raise ConfigError(f"--camera-gif {path}: cannot write it: {exc.strerror or exc}") from exc
        log.info("Camera view of lap 1 (%s, %d observations, %.1f s): %s", self.sensor, len(images),
                 len(images) / CAMERA_HZ, path)
        return path

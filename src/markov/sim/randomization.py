"""Domain randomisation: per-episode lighting and camera jitter, so a model learns the track, not one picture of it.

A model trained on one renderer under one light learns that exact picture; the image's Gazebo
worlds, and the real car's camera, differ in light, exposure, white balance and sensor noise.
Randomising those per episode (as domain-randomisation work on sim-to-real transfer does) makes
the policy lean on what stays: the road and its lines.

Two kinds of jitter, so that either renderer can use it:

- **Image-space** (brightness, contrast, colour, noise) acts on the rendered frame, RGB before the
  luminance step where the renderer has one, or the grey observation. It works with the flat
  renderer and the mesh renderer alike.
- **Lighting** (intensity and direction of the world's lights) changes the world's
  ``markov.sim.world.Lighting`` for a renderer that has lights (``LightJitter.relight``). The
  flat renderer has none, so there the intensity acts as an overall gain and the direction
  does nothing.

Everything is off by default (every range 0): frames are then returned untouched, not copied.
Draws are seeded per episode: episode ``k`` of stream ``s`` under seed ``n`` always gets the same
values (and the same noise frames), however many episodes or frames came before it.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, replace

import numpy as np

from markov.errors import ConfigError

log = logging.getLogger(__name__)

# ITU-R BT.601 luma weights: what PIL's convert("L") uses, and so the image's grey observation.
LUMA_WEIGHTS = (0.299, 0.587, 0.114)


@dataclass(frozen=True)
class Randomization:
    """Ranges of per-episode domain randomisation; the default (all 0) is off.

    Attributes:
        light_intensity: the world's light intensities are scaled by a factor drawn from
            ``[1 - a, 1 + a]``.
        light_direction: the directional light (the sun) is turned by up to this many degrees
            in azimuth, and up to half of it in elevation.
        brightness: an offset drawn from ``[-b, b]`` of full scale (255) is added to every pixel.
        contrast: the frame's deviation from its mean is scaled by a factor from ``[1 - c, 1 + c]``.
        colour: each RGB channel is scaled by its own gain from ``[1 - c, 1 + c]``; a frame that
            is already grey gets the luminance of those gains.
        noise: Gaussian pixel noise, its sigma drawn from ``[0, n]`` grey levels per episode, a
            new noise pattern on every frame (see ``EpisodeConditions.noise_frame``).
        seed: seeds the draws; None draws a seed once per simulator.
    """

    light_intensity: float = 0.0
    light_direction: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0
    colour: float = 0.0
    noise: float = 0.0
    seed: int | None = None

    def __post_init__(self) -> None:
        for name, limit in RANGE_LIMITS.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0.0 <= value <= limit):
                raise ConfigError(f"domain randomisation {name}={value!r}: must be a number in [0, {limit:g}]")

    @property
    def enabled(self) -> bool:
        return any(getattr(self, name) > 0.0 for name in RANGE_LIMITS)


# Upper limits of each range: past these a frame is noise or the light is off.
RANGE_LIMITS = {"light_intensity": 0.9, "light_direction": 180.0, "brightness": 0.5, "contrast": 0.9,
                "colour": 0.9, "noise": 64.0}

# What ``--domain-randomization on`` means: moderate ranges that keep the road's lines readable.
PRESET = Randomization(light_intensity=0.4, light_direction=45.0, brightness=0.15, contrast=0.3, colour=0.15,
                       noise=6.0)
OFF = Randomization()

# The help of the --domain-randomization flag of ``local`` and ``rollout``.
FLAG_HELP = ("per-episode lighting and camera jitter while training: 'off' (default), 'on' (moderate ranges), or "
             "name=value,... with names " + ", ".join(RANGE_LIMITS) + " (see docs/simulator.md)")


def parse_randomization(spec: str | None, seed: int | None = None,
                        setting: str = "--domain-randomization") -> Randomization:
    """Read a randomisation flag: ``off`` (or empty), ``on`` (``PRESET``), or ``name=value,...``.

    ``name=value`` pairs start from nothing (only the named jitters are on); ``on,noise=0`` starts
    from the preset. Names are ``Randomization``'s fields (``light_intensity``, ``light_direction``,
    ``brightness``, ``contrast``, ``colour``, ``noise``).

    Raises:
        ConfigError: an unknown name or a value out of range, naming ``setting``.
    """
    base = OFF
    values: dict[str, float] = {}
    for item in (spec or "").replace(" ", "").split(","):
        if not item or item.lower() in ("off", "none", "0", "false"):
            continue
        if item.lower() in ("on", "preset", "1", "true"):
            base = PRESET
            continue
        name, sep, text = item.partition("=")
        name = "colour" if name == "color" else name
        if not sep or name not in RANGE_LIMITS:
            raise ConfigError(f"{setting} {spec!r}: {item!r} is not 'on', 'off' or name=value with a name of "
                              f"{', '.join(RANGE_LIMITS)}")
        try:
            values[name] = float(text)
        except ValueError:
            raise ConfigError(f"{setting} {spec!r}: {name}={text!r} is not a number") from None
    try:
        return replace(base, seed=seed, **values)
    except ConfigError as exc:
        raise ConfigError(f"{setting} {spec!r}: {exc}") from None


def describe(randomization: Randomization) -> str:
    """A short text for logs and run records: ``off`` or ``brightness=0.15,noise=6``."""
    if not randomization.enabled:
        return "off"
    return ",".join(f"{name}={getattr(randomization, name):g}" for name in RANGE_LIMITS
                    if getattr(randomization, name) > 0.0)


@dataclass(frozen=True)
class LightJitter:
    """How one episode changes the world's lights, for a renderer that has them (see ``relight``).

    Attributes:
        intensity: factor on every light's diffuse and ambient contribution.
        azimuth, elevation: radians to turn the directional light by, about the world's z axis
            and then up (positive) or down from its original elevation.
    """

    intensity: float = 1.0
    azimuth: float = 0.0
    elevation: float = 0.0

    @property
    def is_identity(self) -> bool:
        return self.intensity == 1.0 and self.azimuth == 0.0 and self.elevation == 0.0

    def relight(self, lighting):
        """A world's ``Lighting`` as this episode sees it: ambient and lights scaled, the sun turned.

        ``lighting`` is a ``markov.sim.world.Lighting`` (its ``adjusted`` makes the new value;
        the world's own is never changed).
        """
        if self.is_identity:
            return lighting
        sun = next((light for light in lighting.lights if light.kind == "directional"), None)
        return lighting.adjusted(ambient=self.intensity, lights=self.intensity,
                                 sun_direction=self.turn(sun.direction) if sun is not None else None)

    def turn(self, direction: tuple[float, float, float]) -> tuple[float, float, float]:
        """A light's direction vector turned by this episode's azimuth and elevation (length kept)."""
        x, y, z = (float(v) for v in direction)
        length = math.sqrt(x * x + y * y + z * z)
        if length == 0.0:
            return (x, y, z)
        azimuth = math.atan2(y, x) + self.azimuth
        elevation = math.asin(max(-1.0, min(1.0, z / length))) + self.elevation
        # A sun that shines down keeps shining down: it neither passes the zenith nor the horizon.
        if z < 0.0:
            elevation = min(max(elevation, -math.pi / 2 + 1e-3), -1e-3)
        elif z > 0.0:
            elevation = min(max(elevation, 1e-3), math.pi / 2 - 1e-3)
        return (length * math.cos(elevation) * math.cos(azimuth), length * math.cos(elevation) * math.sin(azimuth),
                length * math.sin(elevation))


@dataclass
class EpisodeConditions:
    """One episode's drawn values, and the frame jitter they make."""

    brightness: float = 0.0                      # offset in grey levels
    contrast: float = 1.0                        # factor on the deviation from the mean
    gains: tuple[float, float, float] = (1.0, 1.0, 1.0)  # RGB channel gains
    noise_sigma: float = 0.0                     # grey levels
    lighting: LightJitter = LightJitter()
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0), repr=False)
    light_gain: float = 1.0                      # lighting intensity as an overall gain, for unlit renderers
    _noise_pool: np.ndarray | None = field(default=None, repr=False)

    @property
    def is_identity(self) -> bool:
        return (self.brightness == 0.0 and self.contrast == 1.0 and self.gains == (1.0, 1.0, 1.0)
                and self.noise_sigma == 0.0 and self.light_gain == 1.0)

    def apply(self, frame: np.ndarray) -> np.ndarray:
        """Jitter one uint8 frame: (H, W, 3) RGB, or grey (H, W) / (H, W, C) with C cameras.

        Order: colour gain, contrast about the frame's mean, brightness offset, noise; then
        rounding and clipping to 0..255. Returns a new uint8 array of the same shape, or
        ``frame`` itself when nothing is drawn.
        """
        if self.is_identity:
            return frame
        rgb = frame.ndim == 3 and frame.shape[-1] == 3
        x = frame.astype(np.float32)
        if rgb:
            x *= np.asarray(self.gains, dtype=np.float32) * np.float32(self.light_gain)
        else:
            x *= np.float32(self.light_gain * float(np.dot(LUMA_WEIGHTS, self.gains)))
        if self.contrast != 1.0:
            if rgb:
                mean = x @ np.asarray(LUMA_WEIGHTS, dtype=np.float32)
                mean = np.float32(mean.mean())
            else:
                mean = x.mean(axis=(0, 1), keepdims=True) if x.ndim == 3 else np.float32(x.mean())
            x -= mean
            x *= np.float32(self.contrast)
            x += mean
        if self.brightness != 0.0:
            x += np.float32(self.brightness)
        if self.noise_sigma > 0.0:
            x += self.noise_frame(x.shape)
        np.clip(x, 0.0, 255.0, out=x)
        return np.rint(x, out=x).astype(np.uint8)

    def noise_frame(self, shape: tuple[int, ...]) -> np.ndarray:
        """Gaussian noise of ``noise_sigma`` for one frame: a window of a per-episode pool at a random offset.

        Drawing 19,200 normals per frame took longer than rendering the frame; the pool holds
        NOISE_POOL_FRAMES frames' worth, drawn once per episode, and each frame takes its
        values from a new random offset, so every pixel's noise differs from frame to frame.
        """
        size = int(np.prod(shape))
        if self._noise_pool is None or self._noise_pool.size < (NOISE_POOL_FRAMES + 1) * size:
            pool = self.rng.standard_normal((NOISE_POOL_FRAMES + 1) * size, dtype=np.float32)
            self._noise_pool = pool * np.float32(self.noise_sigma)
        offset = int(self.rng.integers(0, self._noise_pool.size - size + 1))
        return self._noise_pool[offset:offset + size].reshape(shape)


IDENTITY = EpisodeConditions()
NOISE_POOL_FRAMES = 4


class DomainRandomizer:
    """Draws each episode's conditions from a ``Randomization``.

    Args:
        config: the ranges.
        stream: keeps workers apart: rollout worker ``i`` passes ``i``, so that workers under one
            seed do not all see the same episodes.
        lit_renderer: the renderer applies the ``LightJitter`` itself; otherwise the light intensity
            becomes an overall gain on the frame (the direction then has no effect).
    """

    def __init__(self, config: Randomization = OFF, stream: int = 0, lit_renderer: bool = False) -> None:
        self.config = config
        self.stream = int(stream)
        self.lit_renderer = lit_renderer
        self.seed(config.seed)
        if config.light_direction > 0 and not lit_renderer:
            log.info("domain randomisation: the flat renderer has no lights; light_direction has no effect there")

    def seed(self, seed: int | None) -> None:
        """Start the draws over from ``seed`` (None: fresh entropy)."""
        self._entropy = int(seed) if seed is not None else int(np.random.SeedSequence().entropy)

    def episode(self, index: int) -> EpisodeConditions:
        """The conditions of episode ``index`` (0-based): the same for the same seed, stream and index."""
        cfg = self.config
        if not cfg.enabled:
            return IDENTITY
        rng = np.random.default_rng([self._entropy, self.stream, int(index)])
        # Every value is drawn, in a fixed order, whatever is enabled: turning one jitter on
        # does not change what the others draw.
        u = [float(v) for v in rng.uniform(-1.0, 1.0, size=8)]
        intensity = 1.0 + cfg.light_intensity * u[0]
        lighting = LightJitter(intensity=intensity, azimuth=math.radians(cfg.light_direction * u[1]),
                            elevation=math.radians(0.5 * cfg.light_direction * u[2]))
        return EpisodeConditions(
            brightness=255.0 * cfg.brightness * u[3],
            contrast=1.0 + cfg.contrast * u[4],
            gains=(1.0 + cfg.colour * u[5], 1.0 + cfg.colour * u[6], 1.0 + cfg.colour * u[7]),
            noise_sigma=cfg.noise * float(rng.uniform(0.0, 1.0)),
            lighting=lighting,
            rng=rng,
            light_gain=1.0 if self.lit_renderer else intensity,
        )

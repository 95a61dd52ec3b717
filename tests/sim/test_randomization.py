"""Domain randomisation: off changes nothing, seeded episodes repeat, each jitter moves frames the way it says."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from markov.errors import ConfigError
from markov.sim.env import DeepRacerEnv
from markov.sim.randomization import (
    OFF, PRESET, DomainRandomizer, EpisodeConditions, LightJitter, Randomization, describe, parse_randomization,
)

CAMERA = "FRONT_FACING_CAMERA"


def short_env(randomization: Randomization = OFF) -> DeepRacerEnv:
    """Episodes of 6 steps (then ``time_up``), so a test plays many."""
    return DeepRacerEnv(max_steps=6, randomization=randomization)


def episode_frames(env: DeepRacerEnv, episodes: int) -> list[list[np.ndarray]]:
    """The camera frames of each of ``episodes`` whole episodes, driven straight ahead."""
    out = []
    for _ in range(episodes):
        observation, _ = env.reset()
        frames, done = [observation[CAMERA]], False
        while not done:
            observation, _, terminated, truncated, _ = env.step(2)
            frames.append(observation[CAMERA])
            done = terminated or truncated
        out.append(frames)
    return out


def preset(seed: int) -> Randomization:
    return replace(PRESET, seed=seed)


def grey_frame(seed: int = 0) -> np.ndarray:
    """A textured (120, 160, 1) grey frame with room above and below (values 60..190)."""
    rng = np.random.default_rng(seed)
    return rng.integers(60, 190, size=(120, 160, 1), dtype=np.uint8)


def test_off_by_default_gives_identical_frames():
    plain = episode_frames(short_env(), 3)
    off = episode_frames(short_env(Randomization(seed=5)), 3)
    for a, b in zip(plain, off):
        for fa, fb in zip(a, b):
            assert np.array_equal(fa, fb)
    frame = grey_frame()
    assert DomainRandomizer(OFF).episode(0).apply(frame) is frame


def test_seeded_episodes_repeat_and_differ_between_episodes_and_seeds():
    first = episode_frames(short_env(preset(7)), 3)
    again = episode_frames(short_env(preset(7)), 3)
    other = episode_frames(short_env(preset(8)), 3)
    plain = episode_frames(short_env(), 3)
    for a, b in zip(first, again):
        for fa, fb in zip(a, b):
            assert np.array_equal(fa, fb)
    assert not np.array_equal(first[0][0], other[0][0])
    assert not np.array_equal(first[0][0], plain[0][0])
    # Episodes 1 and 2 start elsewhere on the track; compare their jitter through the draws instead.
    randomizer = DomainRandomizer(preset(7))
    draws = [randomizer.episode(i) for i in range(3)]
    assert len({d.brightness for d in draws}) == 3


def test_a_seeded_reset_starts_the_sequence_over():
    env = short_env(preset(1))
    observation, info = env.reset(seed=42)
    episode_frames(env, 2)  # two more episodes, the start advancing
    again, info_again = env.reset(seed=42)
    assert info_again["start_ndist"] == info["start_ndist"]
    assert np.array_equal(observation[CAMERA], again[CAMERA])


def test_the_simulators_seed_seeds_an_unseeded_randomisation():
    def brightness(seed: int) -> float:
        env = DeepRacerEnv(seed=seed, randomization=PRESET)
        env.reset()
        return env.conditions.brightness

    assert brightness(5) == brightness(5) != brightness(6)
    own = DeepRacerEnv(seed=5, randomization=preset(9))
    own.reset()
    assert own.conditions.brightness == DomainRandomizer(preset(9)).episode(0).brightness


def test_the_draw_of_an_episode_does_not_depend_on_the_frames_before_it():
    config = Randomization(noise=8.0, brightness=0.1, seed=3)
    a, b = DomainRandomizer(config), DomainRandomizer(config)
    frame = grey_frame()
    for _ in range(10):
        a.episode(0).apply(frame)  # noise draws of another episode
    assert np.array_equal(a.episode(4).apply(frame), b.episode(4).apply(frame))


def test_turning_one_jitter_on_leaves_the_others_draws_alone():
    only_brightness = DomainRandomizer(Randomization(brightness=0.2, seed=11)).episode(3)
    with_contrast = DomainRandomizer(Randomization(brightness=0.2, contrast=0.3, seed=11)).episode(3)
    assert only_brightness.brightness == with_contrast.brightness
    assert with_contrast.contrast != 1.0


@pytest.mark.parametrize("offset", [30.0, -30.0])
def test_brightness_moves_the_mean_by_its_offset(offset):
    frame = grey_frame()
    out = EpisodeConditions(brightness=offset).apply(frame)
    assert out.dtype == np.uint8 and out.shape == frame.shape
    assert out.astype(float).mean() - frame.astype(float).mean() == pytest.approx(offset, abs=0.6)


def test_brightness_from_the_randomizer_follows_the_drawn_sign():
    env = short_env(Randomization(brightness=0.2, seed=2))
    jittered, plain = episode_frames(env, 1)[0], episode_frames(short_env(), 1)[0]
    drawn = env.conditions.brightness
    assert abs(drawn) > 1.0
    for frame, reference in zip(jittered, plain):
        shift = frame.astype(float).mean() - reference.astype(float).mean()
        assert math.copysign(1.0, shift) == math.copysign(1.0, drawn)
        assert abs(shift) <= abs(drawn) + 0.5  # clipping at 0 and 255 can only take away


@pytest.mark.parametrize("factor", [1.5, 0.5])
def test_contrast_scales_the_spread_and_keeps_the_mean(factor):
    frame = grey_frame()
    out = EpisodeConditions(contrast=factor).apply(frame).astype(float)
    assert out.std() == pytest.approx(frame.astype(float).std() * factor, rel=0.02)
    assert out.mean() == pytest.approx(frame.astype(float).mean(), abs=0.6)


def test_colour_gains_act_per_channel_on_rgb_and_through_luminance_on_grey():
    rgb = np.full((120, 160, 3), 100, dtype=np.uint8)
    out = EpisodeConditions(gains=(1.2, 1.0, 0.8)).apply(rgb)
    assert out[..., 0].mean() == pytest.approx(120, abs=0.5)
    assert out[..., 1].mean() == pytest.approx(100, abs=0.5)
    assert out[..., 2].mean() == pytest.approx(80, abs=0.5)
    grey = np.full((120, 160, 1), 100, dtype=np.uint8)
    expected = 100 * (0.299 * 1.2 + 0.587 * 1.0 + 0.114 * 0.8)
    assert EpisodeConditions(gains=(1.2, 1.0, 0.8)).apply(grey).mean() == pytest.approx(expected, abs=0.5)


def test_noise_raises_the_spread_of_a_flat_frame_and_is_fresh_every_frame():
    flat = np.full((120, 160, 1), 128, dtype=np.uint8)
    conditions = EpisodeConditions(noise_sigma=10.0, rng=np.random.default_rng(0))
    first, second = conditions.apply(flat), conditions.apply(flat)
    assert first.astype(float).std() == pytest.approx(10.0, rel=0.05)
    assert first.astype(float).mean() == pytest.approx(128, abs=0.5)
    assert not np.array_equal(first, second)


def test_light_intensity_is_a_gain_for_the_flat_renderer_and_left_to_a_lit_one():
    config = Randomization(light_intensity=0.5, seed=4)
    flat = DomainRandomizer(config).episode(0)
    lit = DomainRandomizer(config, lit_renderer=True).episode(0)
    assert flat.light_gain == lit.lighting.intensity != 1.0
    assert lit.light_gain == 1.0 and lit.is_identity  # the renderer applies it, not the frame jitter
    frame = grey_frame()
    assert flat.apply(frame).astype(float).mean() == pytest.approx(frame.astype(float).mean() * flat.light_gain,
                                                                     abs=1.0)


def test_values_stay_uint8_in_range_under_extreme_jitter():
    bright = EpisodeConditions(brightness=120.0, contrast=1.9, gains=(1.9, 1.9, 1.9), noise_sigma=64.0,
                               rng=np.random.default_rng(1))
    dark = EpisodeConditions(brightness=-120.0, contrast=1.9, gains=(0.1, 0.1, 0.1), noise_sigma=64.0,
                             rng=np.random.default_rng(1))
    for shape in [(120, 160, 1), (120, 160, 2), (120, 160, 3), (120, 160)]:
        frame = np.random.default_rng(2).integers(0, 256, size=shape, dtype=np.uint8)
        for conditions in (bright, dark):
            out = conditions.apply(frame)
            assert out.dtype == np.uint8 and out.shape == shape
        assert (bright.apply(frame) == 255).mean() > 0.5
        assert (dark.apply(frame) == 0).mean() > 0.5


def test_stereo_frames_keep_each_cameras_own_mean_under_contrast():
    left = np.full((120, 160), 50, dtype=np.uint8)
    right = np.full((120, 160), 200, dtype=np.uint8)
    left[:, :80] = 70
    out = EpisodeConditions(contrast=1.5).apply(np.stack([left, right], axis=-1))
    assert out[..., 1].mean() == pytest.approx(200, abs=0.5)
    assert out[..., 0].mean() == pytest.approx(60, abs=0.5)


def test_lighting_turns_the_sun_and_keeps_it_shining_down():
    sun = (-0.5, 0.1, -0.9)
    turned = LightJitter(azimuth=math.radians(90)).turn(sun)
    assert turned == pytest.approx((-0.1, -0.5, -0.9))  # a quarter turn counter-clockwise about z
    assert LightJitter(elevation=math.radians(80)).turn(sun)[2] < 0  # never past the horizon
    assert LightJitter().turn(sun) == pytest.approx(sun)


def test_parse_randomization():
    assert parse_randomization(None) == OFF
    assert parse_randomization("off") == OFF
    assert parse_randomization("on", seed=3) == preset(3)
    assert parse_randomization("brightness=0.2,noise=4") == Randomization(brightness=0.2, noise=4.0)
    assert parse_randomization("on,noise=0").noise == 0.0 and parse_randomization("on,noise=0").contrast > 0
    assert parse_randomization("color=0.1").colour == 0.1
    assert describe(parse_randomization("brightness=0.2,noise=4")) == "brightness=0.2,noise=4"
    assert describe(OFF) == "off"
    with pytest.raises(ConfigError, match="--domain-randomization.*glare"):
        parse_randomization("glare=1")
    with pytest.raises(ConfigError, match="brightness"):
        parse_randomization("brightness=2")
    with pytest.raises(ConfigError, match="not a number"):
        parse_randomization("noise=lots")


def test_relight_scales_the_worlds_lights_and_turns_only_the_sun():
    from markov.sim.world import Light, Lighting

    sun = Light(kind="directional", diffuse=(1.0, 1.0, 0.8), direction=(-0.5, 0.1, -0.9))
    lamp = Light(kind="point", diffuse=(0.2, 0.2, 0.2), position=(0.0, 0.0, 15.0))
    world = Lighting(ambient=(0.5, 0.5, 0.5), lights=(sun, lamp))
    jitter = LightJitter(intensity=1.2, azimuth=math.radians(90))
    lit = jitter.relight(world)
    assert lit.ambient == pytest.approx((0.6, 0.6, 0.6))
    assert [light.intensity for light in lit.lights] == pytest.approx([1.2, 1.2])
    unit = np.array(jitter.turn(sun.direction)) / np.linalg.norm(sun.direction)
    assert lit.lights[0].direction == pytest.approx(tuple(unit))
    assert lit.lights[1].direction == lamp.direction and lit.lights[1].position == lamp.position
    assert LightJitter().relight(world) is world
    assert world.lights[0].intensity == 1.0  # the world's own lighting is left alone


def play_to_the_end(env: DeepRacerEnv) -> None:
    done = False
    while not done:
        _, _, terminated, truncated, _ = env.step(2)
        done = terminated or truncated


def test_light_jitter_lights_the_mesh_world_and_is_not_also_a_frame_gain(small_world_dir, small_world_name, gl):
    def mesh_env(randomization: Randomization) -> DeepRacerEnv:
        return DeepRacerEnv(track=small_world_name, tracks_dir=small_world_dir, renderer="mesh", max_steps=2,
                            randomization=randomization)

    lit, plain = mesh_env(Randomization(light_intensity=0.5, seed=1)), mesh_env(OFF)
    signs = set()
    for _ in range(4):
        frame = lit.reset()[0][CAMERA].astype(float)
        reference = plain.reset()[0][CAMERA].astype(float)
        intensity = lit.conditions.lighting.intensity
        assert lit.conditions.light_gain == 1.0 and lit.lighting != plain.lighting
        assert math.copysign(1.0, frame.mean() - reference.mean()) == math.copysign(1.0, intensity - 1.0)
        signs.add(intensity > 1.0)
        play_to_the_end(lit)
        play_to_the_end(plain)
    assert signs == {True, False}  # brighter and darker episodes, both in the expected direction
    turned = mesh_env(Randomization(light_direction=60.0, seed=2))
    frame = turned.reset()[0][CAMERA]
    assert not np.array_equal(frame, mesh_env(OFF).reset()[0][CAMERA])

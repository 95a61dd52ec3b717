"""Episode rules: off track, reversed, lap complete, step limit, start positions, observations."""
import math

import numpy as np
import pytest

from markov.model_metadata import parse_model_metadata
from markov.sim.car import CarSpec
from markov.sim.env import DeepRacerEnv, make_env

INSTANT = CarSpec(speed_time_constant=0.0)
STRAIGHT = 2  # default action space: 0 degrees at 0.8 m/s


def run(env, action, limit=2000):
    for _ in range(limit):
        obs, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return info, terminated, truncated
    raise AssertionError("episode did not end")


def test_driving_straight_off_the_road_ends_at_the_expected_step():
    env = DeepRacerEnv(track="oval", car=INSTANT, start_position="fixed")
    env.reset(options={"pose": (0.0, -1.5, -math.pi / 2)})  # on the centre line, facing the outer edge
    # The outer edge is 0.535 m away; the rear wheels sit 0.0825 m behind the origin and are
    # the last to leave: off once 0.8 m/s * k / 15 > 0.535 + 0.0825, i.e. after k = 12 moves,
    # which is step 13 (the first step is the motionless prepare step).
    steps_with_wheels_off = []
    for step in range(1, 20):
        _, reward, terminated, _, info = env.step(STRAIGHT)
        if not info["all_wheels_on_track"]:
            steps_with_wheels_off.append(step)
        if terminated:
            break
    assert info["episode_status"] == "off_track" and info["steps"] == 13
    assert info["reward_params"]["is_offtrack"] is True
    # The front wheels, 0.0825 m ahead of the origin, are off after 0.4525 m: 9 moves, step 10.
    assert steps_with_wheels_off[0] == 10
    with pytest.raises(RuntimeError):
        env.step(STRAIGHT)


def test_reversed_start_sets_is_reversed_and_laps_the_other_way():
    env = DeepRacerEnv(track="oval", direction="reverse", start_position="fixed")
    _, info = env.reset()
    assert info["is_reversed"] is True
    x, y, yaw = env.state.x, env.state.y, env.state.yaw
    assert (x, y) == pytest.approx((0.0, -1.5)) and abs(yaw) == pytest.approx(math.pi)
    _, _, _, _, info = env.step(STRAIGHT)
    assert info["reward_params"]["is_reversed"] is True


def test_driving_backwards_along_the_track_is_reversed_after_15_steps():
    env = DeepRacerEnv(track="oval", car=INSTANT, start_position="fixed")
    env.reset(options={"pose": (1.5, -1.5, math.pi)})  # facing against the driving direction
    info, terminated, _ = run(env, STRAIGHT)
    assert terminated and info["episode_status"] == "reversed"
    assert info["steps"] == 16  # prepare step, then 15 steps of falling progress


def test_a_centre_line_driver_completes_the_lap_with_a_lap_time():
    env = DeepRacerEnv(track="oval", start_position="fixed")
    env.reset()
    for _ in range(600):
        s = env.track.project(*env.state.front_point(env.car_spec)).distance
        tx, ty, _ = env.track.pose_at(s + 0.6)
        error = math.atan2(ty - env.state.y, tx - env.state.x) - env.state.yaw
        error = (error + math.pi) % (2 * math.pi) - math.pi
        _, reward, terminated, truncated, info = env.step(env.actions.nearest(math.degrees(1.5 * error), 0.8))
        if terminated:
            break
    assert info["episode_status"] == "lap_complete" and info["progress"] == 100.0
    # 17.4 m at 0.8 m/s, less the 0.14 m the front starts ahead: about 21.6 s.
    assert info["lap_time"] == pytest.approx(info["steps"] / 15.0)
    assert 20.0 < info["lap_time"] < 23.0


def test_step_limit_truncates_with_time_up():
    env = DeepRacerEnv(track="oval", max_steps=5)
    env.reset()
    info, terminated, truncated = run(env, STRAIGHT)
    assert truncated and not terminated and info["episode_status"] == "time_up" and info["steps"] == 5


def test_start_positions_rotate_round_the_track():
    env = DeepRacerEnv(track="oval", max_steps=2)
    starts = []
    for _ in range(3):
        _, info = env.reset()
        starts.append(info["start_ndist"])
        run(env, STRAIGHT)
    assert starts == pytest.approx([0.0, 0.05, 0.10])
    fixed = DeepRacerEnv(track="oval", max_steps=2, start_position="fixed")
    for _ in range(2):
        _, info = fixed.reset()
        assert info["start_ndist"] == 0.0
        run(fixed, STRAIGHT)


def test_alternate_direction_flips_after_each_episode():
    env = DeepRacerEnv(track="oval", max_steps=2, direction="alternate")
    flags = []
    for _ in range(3):
        _, info = env.reset()
        flags.append(info["is_reversed"])
        run(env, STRAIGHT)
    assert flags == [False, True, False]


@pytest.mark.parametrize("sensors, lidar_config, expected", [
    (["FRONT_FACING_CAMERA"], None, {"FRONT_FACING_CAMERA": ((120, 160, 1), np.uint8)}),
    (["observation"], None, {"observation": ((120, 160, 1), np.uint8)}),
    (["LEFT_CAMERA", "LIDAR"], None, {"LEFT_CAMERA": ((120, 160, 1), np.uint8), "LIDAR": ((64,), np.float64)}),
    (["STEREO_CAMERAS", "SECTOR_LIDAR"], None, {"STEREO_CAMERAS": ((120, 160, 2), np.uint8), "SECTOR_LIDAR": ((8,), np.float64)}),
    (["FRONT_FACING_CAMERA", "DISCRETIZED_SECTOR_LIDAR"], {"num_sectors": 4, "num_values_per_sector": 3, "clipping_dist": 1.5},
     {"FRONT_FACING_CAMERA": ((120, 160, 1), np.uint8), "DISCRETIZED_SECTOR_LIDAR": ((12,), np.float64)}),
])
def test_observations_have_the_shapes_and_dtypes_the_graphs_take(sensors, lidar_config, expected):
    raw = {"action_space": [{"steering_angle": 0, "speed": 1.0}], "sensor": sensors, "version": "5"}
    if lidar_config:
        raw["lidar_config"] = lidar_config
    env = make_env(parse_model_metadata(raw), track="twisty")
    obs, _ = env.reset()
    assert {k: (v.shape, v.dtype) for k, v in obs.items()} == expected
    assert {k: (s, d) for k, (s, d) in env.observation_shapes.items()} == expected
    obs, *_ = env.step(0)
    for key, value in obs.items():
        if "LIDAR" in key and key != "LIDAR":
            assert set(np.unique(value)) <= {0.0, 1.0}
        if key == "LIDAR":
            assert value.min() >= 0.15 and value.max() <= 1.0


def test_continuous_actions_are_clipped_to_the_json_bounds():
    meta = parse_model_metadata({
        "action_space": {"steering_angle": {"low": -20, "high": 20}, "speed": {"low": 0.5, "high": 2.0}},
        "action_space_type": "continuous", "sensor": ["FRONT_FACING_CAMERA"], "version": "5"})
    env = make_env(meta, track="oval")
    env.reset()
    env.step([0, 1])
    _, _, _, _, info = env.step(np.array([45.0, 9.0]))
    assert info["reward_params"]["steering_angle"] == 20.0 and info["reward_params"]["speed"] == 2.0
    assert env.actions.from_normalized([-1, 1]).tolist() == [-20.0, 2.0]

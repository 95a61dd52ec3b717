"""The reward function's params at chosen poses, against values worked out by hand."""
import math

import pytest

from markov.sim.env import DeepRacerEnv
from markov.sim.reward_params import REWARD_PARAM_KEYS
from markov.sim.track_library import oval

FRONT = 0.14  # the image reports the point 0.14 m ahead of the car's origin


def params_at(env, x_front, y_front, yaw, action=2):
    """Place the car so its front is at (x_front, y_front); the prepare step does not move it."""
    env.reset(options={"pose": (x_front - FRONT * math.cos(yaw), y_front - FRONT * math.sin(yaw), yaw)})
    _, reward, terminated, _, info = env.step(action)
    assert reward == 0.0 and not terminated and info["episode_status"] == "prepare"
    return info["reward_params"]


def test_every_documented_key_is_present():
    env = DeepRacerEnv(track="oval", start_position="fixed")
    params = params_at(env, 0.3, -1.3, 0.0)
    assert set(REWARD_PARAM_KEYS) <= set(params)
    for key in ("objects_location", "objects_left_of_center", "objects_speed", "objects_heading",
                "objects_distance", "objects_distance_from_center"):
        assert params[key] == []
    assert params["closest_objects"] == [0, 0] and params["is_crashed"] is False


def test_left_of_centre_on_the_bottom_straight():
    track = oval()
    env = DeepRacerEnv(track=track, start_position="fixed")
    p = params_at(env, 0.3, -1.3, 0.0)  # 0.2 m left of the centre line (y = -1.5), heading +x
    spacing = track.length / 116  # 116 evenly spaced waypoints on the lap
    assert p["x"] == pytest.approx(0.3) and p["y"] == pytest.approx(-1.3)
    assert p["heading"] == pytest.approx(0.0)
    assert p["distance_from_center"] == pytest.approx(0.2)
    assert p["is_left_of_center"] is True
    assert p["progress"] == pytest.approx(100 * 0.3 / track.length)
    assert p["projection_distance"] == pytest.approx(0.3)
    assert p["closest_waypoints"] == [int(0.3 // spacing), int(0.3 // spacing) + 1] == [1, 2]
    assert p["track_width"] == pytest.approx(1.07)
    assert p["track_length"] == pytest.approx(track.length)
    assert p["all_wheels_on_track"] is True and p["is_offtrack"] is False
    assert p["is_reversed"] is False
    assert p["steps"] == 1
    assert p["speed"] == 0.8 and p["steering_angle"] == 0.0  # the commanded action 2 of the default space
    assert p["waypoints"][0] == (0.0, -1.5) and len(p["waypoints"]) == 117


def test_right_of_centre_in_a_bend_and_a_wheel_over_the_line():
    env = DeepRacerEnv(track="oval", start_position="fixed")
    # Right half circle: centre (2, 0), radius 1.5. Heading +y at its rightmost point,
    # 0.5 m outside the centre line = right of it (the inside is on the left).
    p = params_at(env, 2.0 + 1.5 + 0.5, 0.0, math.pi / 2)
    assert p["heading"] == pytest.approx(90.0)
    assert p["distance_from_center"] == pytest.approx(0.5, abs=0.005)  # polyline vs circle
    assert p["is_left_of_center"] is False
    # Quarter of the way round the lap from the start line (middle of the bottom straight).
    quarter = 2.0 + math.pi * 1.5 / 2
    assert p["progress"] == pytest.approx(100 * quarter / env.track.length, abs=0.05)
    # Wheels stick out 0.08 m sideways: the right-hand ones are past the outer edge at 0.535 m.
    assert p["all_wheels_on_track"] is False and p["is_offtrack"] is False


def test_reversed_track_flips_direction_and_sides():
    env = DeepRacerEnv(track="oval", direction="reverse", start_position="fixed")
    # Driving -x on the bottom straight, 0.2 m towards -y is the driver's left.
    p = params_at(env, -0.3, -1.7, math.pi)
    assert p["is_reversed"] is True
    assert p["is_left_of_center"] is True
    assert abs(p["heading"]) == pytest.approx(180.0)
    assert p["progress"] == pytest.approx(100 * 0.3 / env.track.length)


def test_params_are_a_fresh_copy_each_step():
    seen = []

    def greedy(params):
        params["waypoints"].clear()
        params["x"] = 1e9
        seen.append(len(params["waypoints"]))
        return 1.0

    env = DeepRacerEnv(track="oval", reward_function=greedy, start_position="fixed")
    env.reset()
    for _ in range(3):
        _, _, _, _, info = env.step(2)
    assert len(env.track.waypoints) == 117
    assert info["reward_params"]["x"] == 1e9 and len(seen) == 2  # not called on the prepare step

"""Geometry of the built-in tracks and of route files: length, width, progress at waypoints."""
import math

import numpy as np
import pytest

from markov.errors import ConfigError
from markov.sim.env import DeepRacerEnv
from markov.sim.track import Track
from markov.sim.track_library import load_track, oval, twisty
from markov.sim.track_map import TrackMap


def test_oval_length_and_width_match_its_construction():
    track = oval()
    exact = 2 * 4.0 + 2 * math.pi * 1.5  # straights + two half circles
    assert track.length == pytest.approx(exact, abs=0.01)
    assert track.length < exact  # chords are shorter than arcs
    assert track.width == pytest.approx(1.07, abs=1e-9)
    assert track.is_loop
    assert np.allclose(track.center[0], track.center[-1])  # closed like the image's LinearRing
    assert track.waypoints[0] == (0.0, -1.5)


def test_twisty_is_a_20m_loop_with_left_and_right_bends_that_the_car_can_take():
    track = twisty()
    assert track.length == pytest.approx(20.0, abs=0.02)
    assert track.width == pytest.approx(1.07, abs=1e-9)
    c = track.center[:-1]
    a, b = np.roll(c, 1, axis=0), np.roll(c, -1, axis=0)
    cross = (c[:, 0] - a[:, 0]) * (b[:, 1] - c[:, 1]) - (c[:, 1] - a[:, 1]) * (b[:, 0] - c[:, 0])
    assert (cross > 0).any() and (cross < 0).any()  # turns both ways
    # Circumradius of consecutive waypoint triples: the tightest bend.
    la, lb, lc = (np.hypot(*(p - q).T) for p, q in ((c, a), (b, c), (b, a)))
    radius = la * lb * lc / (2 * np.abs(cross))
    assert radius.min() > 0.9 > track.width / 2


def test_progress_at_each_waypoint_is_its_share_of_the_lap():
    track = oval()
    for k in (0, 1, 7, 30, 58, 100):
        x, y = track.center[k]
        assert track.project(x, y).distance == pytest.approx(track.cumulative[k], abs=1e-9)
    # Through the environment: put the front of the car on waypoint 30 (the prepare step does not move it).
    env = DeepRacerEnv(track=track, start_position="fixed")
    x, y = track.center[30]
    yaw = track.heading_at(track.cumulative[30])
    env.reset(options={"pose": (x - 0.14 * math.cos(yaw), y - 0.14 * math.sin(yaw), yaw)})
    _, _, _, _, info = env.step(2)
    assert info["reward_params"]["progress"] == pytest.approx(100 * track.cumulative[30] / track.length, abs=1e-6)
    assert info["reward_params"]["closest_waypoints"] == [30, 31]


def test_route_file_round_trip_and_reverse(tmp_path):
    path = tmp_path / "my_track.npy"
    np.save(path, oval().to_npy_array()[:-1])  # a file that does not repeat its first point
    track = load_track(str(path))
    assert track.name == "my_track" and track.is_loop
    assert track.length == pytest.approx(oval().length, abs=1e-9)
    back = load_track(str(path), reversed=True)
    assert back.is_reversed and back.length == pytest.approx(track.length)
    assert back.waypoints[1] == track.waypoints[-2]


def test_open_route_file_is_not_a_loop(tmp_path):
    x = np.linspace(0, 5, 51)
    rows = np.column_stack([x, 0 * x, x, 0 * x + 0.5, x, 0 * x - 0.5])
    np.save(tmp_path / "line.npy", rows)
    track = load_track(str(tmp_path / "line.npy"))
    assert not track.is_loop and track.length == pytest.approx(5.0)
    grid = TrackMap(track)
    assert grid.on_track(np.array([2.5, 2.5]), np.array([0.4, 0.6])).tolist() == [True, False]


def test_bad_track_inputs_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="not a built-in track"):
        load_track("no_such_track")
    np.save(tmp_path / "bad.npy", np.zeros((10, 4)))
    with pytest.raises(ConfigError, match=r"bad\.npy.*Nx6"):
        load_track(str(tmp_path / "bad.npy"))
    with pytest.raises(ConfigError, match="not found"):
        Track.from_npy(tmp_path / "missing.npy")


def test_track_map_marks_road_border_and_off_track():
    grid = TrackMap(oval())
    xs = np.array([1.0, 1.0, 1.0, 1.0])
    ys = np.array([-1.5 + 0.3, -1.5 + 0.52, -1.5 + 0.6, 0.0])  # road, border paint, grass, infield
    rows, cols = grid.cells(xs, ys)
    assert grid.surface[rows, cols].tolist() == [1, 2, 0, 0]

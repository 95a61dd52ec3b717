"""The front camera: shape, symmetry on a straight, what it sees off the road."""
import math

import numpy as np

from markov.sim.camera import Camera, CameraSpec, stereo_pair
from markov.sim.track import Track
from markov.sim.track_library import oval
from markov.sim.track_map import SHADES, SKY_SHADE, TrackMap

GRID = TrackMap(oval())


def straight(length=30.0, width=1.07):
    x = np.linspace(0.0, length, 301)
    zero = np.zeros_like(x)
    return Track("straight", np.column_stack([x, zero]), np.column_stack([x, zero + width / 2]),
                 np.column_stack([x, zero - width / 2]), is_loop=False)


def test_centre_line_view_down_a_straight_is_left_right_symmetric():
    cam = Camera(TrackMap(straight()))
    frame = cam.render(1.0, 0.0, 0.0)  # on the centre line, looking down 29 m of straight
    assert frame.shape == (120, 160) and frame.dtype == np.uint8
    mismatch = frame != frame[:, ::-1]
    assert mismatch.mean() < 0.005  # only raster edges differ
    # And the two halves see the same amount of road and of ground beside it.
    for shade in SHADES:
        left, right = (frame[:, :80] == shade).sum(), (frame[:, 80:] == shade).sum()
        assert abs(left - right) <= 0.02 * max(left, right, 100)


def test_frame_shows_sky_on_top_road_below_and_both_border_lines():
    frame = Camera(GRID).render(-1.8, -1.5, 0.0)
    assert (frame[0] == SKY_SHADE).all()
    bottom = frame[-1]
    assert bottom[75:85].tolist().count(SHADES[1]) + bottom[75:85].tolist().count(SHADES[3]) == 10
    row = frame[48]
    white = np.flatnonzero(row == SHADES[2])
    assert white.size and white.min() < 40 and white.max() > 120  # a line each side


def test_tilting_down_moves_the_horizon_up_the_frame_less():
    def sky_rows(tilt):
        frame = Camera(GRID, CameraSpec(tilt=tilt)).render(-1.8, -1.5, 0.0)
        return int((frame == SKY_SHADE).all(axis=1).sum())
    assert sky_rows(0.35) < sky_rows(0.2) < sky_rows(0.05)


def test_car_facing_off_the_track_sees_ground_not_road():
    frame = Camera(GRID).render(0.0, -2.4, -math.pi / 2)  # outside the oval, facing away
    ground = frame[frame != SKY_SHADE]
    assert (ground == SHADES[0]).mean() > 0.99


def test_stereo_cameras_differ_by_their_baseline():
    left, right = stereo_pair(GRID)
    a, b = left.render(-1.8, -1.5, 0.0), right.render(-1.8, -1.5, 0.0)
    assert (a != b).any()
    assert ((a == b[:, ::-1]).mean()) > 0.97  # mirror images of each other on the centre line

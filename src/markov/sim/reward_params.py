"""The ``params`` dict handed to ``reward_function(params)``: every key the DeepRacer docs list.

Keys and defaults follow the image's ``RewardParam`` table. The built-in simulator has no
objects, so the ``objects_*`` lists are empty and ``closest_objects`` is ``[0, 0]`` as in the
image's time trials.
"""
from __future__ import annotations

from typing import Any

REWARD_PARAM_KEYS = (
    "all_wheels_on_track", "x", "y", "heading", "distance_from_center", "projection_distance",
    "progress", "steps", "speed", "steering_angle", "track_width", "track_length", "waypoints",
    "closest_waypoints", "is_left_of_center", "is_reversed", "closest_objects",
    "objects_location", "objects_left_of_center", "object_in_camera", "objects_speed",
    "objects_heading", "objects_distance_from_center", "objects_distance", "is_crashed",
    "is_offtrack",
)


def make_reward_params(*, x: float, y: float, heading: float, speed: float, steering_angle: float,
                       progress: float, steps: int, track_width: float, track_length: float,
                       distance_from_center: float, projection_distance: float,
                       is_left_of_center: bool, all_wheels_on_track: bool, is_offtrack: bool,
                       is_reversed: bool, waypoints: list, closest_waypoints: tuple[int, int]) -> dict[str, Any]:
    """A fresh params dict (the user may mutate it; nothing is shared with the simulator).

    Args:
        x, y: the front of the car (the image's model point), metres.
        heading: yaw of the car, degrees in (-180, 180].
        speed, steering_angle: the *commanded* action (m/s, degrees), as the image reports.
        progress: percent of the lap from the episode's start line, 0..100.
        waypoints: list of (x, y) tuples; copied here.
    """
    return {
        "all_wheels_on_track": bool(all_wheels_on_track),
        "x": float(x),
        "y": float(y),
        "heading": float(heading),
        "distance_from_center": float(distance_from_center),
        "projection_distance": float(projection_distance),
        "progress": float(progress),
        "steps": int(steps),
        "speed": float(speed),
        "steering_angle": float(steering_angle),
        "track_width": float(track_width),
        "track_length": float(track_length),
        "waypoints": list(waypoints),
        "closest_waypoints": [int(closest_waypoints[0]), int(closest_waypoints[1])],
        "is_left_of_center": bool(is_left_of_center),
        "is_reversed": bool(is_reversed),
        "closest_objects": [0, 0],
        "objects_location": [],
        "objects_left_of_center": [],
        "object_in_camera": False,
        "objects_speed": [],
        "objects_heading": [],
        "objects_distance_from_center": [],
        "objects_distance": [],
        "is_crashed": False,
        "is_offtrack": bool(is_offtrack),
    }

"""The store records which track (and world) a run drove; export and evaluate read it back."""
import io
from pathlib import Path

import numpy as np
import pytest

from markov.sim.env import DeepRacerEnv
from markov.store.keys import ModelKeys
from markov.store.local import LocalStore
from markov.training.track_record import (
    BUILT_IN, IMAGE_WORLD, describe_track, parse_track_record, publish_track_record,
)

FIXTURE_TRACKS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "tracks"


def _publish(tmp_path, env, requested):
    store, keys = LocalStore(tmp_path / "bucket"), ModelKeys("run")
    record = describe_track(requested, env.track, keys, getattr(env, "world", None))
    publish_track_record(store, keys, record, env.track)
    return store, keys, record


def test_a_built_in_track_is_recorded_with_a_route_copy(tmp_path):
    env = DeepRacerEnv(track="twisty")
    store, keys, record = _publish(tmp_path, env, "twisty")
    read = parse_track_record(store.get_bytes(keys.track_record))
    assert read == record and read.source == BUILT_IN and read.route is None and read.world is None
    assert read.route_key == "run/tracks/twisty.npy" and abs(read.length - env.track.length) < 1e-9
    waypoints = np.load(io.BytesIO(store.get_bytes(read.route_key)), allow_pickle=False)  # as deepracer-utils reads it
    assert waypoints.shape == (len(env.track.center), 6)
    np.testing.assert_allclose(waypoints[:, 2:4], env.track.inner)


def test_a_route_file_is_recorded_by_path(tmp_path):
    route = tmp_path / "my_track.npy"
    np.save(route, DeepRacerEnv(track="oval").track.to_npy_array())
    _, _, record = _publish(tmp_path, DeepRacerEnv(track=str(route)), str(route))
    assert (record.name, record.source, record.route) == ("my_track", "route", str(route.resolve()))


@pytest.mark.skipif(not FIXTURE_TRACKS.is_dir(), reason="../shared/fixtures/tracks is absent (a fresh clone has none)")
def test_an_image_track_is_recorded_with_its_route_and_world(tmp_path):
    env = DeepRacerEnv(track="reInvent2019_track", tracks_dir=FIXTURE_TRACKS, renderer="flat")
    _, _, record = _publish(tmp_path, env, "reInvent2019_track")
    assert record.name == "reInvent2019_track" and record.source == IMAGE_WORLD
    assert record.route == str(FIXTURE_TRACKS / "routes" / "reInvent2019_track.npy")
    assert record.world == str(FIXTURE_TRACKS / "worlds" / "reInvent2019_track.world")
    assert 1.0 < record.width < 1.2  # the image's wide track, about 1.07 m

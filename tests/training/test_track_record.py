"""The store records which track (and world) a run drove; export and evaluate read it back."""
import io
import json
import logging
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from markov.sim.env import DeepRacerEnv
from markov.sim.evaluation import recorded_track
from markov.store.keys import ModelKeys
from markov.store.local import LocalStore
from markov.training.track_record import (
    BUILT_IN, IMAGE_WORLD, TrackRecord, describe_track, parse_track_record, publish_track_record,
)

FIXTURE_TRACKS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "tracks"


def _publish(tmp_path, env, requested):
    store, keys = LocalStore(tmp_path / "bucket"), ModelKeys("run")
    record = describe_track(requested, env.track, keys, getattr(env, "world", None), env.renderer)
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
    assert record.renderer == "flat"


def test_a_record_without_a_renderer_still_reads(tmp_path):
    """Records written before the renderer was kept (no "renderer" key) parse, with None."""
    env = DeepRacerEnv(track="oval")
    store, keys, record = _publish(tmp_path, env, "oval")
    assert record.renderer == "flat"
    raw = json.loads(record.to_json())
    del raw["renderer"]
    assert parse_track_record(json.dumps(raw).encode()) == replace(record, renderer=None)


def _image_record(world: str | None, route: str | None = "/gone/routes/reInvent2019_track.npy") -> TrackRecord:
    return TrackRecord(name="reInvent2019_track", source=IMAGE_WORLD, route=route, world=world,
                       route_key="run/tracks/reInvent2019_track.npy", length=17.7, width=1.07, renderer="mesh")


def test_evaluate_draws_the_runs_world_from_where_the_run_read_it(tmp_path):
    world = tmp_path / "tracks" / "worlds" / "reInvent2019_track.world"
    world.parent.mkdir(parents=True)
    world.write_text("<sdf/>")
    track, tracks_dir = recorded_track(_image_record(str(world)), tmp_path / "run", None)
    assert (track, tracks_dir) == ("reInvent2019_track", tmp_path / "tracks")


def test_evaluate_prefers_the_given_tracks_dir(tmp_path):
    track, tracks_dir = recorded_track(_image_record("/gone/worlds/reInvent2019_track.world"), tmp_path, tmp_path / "mine")
    assert (track, tracks_dir) == ("reInvent2019_track", None)  # evaluate passes its own --tracks-dir on


def test_evaluate_without_the_world_warns_and_drives_the_route_copy(tmp_path, caplog):
    copy = tmp_path / "run" / "tracks" / "reInvent2019_track.npy"
    copy.parent.mkdir(parents=True)
    np.save(copy, DeepRacerEnv(track="oval").track.to_npy_array())
    with caplog.at_level(logging.WARNING, logger="markov.sim.evaluation"):
        track, tracks_dir = recorded_track(_image_record("/gone/worlds/reInvent2019_track.world"), tmp_path / "run", None)
    assert (track, tracks_dir) == (str(copy), None)
    (warning,) = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "reInvent2019_track" in warning and "flat renderer" in warning and "--tracks-dir" in warning

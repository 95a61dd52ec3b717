"""The record of which track (and world) a run drove, kept in the store next to the model.

The image's runs name their track in ``training_params.yaml`` (``WORLD_NAME``); ours drive the
built-in simulator, on a built-in track, a route ``.npy`` or one of the image's track worlds.
Rollout worker 0 writes ``<prefix>/model/training_track.json`` and a copy of the route at
``<prefix>/tracks/<name>.npy`` (the image's route format: centre, inner and outer border, one
row per waypoint), so that:

- ``export --format droa`` knows the track without ``--track`` (for an image track),
- ``evaluate`` drives the same track by default, even where the tracks folder is not at hand,
- analysis plots the track: ``deepracer.tracks.TrackIO(base_path="<prefix>/tracks")``.
"""
from __future__ import annotations

import io
import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from markov.store.backend import ObjectStore
from markov.store.keys import ModelKeys

log = logging.getLogger(__name__)

BUILT_IN, ROUTE_FILE, IMAGE_WORLD = "built-in", "route", "tracks-dir"


@dataclass(frozen=True)
class TrackRecord:
    """What ``model/training_track.json`` holds.

    Attributes:
        name: the track's name: a built-in (``oval``), an image track id
            (``reInvent2019_track``) or the stem of a route file.
        source: ``built-in``, ``route`` (a ``.npy`` given by path) or ``tracks-dir`` (an image world).
        route: the route file the run read, where there was one.
        world: the ``.world`` file the run rendered, for image tracks.
        route_key: the store key of the route copy (``<prefix>/tracks/<name>.npy``).
        length, width: metres, of the route as driven.
        reversed: driven against the route's direction.
        renderer: what drew the camera frames: ``mesh`` (the world's meshes and lights) or ``flat``
            (no OpenGL, or a track with no world); None in records written before it was kept.
    """

    name: str
    source: str
    route: str | None
    world: str | None
    route_key: str
    length: float
    width: float
    reversed: bool = False
    renderer: str | None = None

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=2, sort_keys=True).encode()


def describe_track(requested: str | Path, track: Any, keys: ModelKeys, world: Any | None = None,
                   renderer: str | None = None) -> TrackRecord:
    """The record for a run that asked for ``requested`` and got ``track`` (and ``world``, drawn by ``renderer``)."""
    from markov.sim.track_library import BUILTIN_TRACKS

    text = str(requested)
    name = str(getattr(track, "name", None) or Path(text).stem)
    if world is not None:
        # The route may carry a direction suffix (reInvent2019_track_ccw) where the world has the bare name.
        source = IMAGE_WORLD
        routes = Path(world.folder) / "routes"
        route = str(next((path for path in (routes / f"{name}.npy", routes / f"{world.name}.npy") if path.is_file()),
                         routes / f"{name}.npy"))
        world_file = str(world.world_file)
    elif text in BUILTIN_TRACKS:
        source, route, world_file = BUILT_IN, None, None
    else:
        source, route, world_file = ROUTE_FILE, str(Path(text).expanduser().resolve()), None
    width = float(np.median(np.linalg.norm(np.asarray(track.outer) - np.asarray(track.inner), axis=1)))
    return TrackRecord(name=name, source=source, route=route, world=world_file, route_key=keys.route(name),
                       length=float(track.length), width=round(width, 4), reversed=bool(getattr(track, "is_reversed", False)),
                       renderer=renderer)


def publish_track_record(store: ObjectStore, keys: ModelKeys, record: TrackRecord, track: Any) -> None:
    """Write the route copy, then the record that points at it."""
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(track.to_npy_array(), dtype=np.float64))
    store.put_bytes(record.route_key, buffer.getvalue())
    store.put_bytes(keys.track_record, record.to_json())
    log.info("Recorded the track %s (%s, %s renderer) at %s", record.name, record.source, record.renderer or "unknown",
             store.uri(record.route_key))


def parse_track_record(data: bytes | None) -> TrackRecord | None:
    """The record from ``training_track.json`` bytes; None when absent or unreadable."""
    if not data:
        return None
    try:
        raw = json.loads(data.decode("utf-8"))
        return TrackRecord(**{key: raw[key] for key in TrackRecord.__dataclass_fields__ if key in raw})
    except (UnicodeDecodeError, ValueError, TypeError):
        log.warning("ignoring an unreadable training_track.json")
        return None

"""Reading track worlds in the image's layout: meshes, textures, lights, walls, car mounts, errors."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

from markov.errors import ConfigError
from markov.sim.sensor_mounts import load_car_mounts
from markov.sim.world import list_tracks, load_world


def test_generated_world_loads_with_textures_lights_and_walls(small_world_dir, small_world_name):
    world = load_world(small_world_dir, small_world_name)
    names = [s.name.split("-")[0] for s in world.surfaces]
    # Ground layers first, lowest and largest first, so paint is drawn over the road; walls last.
    assert names == ["field", "road", "outer_line", "center_line", "inner_line", "wall"]
    dashes = world.surfaces[names.index("center_line")].texture
    assert dashes.shape == (8, 16, 4) and dashes[:, 8:, 3].max() == 0 and dashes[:, :8, 3].min() == 255
    assert world.lighting.ambient == (0.5, 0.5, 0.5)
    sun, point = world.lighting.lights
    assert sun.kind == "directional" and np.isclose(np.linalg.norm(sun.direction), 1.0) and sun.direction[2] < 0
    assert point.kind == "point" and point.position == (0.0, 0.0, 15.0) and point.attenuation == (0.4, 0.01, 0.0)
    assert world.track.length == pytest.approx(2 * 1.5 + 2 * np.pi * 0.8, rel=0.01)
    # A lidar at 0.18 m sees the four walls of the collision mesh, not the floor.
    segments = world.wall_segments(0.18)
    assert len(segments) == 8
    xmin, ymin, xmax, ymax = world.track.bounds()
    assert segments[..., 0].min() == pytest.approx(xmin - 1.0) and segments[..., 1].max() == pytest.approx(ymax + 1.0)


def test_a_route_with_a_direction_suffix_uses_the_bare_world(small_world_dir, small_world_name, tmp_path):
    """The image names one-way routes <track>_cw / <track>_ccw; their world is <track>.world."""
    folder = tmp_path / "tracks"
    shutil.copytree(small_world_dir, folder)
    route = np.load(folder / "routes" / f"{small_world_name}.npy")
    clockwise = np.concatenate([route[::-1, 0:2], route[::-1, 4:6], route[::-1, 2:4]], axis=1)  # driven the other way: left and right swap
    np.save(folder / "routes" / f"{small_world_name}_cw.npy", clockwise)
    np.save(folder / "routes" / "no_world_cw.npy", clockwise)  # a route whose bare name has no world either

    world = load_world(folder, f"{small_world_name}_cw")

    assert world.world_file == folder / "worlds" / f"{small_world_name}.world"
    assert world.name == f"{small_world_name}_cw" and len(world.surfaces) == 6
    directions = {info.name: info.direction for info in list_tracks(folder)}
    assert directions == {small_world_name: "counter-clockwise", f"{small_world_name}_cw": "clockwise"}
    with pytest.raises(ConfigError, match="no_world_cw"):
        load_world(folder, "no_world_cw")


def test_lighting_adjusted_scales_and_aims_without_touching_the_world(small_world_dir, small_world_name):
    world = load_world(small_world_dir, small_world_name)
    changed = world.lighting.adjusted(ambient=0.5, lights=2.0, sun_direction=(0.0, 0.0, -3.0))
    assert changed.ambient == (0.25, 0.25, 0.25)
    assert [light.intensity for light in changed.lights] == [2.0, 2.0]
    assert changed.lights[0].direction == (0.0, 0.0, -1.0)
    assert changed.lights[1].direction == world.lighting.lights[1].direction  # only directional lights turn
    assert world.lighting.ambient == (0.5, 0.5, 0.5)


def test_car_mounts_come_from_the_urdf(small_world_dir):
    mounts = load_car_mounts(small_world_dir)
    # chassis 0.023249 up, camera joint 0.091711 ahead and 0.080023 up pitched 0.2618, lens 0.044755/0.04 on.
    pitch = 0.2618
    expected = (0.091711 + 0.044755 * np.cos(pitch) + 0.04 * np.sin(pitch),
                0.023249 + 0.080023 - 0.044755 * np.sin(pitch) + 0.04 * np.cos(pitch))
    assert mounts.front[0, 3] == pytest.approx(expected[0]) and mounts.front[2, 3] == pytest.approx(expected[1])
    assert mounts.front[:3, 0] == pytest.approx([np.cos(pitch), 0.0, -np.sin(pitch)])  # optical axis, looking down
    assert mounts.stereo[0][1, 3] == pytest.approx(0.03) and mounts.stereo[1][1, 3] == pytest.approx(-0.03)
    assert mounts.optics.horizontal_fov == 1.13 and mounts.optics.near == 0.02
    assert (mounts.optics.width, mounts.optics.height) == (640, 480)


def test_unknown_track_lists_the_tracks_found(small_world_dir):
    with pytest.raises(ConfigError) as info:
        load_world(small_world_dir, "reInvent2019_track")
    message = str(info.value)
    assert "\n" not in message and "reInvent2019_track.npy not found" in message and "test_loop" in message


def test_missing_texture_names_the_file(tmp_path, small_world_dir, small_world_name):
    folder = shutil.copytree(small_world_dir, tmp_path / "tracks")
    (folder / "meshes" / small_world_name / "textures" / "dashes.png").unlink()
    with pytest.raises(ConfigError, match=r"test_loop\.dae: texture textures/dashes\.png not found.*tracks in .*test_loop"):
        load_world(folder, small_world_name)


def test_missing_mesh_and_broken_world_name_the_file(tmp_path, small_world_dir, small_world_name):
    folder = shutil.copytree(small_world_dir, tmp_path / "tracks")
    (folder / "meshes" / small_world_name / f"{small_world_name}.dae").unlink()
    with pytest.raises(ConfigError, match=r"test_loop_model\.sdf: model://meshes/test_loop/test_loop\.dae not found"):
        load_world(folder, small_world_name)
    (folder / "worlds" / f"{small_world_name}.world").write_text("<sdf><world>")
    with pytest.raises(ConfigError, match=r"test_loop\.world: not a readable SDF/XML file"):
        load_world(folder, small_world_name)


def test_folder_without_the_layout_says_so(tmp_path):
    with pytest.raises(ConfigError, match="no worlds/ or routes/ folder"):
        load_world(tmp_path, "x")
    with pytest.raises(ConfigError, match="not found"):
        load_world(tmp_path / "absent", "x")


def test_image_fixture_tracks(fixture_tracks):
    infos = {t.name: t for t in list_tracks(fixture_tracks)}
    assert set(infos) == {"reInvent2019_track", "Oval_track"}
    assert infos["reInvent2019_track"].length == pytest.approx(23.12, abs=0.01)
    assert infos["reInvent2019_track"].width == pytest.approx(1.067, abs=0.001)
    assert infos["reInvent2019_track"].direction == "counter-clockwise"
    world = load_world(fixture_tracks, "reInvent2019_track")
    assert len(world.surfaces) == 6 and all(s.texture is not None for s in world.surfaces)
    assert world.surfaces[-1].name.startswith("wall") and not world.surfaces[-1].is_flat
    assert len(world.wall_segments(0.18)) == 8
    oval = load_world(fixture_tracks, "Oval_track")
    # Oval's Collada is Y-up in centimetres: trimesh's node transforms put it flat on z = 0 in metres.
    road = next(s for s in oval.surfaces if s.name.startswith("road"))
    assert abs(road.positions[:, 2]).max() < 0.001 and road.positions[:, 0].max() == pytest.approx(8.84, abs=0.01)
    assert len(oval.wall_segments(0.18)) == 0  # its collision mesh is the floor only

"""A small track world in the simulation image's layout, written by our own code for tests.

A fresh clone has no ../shared/fixtures/tracks, so the renderer's tests build this one: a 7.9 m
stadium loop with a textured road, white border lines painted inward from the route's borders,
a dashed centre line whose gaps are transparent texels (the alpha cut), a green field, and a
1 m wall around it (visual and collision). The SDF world, the model, the Collada meshes
(written with pycollada), the PNG textures, the route .npy and a car URDF with the image's
camera poses are all generated here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from markov.sim.track_library import oval

NAME = "test_loop"
LINE_WIDTH = 0.05
WALL_HEIGHT = 1.0
MARGIN = 1.0

WORLD_SDF = """<?xml version="1.0"?>
<sdf version="1.7">
  <world name="{name}">
    <scene>
      <ambient>0.5 0.5 0.5 1.0</ambient>
      <shadows>0</shadows>
      <sky/>
    </scene>
    <light type="directional" name="sun">
      <pose>0 0 15 0 0 0</pose>
      <intensity>1.0</intensity>
      <direction>-0.5 0.1 -0.9</direction>
      <diffuse>1 1 0.8 1</diffuse>
    </light>
    <light name="Light 1" type="point">
      <pose>0 0 15 0 0 0</pose>
      <diffuse>0.225 0.225 0.225 1</diffuse>
      <attenuation><constant>0.4</constant><linear>0.01</linear><quadratic>0.0</quadratic><range>50</range></attenuation>
    </light>
    <include>
      <uri>model://models/{name}</uri>
      <pose>0 0 0 0 0 0</pose>
    </include>
  </world>
</sdf>
"""

MODEL_SDF = """<?xml version="1.0"?>
<sdf version="1.7">
<model name="{name}_model">
<link name="fullLink">
<collision name="collision"><geometry><mesh><uri>model://meshes/{name}/{name}_collision.dae</uri></mesh></geometry></collision>
<visual name="visual"><geometry><mesh><uri>model://meshes/{name}/{name}.dae</uri></mesh></geometry></visual>
</link>
<static>1</static>
</model>
</sdf>
"""

MODEL_CONFIG = """<?xml version="1.0"?>
<model><name>{name}_model</name><sdf version="1.4">{name}_model.sdf</sdf></model>
"""

# The image's car (deepracer_*.urdf): base_link -> chassis -> zed_camera_link (pitched 0.2618
# rad down) -> camera_link; the stereo pair sits 3 cm either side.
URDF = """<?xml version="1.0"?>
<robot name="deepracer">
  <link name="base_link"/>
  <joint name="base_link_joint" type="fixed">
    <origin xyz="0 0 0.023249" rpy="0 0 0"/><parent link="base_link"/><child link="chassis"/>
  </joint>
{cameras}
  <joint name="hokuyo_joint" type="fixed">
    <origin xyz="0.02913 0 0.16145" rpy="0 0 3.1416"/><parent link="chassis"/><child link="laser"/>
  </joint>
</robot>
"""
CAMERA_JOINTS = """  <joint name="zed_camera_joint{suffix}" type="fixed">
    <origin xyz="0.091711 {y} 0.080023" rpy="0 0.2618 0"/><parent link="chassis"/><child link="zed_camera_link{suffix}"/>
  </joint>
  <joint name="camera_joint{suffix}" type="fixed">
    <origin xyz="0.044755 0 0.04" rpy="0 0 0"/><parent link="zed_camera_link{suffix}"/><child link="camera_link{suffix}"/>
  </joint>
"""
GAZEBO = """<?xml version="1.0"?>
<robot>
  <gazebo reference="camera_link">
    <sensor type="camera" name="zed_camera_left_sensor">
      <camera name="zed_camera_left_camera">
        <horizontal_fov>1.13</horizontal_fov>
        <image><width>640</width><height>480</height><format>R8G8B8</format></image>
        <clip><near>0.02</near><far>300</far></clip>
      </camera>
    </sensor>
  </gazebo>
</robot>
"""


def build_world(folder: Path, name: str = NAME) -> Path:
    """Write a complete tracks folder with one track ``name``; returns the folder."""
    folder = Path(folder)
    track = oval(width=0.76, straight=1.5, radius=0.8)
    (folder / "routes").mkdir(parents=True, exist_ok=True)
    np.save(folder / "routes" / f"{name}.npy", track.to_npy_array())
    (folder / "worlds").mkdir(exist_ok=True)
    (folder / "worlds" / f"{name}.world").write_text(WORLD_SDF.format(name=name))
    model = folder / "models" / name
    model.mkdir(parents=True, exist_ok=True)
    (model / f"{name}_model.sdf").write_text(MODEL_SDF.format(name=name))
    (model / "model.config").write_text(MODEL_CONFIG.format(name=name))
    urdf = folder / "urdf" / "deepracer"
    urdf.mkdir(parents=True, exist_ok=True)
    single = CAMERA_JOINTS.format(suffix="", y=0)
    stereo = CAMERA_JOINTS.format(suffix="_leftcam", y=0.03) + CAMERA_JOINTS.format(suffix="_rightcam", y=-0.03)
    for file, cameras in (("deepracer_single_cam.urdf", single), ("deepracer_stereo_cam.urdf", stereo),
                          ("deepracer_single_cam_lidar.urdf", single)):
        (urdf / file).write_text(URDF.format(cameras=cameras))
    (urdf / "racecar.gazebo").write_text(GAZEBO)

    meshes = folder / "meshes" / name
    (meshes / "textures").mkdir(parents=True, exist_ok=True)
    _textures(meshes / "textures")
    xmin, ymin, xmax, ymax = track.bounds()
    box = (xmin - MARGIN, ymin - MARGIN, xmax + MARGIN, ymax + MARGIN)
    inner, outer, center = track.inner, track.outer, track.center
    inner_edge = inner + _toward(inner, center) * LINE_WIDTH
    outer_edge = outer + _toward(outer, center) * LINE_WIDTH
    c_left = center + _toward(center, inner) * 0.02
    c_right = center + _toward(center, outer) * 0.02
    field = _quad(box, z=0.0)
    visual = [
        ("field", field, "field.png"),
        ("road", _strip(inner, outer, 0.001, repeat=0.5), "road.png"),
        ("inner_line", _strip(inner, inner_edge, 0.0015, repeat=1.0), "line.png"),
        ("outer_line", _strip(outer, outer_edge, 0.0015, repeat=1.0), "line.png"),
        ("center_line", _strip(c_left, c_right, 0.0015, repeat=0.3), "dashes.png"),
        ("wall", _walls(box), "wall.png"),
    ]
    _write_collada(meshes / f"{name}.dae", visual)
    _write_collada(meshes / f"{name}_collision.dae", [("field", field, "field.png"), ("wall", _walls(box), "wall.png")],
                   textures_dir="textures")
    return folder


def _toward(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = b - a
    return d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-12)


def _textures(folder: Path) -> None:
    rng = np.random.default_rng(0)
    road = np.clip(rng.normal(70, 12, (64, 64, 1)), 0, 255).repeat(3, axis=2).astype(np.uint8)
    Image.fromarray(road).save(folder / "road.png")
    field = np.zeros((32, 32, 3), np.uint8)
    field[...] = (90, 150, 40)
    field[::2, ::2] = (110, 170, 50)
    Image.fromarray(field).save(folder / "field.png")
    Image.fromarray(np.full((8, 8, 3), 235, np.uint8)).save(folder / "line.png")
    # Orange dashes along u, transparent gaps between them: the renderer must cut them.
    dashes = np.zeros((8, 16, 4), np.uint8)
    dashes[:, :8] = (255, 150, 0, 255)
    Image.fromarray(dashes, "RGBA").save(folder / "dashes.png")
    Image.fromarray(np.full((4, 4, 3), (40, 70, 80), np.uint8)).save(folder / "wall.png")


def _strip(a: np.ndarray, b: np.ndarray, z: float, repeat: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quads between two polylines; u runs along them (one texture repeat per ``repeat`` m)."""
    n = len(a)
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(a, axis=0), axis=1))]) / repeat
    verts = np.vstack([np.c_[a, np.full(n, z)], np.c_[b, np.full(n, z)]])
    uv = np.vstack([np.c_[along, np.zeros(n)], np.c_[along, np.ones(n)]])
    faces = []
    for i in range(n - 1):
        faces += [(i, i + 1, n + i + 1), (i, n + i + 1, n + i)]
    return verts, uv, np.asarray(faces)


def _quad(box: tuple[float, float, float, float], z: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = box
    verts = np.array([(x0, y0, z), (x1, y0, z), (x1, y1, z), (x0, y1, z)])
    uv = verts[:, :2] - verts[0, :2]
    return verts, uv, np.array([(0, 1, 2), (0, 2, 3)])


def _walls(box: tuple[float, float, float, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x0, y0, x1, y1 = box
    corners = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
    verts, uv, faces = [], [], []
    for i in range(4):
        (ax, ay), (bx, by) = corners[i], corners[(i + 1) % 4]
        k = len(verts)
        verts += [(ax, ay, 0.0), (bx, by, 0.0), (bx, by, WALL_HEIGHT), (ax, ay, WALL_HEIGHT)]
        uv += [(0, 0), (1, 0), (1, 1), (0, 1)]
        faces += [(k, k + 1, k + 2), (k, k + 2, k + 3)]
    return np.asarray(verts, float), np.asarray(uv, float), np.asarray(faces)


def _write_collada(path: Path, parts, textures_dir: str = "textures") -> None:
    import collada
    from collada import material, scene, source

    mesh = collada.Collada()
    nodes = []
    for name, (verts, uv, faces), texture in parts:
        image = material.CImage(f"{name}-image", f"{textures_dir}/{texture}")
        surface = material.Surface(f"{name}-surface", image)
        sampler = material.Sampler2D(f"{name}-sampler", surface)
        effect = material.Effect(f"{name}-effect", [surface, sampler], "lambert",
                                 diffuse=material.Map(sampler, "UVSET0"), double_sided=True)
        mat = material.Material(f"{name}-material", name, effect)
        mesh.images.append(image)
        mesh.effects.append(effect)
        mesh.materials.append(mat)
        normals = np.tile([0.0, 0.0, 1.0], (len(verts), 1))  # as the image's meshes, walls included
        sources = [source.FloatSource(f"{name}-verts", np.asarray(verts, float).ravel(), ("X", "Y", "Z")),
                   source.FloatSource(f"{name}-normals", normals.ravel(), ("X", "Y", "Z")),
                   source.FloatSource(f"{name}-uv", np.asarray(uv, float).ravel(), ("S", "T"))]
        geometry = collada.geometry.Geometry(mesh, f"{name}-mesh", name, sources)
        inputs = source.InputList()
        inputs.addInput(0, "VERTEX", f"#{name}-verts")
        inputs.addInput(1, "NORMAL", f"#{name}-normals")
        inputs.addInput(2, "TEXCOORD", f"#{name}-uv", set="0")
        indices = np.repeat(np.asarray(faces, dtype=np.int64).ravel(), 3)
        geometry.primitives.append(geometry.createTriangleSet(indices, inputs, f"{name}-ref"))
        mesh.geometries.append(geometry)
        nodes.append(scene.Node(name, children=[scene.GeometryNode(geometry, [scene.MaterialNode(f"{name}-ref", mat, inputs=[])])]))
    mesh.scenes.append(scene.Scene("scene", nodes))
    mesh.scene = mesh.scenes[0]
    mesh.write(str(path))

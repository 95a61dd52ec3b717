"""A track world of the simulation image, read from a folder in the image's own layout.

The image ships every track it races on as data (Apache-2.0): ``worlds/<track>.world`` (an SDF
world: scene ambient, a directional sun, a point light, an ``<include>`` of the track model),
``models/<track>/*.sdf`` (the model: visual and collision meshes by ``model://`` URI),
``meshes/<track>/*.dae`` (Collada meshes of road, border lines, centre line, field and walls, with
PNG textures), ``routes/<track>.npy`` (the route the reward params use) and ``urdf/deepracer/*``
(the car). That folder is the ``bundle/`` of a deepracer-simapp checkout or a copy of the image's
``share/deepracer_simulation_environment`` (docs/simulator.md says how to get one).

SDF is read with ElementTree, Collada with trimesh (pycollada underneath); nothing here parses a
mesh by hand. Every problem with a world is a ConfigError of one line that names the file and
lists the tracks the folder holds.
"""
from __future__ import annotations

import logging
import math
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from markov.errors import ConfigError
from markov.sim.track import Track

log = logging.getLogger(__name__)

WORLDS, MODELS, MESHES, ROUTES = "worlds", "models", "meshes", "routes"
WORLD_SUFFIX, ROUTE_SUFFIX = ".world", ".npy"
# Route files of the image's tracks driven one way carry a suffix; their world is the bare name.
DIRECTION_SUFFIXES = ("_ccw", "_cw")
# A surface flatter than this (metres) is a ground layer: paint on the road, drawn in order.
FLAT_EXTENT = 0.002


@dataclass(frozen=True)
class Light:
    """One SDF ``<light>``.

    Attributes:
        kind: "directional", "point" or "spot".
        diffuse: RGB in [0, 1].
        intensity: SDF ``<intensity>`` (a multiplier, default 1).
        direction: unit vector the light travels along (world frame); for directional lights.
        position: world position, metres; for point and spot lights.
        attenuation: (constant, linear, quadratic) of 1 / (c + l d + q d^2); ``range`` cuts it off.
    """

    kind: str
    diffuse: tuple[float, float, float]
    intensity: float = 1.0
    direction: tuple[float, float, float] = (0.0, 0.0, -1.0)
    position: tuple[float, float, float] = (0.0, 0.0, 0.0)
    attenuation: tuple[float, float, float] = (1.0, 0.0, 0.0)
    range: float = 1e9


@dataclass(frozen=True)
class Lighting:
    """The world's light: the scene ambient and its lights (no shadows: the worlds turn them off).

    A renderer takes a whole Lighting, so a per-episode change (domain randomisation) is a new
    value made with :meth:`adjusted`, never an edit of the world.
    """

    ambient: tuple[float, float, float]
    lights: tuple[Light, ...] = ()

    def adjusted(self, ambient: float = 1.0, lights: float = 1.0,
                 sun_direction: tuple[float, float, float] | None = None) -> "Lighting":
        """Scale the ambient and every light's intensity; optionally aim the directional lights.

        Args:
            ambient: factor on the ambient RGB.
            lights: factor on each light's intensity.
            sun_direction: new travel direction of the directional lights (normalised here).
        """
        direction = None
        if sun_direction is not None:
            d = np.asarray(sun_direction, dtype=np.float64)
            direction = tuple(float(v) for v in d / max(float(np.linalg.norm(d)), 1e-12))
        new_lights = tuple(
            replace(light, intensity=light.intensity * lights,
                    direction=direction if direction is not None and light.kind == "directional" else light.direction)
            for light in self.lights)
        return Lighting(tuple(float(c) * ambient for c in self.ambient), new_lights)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Surface:
    """One textured mesh of the world, in world coordinates (metres, z up).

    Attributes:
        name: the Collada node's name (``road``, ``ol``, ``fieldShape-mesh``, ...).
        positions, normals: (N, 3) float32.
        uv: (N, 2) float32 texture coordinates (zeros when the mesh has none).
        faces: (M, 3) uint32 vertex indices.
        texture: (H, W, 4) uint8 RGBA, row 0 at the image's top, or None for a plain colour.
        color: RGBA multiplier in [0, 1] (the material's diffuse colour).
    """

    name: str
    positions: np.ndarray
    normals: np.ndarray
    uv: np.ndarray
    faces: np.ndarray
    texture: np.ndarray | None
    color: tuple[float, float, float, float] = (1.0, 1.0, 1.0, 1.0)

    @property
    def is_flat(self) -> bool:
        z = self.positions[:, 2]
        return float(z.max() - z.min()) < FLAT_EXTENT

    @property
    def area(self) -> float:
        p = self.positions.astype(np.float64)
        a, b, c = p[self.faces[:, 0]], p[self.faces[:, 1]], p[self.faces[:, 2]]
        return float(0.5 * np.linalg.norm(np.cross(b - a, c - a), axis=1).sum())


@dataclass(frozen=True)
class TrackInfo:
    """A line of ``deepracer-trainer tracks``."""

    name: str
    length: float
    width: float
    direction: str  # "counter-clockwise" or "clockwise"


@dataclass
class World:
    """A loaded track world: route, visual surfaces, collision triangles and lights.

    Attributes:
        name: the track's name (the route file's stem).
        folder: the tracks folder it came from.
        track: the route (``routes/<name>.npy``), which every reward param is measured on.
        surfaces: visual meshes, ground layers first in drawing order (see ``ordered``).
        collision: (K, 3, 3) float64 triangles of the collision meshes, world frame.
        lighting: the SDF scene's ambient and lights.
        world_file: the ``.world`` file read.
    """

    name: str
    folder: Path
    track: Track
    surfaces: list[Surface]
    collision: np.ndarray
    lighting: Lighting
    world_file: Path
    meshes: list[Path] = field(default_factory=list)

    def wall_segments(self, height: float) -> np.ndarray:
        """(S, 2, 2) segments where the collision mesh crosses the plane z = ``height``.

        A horizontal lidar at that height sees exactly these: the walls, never the floor.
        """
        if len(self.collision) == 0:
            return np.zeros((0, 2, 2))
        import trimesh

        mesh = trimesh.Trimesh(vertices=self.collision.reshape(-1, 3),
                               faces=np.arange(len(self.collision) * 3).reshape(-1, 3), process=False)
        lines = trimesh.intersections.mesh_plane(mesh, plane_normal=[0.0, 0.0, 1.0], plane_origin=[0.0, 0.0, height])
        return np.asarray(lines, dtype=np.float64)[:, :, :2].reshape(-1, 2, 2)


# -- the folder -------------------------------------------------------------------------------
def track_names(folder: Path) -> list[str]:
    """Names of the tracks in a folder: route files that have a world (directly or by suffix)."""
    routes = Path(folder) / ROUTES
    if not routes.is_dir():
        return []
    return sorted(p.stem for p in routes.glob(f"*{ROUTE_SUFFIX}") if _world_file(Path(folder), p.stem) is not None)


def list_tracks(folder: Path) -> list[TrackInfo]:
    """Every track of a folder with its length, width and driving direction (sorted by name)."""
    infos = []
    for name in track_names(folder):
        try:
            track = Track.from_npy(Path(folder) / ROUTES / f"{name}{ROUTE_SUFFIX}")
        except ConfigError as exc:
            log.warning("skipping %s: %s", name, exc)
            continue
        infos.append(TrackInfo(name, track.length, track.width, _direction(track.center)))
    return infos


def check_folder(folder: Path) -> Path:
    """The folder, if it looks like the image's layout; else a ConfigError saying what is missing."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"tracks folder {folder}: not found (set --tracks-dir or DEEPRACER_TRACKS; "
                          "see docs/simulator.md for how to get it)")
    missing = [d for d in (WORLDS, ROUTES) if not (folder / d).is_dir()]
    if missing:
        raise ConfigError(f"tracks folder {folder}: no {' or '.join(f'{d}/' for d in missing)} folder; expected the "
                          "simulation image's layout (the bundle/ folder of deepracer-simapp, see docs/simulator.md)")
    return folder


def load_world(folder: Path, name: str) -> World:
    """Load track ``name`` from a tracks folder: route, meshes with textures, collision, lights.

    Raises:
        ConfigError: one line naming the missing or broken file (or the unknown name) and listing
            the tracks the folder holds.
    """
    folder = check_folder(folder)
    route = folder / ROUTES / f"{name}{ROUTE_SUFFIX}"
    world_file = _world_file(folder, name)
    if not route.is_file() or world_file is None:
        what = route if not route.is_file() else folder / WORLDS / f"{name}{WORLD_SUFFIX}"
        raise ConfigError(f"track {name!r}: {what} not found; {_found(folder)}")
    track = Track.from_npy(route)
    root = _parse_xml(world_file, folder)
    world_el = root.find("world")
    if world_el is None:
        raise ConfigError(f"{world_file}: no <world> element; {_found(folder)}")
    lighting = _lighting(world_el)
    visuals: list[tuple[Path, np.ndarray]] = []
    collisions: list[tuple[Path, np.ndarray]] = []
    for include in world_el.findall("include"):
        uri = _text(include, "uri")
        if not uri:
            continue
        base = _pose_matrix(_text(include, "pose"))
        model_dir = _resolve_uri(uri, folder, world_file)
        sdf = _model_sdf(model_dir, folder)
        _model_meshes(sdf, folder, base, visuals, collisions)
    if not visuals:
        raise ConfigError(f"{world_file}: the world includes no visual mesh; {_found(folder)}")
    surfaces: list[Surface] = []
    for path, transform in visuals:
        surfaces.extend(_load_surfaces(path, transform, folder))
    tris = [_load_triangles(path, transform, folder) for path, transform in collisions]
    collision = np.concatenate(tris) if tris else np.zeros((0, 3, 3))
    return World(name=name, folder=folder, track=track, surfaces=ordered(surfaces), collision=collision,
                 lighting=lighting, world_file=world_file, meshes=[p for p, _ in visuals])


def ordered(surfaces: list[Surface]) -> list[Surface]:
    """Drawing order: ground layers first, lowest and largest first, so paint lies on the road.

    The image's meshes put border lines at the road's height or half a millimetre above it;
    a renderer draws flat layers in this order with a growing depth offset, so the later
    (smaller, higher) layer wins where two coincide.
    """
    flat = sorted((s for s in surfaces if s.is_flat), key=lambda s: (round(float(s.positions[:, 2].mean()), 4), -s.area))
    return flat + [s for s in surfaces if not s.is_flat]


# -- internals --------------------------------------------------------------------------------
def _world_file(folder: Path, name: str) -> Path | None:
    candidates = [name] + [name[: -len(s)] for s in DIRECTION_SUFFIXES if name.endswith(s)]
    for candidate in candidates:
        path = folder / WORLDS / f"{candidate}{WORLD_SUFFIX}"
        if path.is_file():
            return path
    return None


def _found(folder: Path) -> str:
    names = track_names(folder)
    return f"tracks in {folder}: {', '.join(names)}" if names else f"{folder} holds no track (routes/*.npy with a worlds/*.world)"


def _direction(center: np.ndarray) -> str:
    x, y = center[:, 0], center[:, 1]
    area = 0.5 * float(np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y))
    return "counter-clockwise" if area > 0 else "clockwise"


def _parse_xml(path: Path, folder: Path) -> ET.Element:
    try:
        return ET.parse(path).getroot()
    except (ET.ParseError, OSError) as exc:
        raise ConfigError(f"{path}: not a readable SDF/XML file ({exc}); {_found(folder)}") from None


def _text(element: ET.Element, tag: str, default: str = "") -> str:
    child = element.find(tag)
    return child.text.strip() if child is not None and child.text else default


def _floats(text: str, n: int, default: tuple[float, ...]) -> tuple[float, ...]:
    values = [float(v) for v in text.split()] if text else []
    return tuple(values[:n]) if len(values) >= n else default


def _pose_matrix(text: str) -> np.ndarray:
    """SDF ``<pose>x y z roll pitch yaw</pose>`` as a 4x4 transform."""
    return pose_matrix(*_floats(text, 6, (0.0,) * 6))


def pose_matrix(x: float, y: float, z: float, roll: float, pitch: float, yaw: float) -> np.ndarray:
    """4x4 transform of a position and fixed-axis roll, pitch, yaw (R = Rz Ry Rx), as SDF and URDF mean them."""
    cr, sr, cp, sp, cy, sy = math.cos(roll), math.sin(roll), math.cos(pitch), math.sin(pitch), math.cos(yaw), math.sin(yaw)
    m = np.eye(4)
    m[:3, :3] = [[cy * cp, cy * sp * sr - sy * cr, cy * sp * cr + sy * sr],
                 [sy * cp, sy * sp * sr + cy * cr, sy * sp * cr - cy * sr],
                 [-sp, cp * sr, cp * cr]]
    m[:3, 3] = (x, y, z)
    return m


def _lighting(world_el: ET.Element) -> Lighting:
    scene = world_el.find("scene")
    ambient = _floats(_text(scene, "ambient") if scene is not None else "", 3, (0.4, 0.4, 0.4))
    lights = []
    for el in world_el.findall("light"):
        kind = el.get("type", "point")
        pose = _pose_matrix(_text(el, "pose"))
        direction = np.asarray(_floats(_text(el, "direction"), 3, (0.0, 0.0, -1.0)))
        direction = pose[:3, :3] @ direction
        direction /= max(float(np.linalg.norm(direction)), 1e-12)
        att = el.find("attenuation")
        attenuation = (1.0, 0.0, 0.0)
        light_range = 1e9
        if att is not None:
            attenuation = (float(_text(att, "constant", "1")), float(_text(att, "linear", "0")),
                           float(_text(att, "quadratic", "0")))
            light_range = float(_text(att, "range", "1e9"))
        lights.append(Light(
            kind=kind, diffuse=_floats(_text(el, "diffuse"), 3, (1.0, 1.0, 1.0)),  # type: ignore[arg-type]
            intensity=float(_text(el, "intensity", "1")),
            direction=tuple(float(v) for v in direction),  # type: ignore[arg-type]
            position=tuple(float(v) for v in pose[:3, 3]),  # type: ignore[arg-type]
            attenuation=attenuation, range=light_range))
    return Lighting(ambient=ambient, lights=tuple(lights))  # type: ignore[arg-type]


def _resolve_uri(uri: str, folder: Path, referrer: Path) -> Path:
    """``model://models/x`` and ``model://meshes/x/y.dae`` are paths under the tracks folder."""
    if uri.startswith("model://"):
        path = folder / uri[len("model://"):]
    elif uri.startswith("file://"):
        path = Path(uri[len("file://"):])
    else:
        path = referrer.parent / uri
    if not path.exists():
        raise ConfigError(f"{referrer}: {uri} not found (looked for {path}); {_found(folder)}")
    return path


def _model_sdf(model_dir: Path, folder: Path) -> Path:
    if model_dir.is_file():
        return model_dir
    config = model_dir / "model.config"
    if config.is_file():
        name = _text(_parse_xml(config, folder), "sdf")
        if name and (model_dir / name).is_file():
            return model_dir / name
    sdfs = sorted(model_dir.glob("*.sdf"))
    if not sdfs:
        raise ConfigError(f"{model_dir}: no .sdf model file; {_found(folder)}")
    return sdfs[0]


def _model_meshes(sdf: Path, folder: Path, base: np.ndarray,
                  visuals: list[tuple[Path, np.ndarray]], collisions: list[tuple[Path, np.ndarray]]) -> None:
    """Collect (mesh file, world transform) of every visual and collision of a model."""
    root = _parse_xml(sdf, folder)
    models = [root] if root.tag == "model" else root.findall("model")
    for model in models:
        model_pose = base @ _pose_matrix(_text(model, "pose"))
        for link in model.findall("link"):
            link_pose = model_pose @ _pose_matrix(_text(link, "pose"))
            for tag, out in (("visual", visuals), ("collision", collisions)):
                for el in link.findall(tag):
                    mesh = el.find("geometry/mesh")
                    if mesh is None:
                        continue
                    uri = _text(mesh, "uri")
                    transform = link_pose @ _pose_matrix(_text(el, "pose"))
                    scale = _floats(_text(mesh, "scale"), 3, (1.0, 1.0, 1.0))
                    transform = transform @ np.diag([*scale, 1.0])
                    out.append((_resolve_uri(uri, folder, sdf), transform))


def _load_scene(path: Path, folder: Path):
    import trimesh

    _check_images(path, folder)
    try:
        return trimesh.load(str(path), force="scene")
    except Exception as exc:  # trimesh/pycollada raise many types for a broken file
        raise ConfigError(f"{path}: not a readable Collada mesh ({type(exc).__name__}: {exc}); {_found(folder)}") from None


def _check_images(path: Path, folder: Path) -> None:
    """A texture the mesh names but the folder lacks is an error, not a silently white road."""
    if path.suffix.lower() != ".dae":
        return
    for el in _parse_xml(path, folder).iter():
        if el.tag.endswith("}image") or el.tag == "image":
            for child in el.iter():
                if (child.tag.endswith("init_from") or child.tag == "init_from") and child.text:
                    ref = child.text.strip()
                    if ref.startswith("file://"):
                        ref = ref[len("file://"):]
                    if not (path.parent / ref).is_file():
                        raise ConfigError(f"{path}: texture {ref} not found (looked for {path.parent / ref}); "
                                          f"{_found(folder)}")


def _placed_meshes(path: Path, transform: np.ndarray, folder: Path):
    """(node name, trimesh mesh, its world transform, its world vertex positions) of a mesh file."""
    scene = _load_scene(path, folder)
    for node in scene.graph.nodes_geometry:
        node_transform, geometry_name = scene.graph[node]
        mesh = scene.geometry[geometry_name]
        if len(getattr(mesh, "faces", ())) == 0:
            continue
        full = transform @ node_transform
        yield node, mesh, full, (np.c_[mesh.vertices, np.ones(len(mesh.vertices))] @ full.T)[:, :3]


def _load_surfaces(path: Path, transform: np.ndarray, folder: Path) -> list[Surface]:
    surfaces = []
    for node, mesh, full, positions in _placed_meshes(path, transform, folder):
        normal_matrix = np.linalg.inv(full[:3, :3]).T
        normals = mesh.vertex_normals @ normal_matrix.T
        normals /= np.maximum(np.linalg.norm(normals, axis=1, keepdims=True), 1e-12)
        visual = mesh.visual
        uv = getattr(visual, "uv", None)
        uv = np.zeros((len(positions), 2)) if uv is None else np.asarray(uv)
        texture, color = _material(visual)
        surfaces.append(Surface(name=str(node), positions=positions.astype(np.float32), normals=normals.astype(np.float32),
                                uv=uv.astype(np.float32), faces=np.asarray(mesh.faces, dtype=np.uint32),
                                texture=texture, color=color))
    if not surfaces:
        raise ConfigError(f"{path}: the mesh holds no triangles; {_found(folder)}")
    return surfaces


def _material(visual) -> tuple[np.ndarray | None, tuple[float, float, float, float]]:
    material = getattr(visual, "material", None)
    image = None
    color = (1.0, 1.0, 1.0, 1.0)
    if material is not None:
        image = getattr(material, "baseColorTexture", None) or getattr(material, "image", None)
        factor = getattr(material, "baseColorFactor", None)
        if factor is None:
            factor = getattr(material, "diffuse", None)
        if factor is not None:
            f = np.asarray(factor, dtype=np.float64).ravel()
            f = f / 255.0 if f.max() > 1.0 else f
            color = tuple(float(v) for v in (list(f) + [1.0] * 4)[:4])  # type: ignore[assignment]
    elif getattr(visual, "kind", None) == "vertex" or hasattr(visual, "face_colors"):
        c = np.asarray(visual.face_colors, dtype=np.float64).mean(axis=0) / 255.0
        color = tuple(float(v) for v in c[:4])  # type: ignore[assignment]
    texture = np.asarray(image.convert("RGBA")) if image is not None else None
    return texture, color


def _load_triangles(path: Path, transform: np.ndarray, folder: Path) -> np.ndarray:
    tris = [positions[np.asarray(mesh.faces)] for _, mesh, _, positions in _placed_meshes(path, transform, folder)]
    return np.concatenate(tris) if tris else np.zeros((0, 3, 3))

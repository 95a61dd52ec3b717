"""Where the car's cameras and lidar sit and what the cameras see, from the image's car files.

The image's car is ``urdf/deepracer/deepracer_*.urdf`` (link and joint poses) plus
``racecar.gazebo`` (the camera sensor: horizontal FOV 1.13 rad, 640x480, clip 0.02-300 m). The
camera looks along its link's +x with +z up, as Gazebo cameras do. Poses are relative to
``base_link``, which sits midway between the axles like the simulator's car origin, and is taken
to rest on the ground (its height above the floor depends on the wheel meshes, which are not
part of the tracks folder).
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from markov.errors import ConfigError
from markov.sim.world import pose_matrix

URDF_DIR = Path("urdf") / "deepracer"
SINGLE_CAMERA_URDF = "deepracer_single_cam.urdf"
STEREO_URDF = "deepracer_stereo_cam.urdf"
GAZEBO_FILE = "racecar.gazebo"
FRONT_CAMERA_LINK = "camera_link"
STEREO_LINKS = ("camera_link_leftcam", "camera_link_rightcam")
LIDAR_LINK = "laser"
ROOT_LINK = "base_link"


@dataclass(frozen=True)
class CameraOptics:
    """The Gazebo camera sensor: pinhole, square pixels."""

    horizontal_fov: float = 1.13
    width: int = 640
    height: int = 480
    near: float = 0.02
    far: float = 300.0


@dataclass(frozen=True)
class CarMounts:
    """Sensor poses on the car (4x4 transforms, base_link frame) and the camera optics.

    Attributes:
        front: the single camera (``camera_link``).
        stereo: left and right cameras (``camera_link_leftcam``, ``camera_link_rightcam``).
        lidar: the lidar (``laser``) or None when the URDF has none.
    """

    front: np.ndarray
    stereo: tuple[np.ndarray, np.ndarray]
    optics: CameraOptics
    lidar: np.ndarray | None = None


def load_car_mounts(folder: Path) -> CarMounts:
    """Read the car's sensor poses and camera optics from a tracks folder's ``urdf/deepracer``.

    Raises:
        ConfigError: naming the URDF or link that is missing.
    """
    urdf_dir = Path(folder) / URDF_DIR
    single = _link_poses(urdf_dir / SINGLE_CAMERA_URDF)
    stereo = _link_poses(urdf_dir / STEREO_URDF)
    lidar_urdf = urdf_dir / "deepracer_single_cam_lidar.urdf"
    lidar = _link_poses(lidar_urdf).get(LIDAR_LINK) if lidar_urdf.is_file() else None
    if FRONT_CAMERA_LINK not in single:
        raise ConfigError(f"{urdf_dir / SINGLE_CAMERA_URDF}: no link {FRONT_CAMERA_LINK} reachable from {ROOT_LINK}")
    for link in STEREO_LINKS:
        if link not in stereo:
            raise ConfigError(f"{urdf_dir / STEREO_URDF}: no link {link} reachable from {ROOT_LINK}")
    return CarMounts(front=single[FRONT_CAMERA_LINK], stereo=(stereo[STEREO_LINKS[0]], stereo[STEREO_LINKS[1]]),
                     optics=_optics(urdf_dir / GAZEBO_FILE), lidar=lidar)


def _link_poses(path: Path) -> dict[str, np.ndarray]:
    """Pose of every link reachable from base_link through the URDF's joints (at zero angles)."""
    root = _read_xml(path, "car URDF not found (the tracks folder needs the image's urdf/deepracer/)")
    children: dict[str, list[tuple[str, np.ndarray]]] = {}
    for joint in root.iter("joint"):
        parent, child = joint.find("parent"), joint.find("child")
        if parent is None or child is None:
            continue
        origin = joint.find("origin")
        xyz = origin.get("xyz", "0 0 0") if origin is not None else "0 0 0"
        rpy = origin.get("rpy", "0 0 0") if origin is not None else "0 0 0"
        children.setdefault(parent.get("link", ""), []).append((child.get("link", ""), _origin(xyz, rpy)))
    poses = {ROOT_LINK: np.eye(4)}
    stack = [ROOT_LINK]
    while stack:
        link = stack.pop()
        for child, transform in children.get(link, []):
            if child not in poses:
                poses[child] = poses[link] @ transform
                stack.append(child)
    return poses


def _read_xml(path: Path, missing: str) -> ET.Element:
    if not path.is_file():
        raise ConfigError(f"{path}: {missing}")
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise ConfigError(f"{path}: not readable XML ({exc})") from None


def _origin(xyz: str, rpy: str) -> np.ndarray:
    """URDF ``<origin xyz rpy>``."""
    return pose_matrix(*(float(v) for v in xyz.split()), *(float(v) for v in rpy.split()))


def _optics(path: Path) -> CameraOptics:
    """The first camera sensor of racecar.gazebo (all of the image's cameras share these optics)."""
    root = _read_xml(path, "not found (the camera's field of view comes from it)")
    for camera in root.iter("camera"):
        fov = camera.find("horizontal_fov")
        if fov is None or not fov.text:
            continue
        return CameraOptics(horizontal_fov=float(fov.text), width=int(camera.findtext("image/width", "640")),
                            height=int(camera.findtext("image/height", "480")),
                            near=float(camera.findtext("clip/near", "0.02")), far=float(camera.findtext("clip/far", "300")))
    raise ConfigError(f"{path}: no <camera> with a <horizontal_fov>")

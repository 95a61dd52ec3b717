"""The mesh camera: a track world's meshes, textures and lights through the car's real camera.

OpenGL through moderngl in a headless context (EGL on Linux: Mesa's llvmpipe on a CPU, the GPU's
driver where there is one; no display needed). The camera is the image's: pose from the car URDF
(``camera_link``), horizontal FOV 1.13 rad, 4:3, near clip 0.02 m (``sensor_mounts``).

Lighting is the SDF world's: the scene ambient plus each light's diffuse colour times N.L, with
the point light's attenuation, on the texture's colour (Lambert: the image's Collada materials
have no specular), clamped to [0, 1], evaluated per vertex. No shadows (the worlds turn them off). Texels with alpha
below 0.5 are cut, so line textures with transparent gaps show the road beneath. Above the
horizon and beyond the walls the frame shows a plain sky colour.

Two ways to make the observation (docs/protocol.md §3.1):

- ``exact``: what the image does. Render 640x480 RGB, resize to 160x120 with PIL's bilinear
  filter, then luminance 0.2989 R + 0.5870 G + 0.1140 B.
- default: render 160x120 and compute the luminance in the shader, reading back one byte per
  pixel (``samples`` adds multisampling). tests/sim/test_mesh_camera.py holds its mean absolute
  difference to the exact pipeline under 4 grey levels; bench/sim.py measures both.

Several mounts (the stereo pair) render side by side into one framebuffer and come back in one
read.
"""
from __future__ import annotations

import ctypes
import glob
import logging
import math
import os
import sys
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from markov.sensors import IMAGE_HEIGHT, IMAGE_WIDTH
from markov.sim.sensor_mounts import CameraOptics
from markov.sim.world import Lighting, Surface, World

log = logging.getLogger(__name__)

OBS_WIDTH, OBS_HEIGHT = IMAGE_WIDTH, IMAGE_HEIGHT  # the observation, as the camera sensor delivers it
# gz-sensors cameras render with 4x anti-aliasing by default; the exact pipeline does too. The
# fast path renders without: mipmapped textures already filter the paint, and multisampling
# would halve llvmpipe's frame rate for one grey level less of mean difference (bench/sim.py,
# tests/sim/test_mesh_camera.py).
EXACT_SAMPLES = 4
FAST_SAMPLES = 0
# A clear-day sky: what shows above the horizon and over the walls.
SKY_RGB = (0.62, 0.74, 0.87)
LUMA = (0.2989, 0.5870, 0.1140)  # Coach's ObservationRGBToYFilter
# Car frame (x forward, y left, z up) to OpenGL eye frame (x right, y up, looking down -z).
LINK_TO_EYE = np.array([[0.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [-1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]])

# Lighting is evaluated per vertex, on the CPU when the light changes (once per episode at
# most): the worlds' lights are a far sun and a point light 15 m up over flat ground, so the light
# varies too slowly across a triangle to be worth a per-pixel loop on a CPU rasteriser.
_VERTEX = """
#version 330
uniform mat4 mvp;
in vec3 in_pos;
in vec2 in_uv;
in vec3 in_light;
out vec3 v_light;
out vec2 v_uv;
void main() {
    v_light = in_light;
    v_uv = in_uv;
    gl_Position = mvp * vec4(in_pos, 1.0);
}
"""

# One fragment shader, compiled twice: with the alpha cut (line textures) and without it, since
# a shader that can discard loses the early depth test that skips hidden ground layers.
_FRAGMENT = """
#version 330
uniform sampler2D tex;
uniform bool has_texture;
uniform vec4 color;
uniform int mode;                  // 0 = RGB, 1 = luminance, 2 = label
uniform float label;
in vec3 v_light;
in vec2 v_uv;
out vec4 f_color;
void main() {
    vec4 base = color;
    if (has_texture) base *= texture(tex, v_uv);
#ifdef ALPHA_CUT
    if (base.a < 0.5) discard;
#endif
    if (mode == 2) { f_color = vec4(label, 0.0, 0.0, 1.0); return; }
    vec3 rgb = min(base.rgb * v_light, vec3(1.0));
    if (mode == 1) f_color = vec4(vec3(dot(rgb, vec3(%(luma)s))), 1.0);
    else f_color = vec4(rgb, 1.0);
}
""" % {"luma": ", ".join(str(v) for v in LUMA)}

_context = None
_context_error: str | None = None


class GLUnavailable(RuntimeError):
    """No OpenGL 3.3 context can be made here; the message says why."""


def gl_context():
    """The process's one headless OpenGL context (made on first use, ~1 s with llvmpipe).

    Raises:
        GLUnavailable: with the reason (no EGL library, no driver, an old GL).
    """
    global _context, _context_error
    if _context is not None:
        return _context
    if _context_error is not None:
        raise GLUnavailable(_context_error)
    try:
        import moderngl
    except ImportError as exc:
        _context_error = f"moderngl is not installed ({exc})"
        raise GLUnavailable(_context_error) from None
    if sys.platform.startswith("linux"):
        _isolate_mesa_llvm()
    attempts = [{"backend": "egl"}, {}] if sys.platform.startswith("linux") else [{}]
    reasons = []
    for kwargs in attempts:
        try:
            _context = moderngl.create_standalone_context(require=330, **kwargs)
            log.debug("OpenGL: %s, %s", _context.info.get("GL_RENDERER"), _context.info.get("GL_VERSION"))
            return _context
        except Exception as exc:  # glcontext raises plain Exceptions with the loader's message
            reasons.append(f"{kwargs.get('backend', 'default')}: {exc}")
    _context_error = "no OpenGL 3.3 context (" + "; ".join(reasons) + ")"
    raise GLUnavailable(_context_error)


# Mesa's software drivers, which carry their own LLVM (Mesa 22: dri/swrast_dri.so, 24+: libgallium).
MESA_DRIVERS = ("/usr/lib/*-linux-gnu/dri/swrast_dri.so", "/usr/lib/*-linux-gnu/libgallium*.so",
                "/usr/lib64/dri/swrast_dri.so", "/usr/lib64/libgallium*.so", "/usr/lib/dri/swrast_dri.so")


def _isolate_mesa_llvm() -> None:
    """Keep TensorFlow's LLVM and llvmpipe's apart in one process.

    TensorFlow exports the LLVM it is built with, and loads it globally. Mesa's llvmpipe
    links another LLVM; whichever comes second binds to the first one's symbols and crashes
    (in TF's static initialisers, or in llvmpipe's shader compiler). So TensorFlow is loaded
    first (the rollout and evaluation load it anyway), and Mesa's driver is loaded with
    RTLD_DEEPBIND, which makes it resolve its own LLVM before anything global.
    """
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        pass
    for pattern in MESA_DRIVERS:
        for path in glob.glob(pattern):
            try:
                ctypes.CDLL(path, mode=os.RTLD_LOCAL | os.RTLD_DEEPBIND | os.RTLD_NOW)
            except OSError as exc:
                log.debug("could not preload %s: %s", path, exc)


def gl_available() -> str | None:
    """None when a GL context can be made, else the one-line reason why not."""
    try:
        gl_context()
    except GLUnavailable as exc:
        return str(exc)
    return None


class MeshScene:
    """A world uploaded to the GPU (or llvmpipe): one vertex array and texture per surface.

    Args:
        world: the loaded track world.
        lighting: the light to draw with (default: the world's own).
    """

    def __init__(self, world: World, lighting: Lighting | None = None) -> None:
        import moderngl

        self.world = world
        self.ctx = gl_context()
        self._programs = {cut: self.ctx.program(vertex_shader=_VERTEX, fragment_shader=_FRAGMENT.replace(
            "#version 330", "#version 330\n#define ALPHA_CUT" if cut else "#version 330"))
            for cut in (False, True)}
        flat_layers = sum(1 for surface in world.surfaces if surface.is_flat)
        parts = []
        for index, surface in enumerate(world.surfaces):
            cut = surface.texture is not None and bool((surface.texture[:, :, 3] < 128).any())
            program = self._programs[cut]
            data = np.hstack([surface.positions, surface.uv]).astype("f4")
            light = self.ctx.buffer(reserve=len(surface.positions) * 12)
            vao = self.ctx.vertex_array(program, [(self.ctx.buffer(data.tobytes()), "3f 2f", "in_pos", "in_uv"),
                                                  (light, "3f", "in_light")],
                                        index_buffer=self.ctx.buffer(surface.faces.astype("u4").tobytes()),
                                        index_element_size=4)
            texture = None
            if surface.texture is not None:
                # Image rows run top-down; OpenGL's texture rows (and Collada's v) bottom-up.
                pixels = np.ascontiguousarray(surface.texture[::-1])
                texture = self.ctx.texture((pixels.shape[1], pixels.shape[0]), 4, pixels.tobytes())
                texture.build_mipmaps()
                texture.filter = (moderngl.LINEAR_MIPMAP_NEAREST, moderngl.LINEAR)
            # World order puts paint after the road (world.ordered); the offset pulls each later
            # ground layer towards the camera so it wins where two coincide. Drawn top layer
            # first, so the depth test rejects the road under the paint before it is shaded.
            offset = (-float(index), -4.0 * float(index)) if surface.is_flat else (0.0, 0.0)
            parts.append(_Part(surface, program, vao, texture, offset, label=index + 1, light=light))
        solid = [p for p in parts if not p.surface.is_flat]
        self._parts = solid + [p for p in parts if p.surface.is_flat][::-1]
        assert len(self._parts) == len(solid) + flat_layers
        self.set_lighting(lighting)

    @property
    def lighting(self) -> Lighting:
        return self._lighting

    def set_lighting(self, lighting: Lighting | None) -> None:
        """Draw the following frames with this light (None: the world's own).

        The hook for per-episode lighting changes (domain randomisation): build the value with
        ``world.lighting.adjusted(...)``.
        """
        lighting = lighting or self.world.lighting
        self._lighting = lighting
        for part in self._parts:
            part.light.write(vertex_light(lighting, part.surface.positions, part.surface.normals).astype("f4").tobytes())

    def camera(self, mounts: Sequence[np.ndarray], optics: CameraOptics = CameraOptics(),
               exact: bool = False, samples: int | None = None) -> "MeshCamera":
        """A camera (one mount) or a rig (several, e.g. the stereo pair) on this scene (see MeshCamera)."""
        return MeshCamera(self, mounts, optics, exact=exact, samples=samples)

    def draw(self, view_projections: Sequence[np.ndarray], width: int, height: int, mode: int) -> None:
        """Draw every surface once per view, view i into the i-th ``width`` x ``height`` tile."""
        ctx = self.ctx
        for p in self._programs.values():
            p["mode"].value = mode
        for i, vp in enumerate(view_projections):
            ctx.viewport = (i * width, 0, width, height)
            mvp = np.ascontiguousarray(vp.T, dtype="f4").tobytes()
            for p in self._programs.values():
                p["mvp"].write(mvp)
            for part in self._parts:
                ctx.polygon_offset = part.offset
                part.program["color"].value = part.surface.color
                part.program["has_texture"].value = part.texture is not None
                part.program["label"].value = part.label / 255.0
                if part.texture is not None:
                    part.texture.use(0)
                part.vao.render()
        ctx.polygon_offset = (0.0, 0.0)

    def surface_index(self, name: str) -> int:
        """Label value of a surface (1 + its index in ``world.surfaces``), as ``MeshCamera.render_labels`` reports it."""
        for part in self._parts:
            if part.surface.name == name:
                return part.label
        raise KeyError(name)


@dataclass(frozen=True)
class _Part:
    surface: Surface
    program: object
    vao: object
    texture: object
    offset: tuple[float, float]
    label: int
    light: object


def vertex_light(lighting: Lighting, positions: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """(N, 3) light reaching each vertex: ambient + sum of diffuse * intensity * attenuation * max(N.L, 0).

    The mesh's own normals are used as Gazebo uses them (the image's walls carry (0, 0, 1) too).
    """
    total = np.tile(np.asarray(lighting.ambient, dtype=np.float64), (len(positions), 1))
    n = normals.astype(np.float64)
    for light in lighting.lights:
        rgb = np.asarray(light.diffuse, dtype=np.float64) * light.intensity
        if light.kind == "directional":
            to_light = -np.asarray(light.direction, dtype=np.float64)[None, :]
            attenuation = np.ones(len(positions))
        else:
            d = np.asarray(light.position, dtype=np.float64)[None, :] - positions
            dist = np.maximum(np.linalg.norm(d, axis=1), 1e-9)
            to_light = d / dist[:, None]
            c, lin, q = light.attenuation
            attenuation = np.where(dist > light.range, 0.0, 1.0 / (c + lin * dist + q * dist * dist))
        total += rgb[None, :] * (attenuation * np.maximum((n * to_light).sum(axis=1), 0.0))[:, None]
    return total


class MeshCamera:
    """One camera, or several side by side, on a MeshScene; renders observations.

    ``render(x, y, yaw)`` has the flat Camera's interface: the car's origin (midway between the
    axles, on the ground) at (x, y) heading ``yaw`` gives a (120, 160) uint8 frame for one mount,
    (n, 120, 160) for n mounts.

    Args:
        scene: the uploaded world.
        mounts: 4x4 poses of the camera links on the car (``sensor_mounts.CarMounts``).
        optics: field of view, image size and clip planes of the image's camera.
        exact: make observations as the image does (640x480 RGB, PIL resize, luminance).
        samples: multisampling (default 0 for the fast path, 4 for the exact one).
    """

    def __init__(self, scene: MeshScene, mounts: Sequence[np.ndarray], optics: CameraOptics = CameraOptics(),
                 exact: bool = False, samples: int | None = None) -> None:
        import moderngl

        self.scene = scene
        self.mounts = [np.asarray(m, dtype=np.float64) for m in mounts]
        self.optics = optics
        self.exact = exact
        self.samples = (EXACT_SAMPLES if exact else FAST_SAMPLES) if samples is None else int(samples)
        ctx = scene.ctx
        n = len(self.mounts)
        self.projection = perspective(optics)
        w, h = (optics.width, optics.height) if exact else (OBS_WIDTH, OBS_HEIGHT)
        self._size = (w, h)
        components = 3 if exact else 1
        self._target = ctx.framebuffer(
            color_attachments=[ctx.renderbuffer((n * w, h), components, samples=self.samples)],
            depth_attachment=ctx.depth_renderbuffer((n * w, h), samples=self.samples))
        self._resolved = (ctx.framebuffer(color_attachments=[ctx.renderbuffer((n * w, h), components)])
                          if self.samples else None)
        self._labels = None
        self._components = components
        self._moderngl = moderngl

    @property
    def horizontal_fov(self) -> float:
        return self.optics.horizontal_fov

    def view_projection(self, x: float, y: float, yaw: float, index: int = 0) -> np.ndarray:
        """4x4 world -> clip matrix of mount ``index`` for a car pose (the one every frame uses)."""
        return self.projection @ LINK_TO_EYE @ np.linalg.inv(car_pose(x, y, yaw) @ self.mounts[index])

    def render(self, x: float, y: float, yaw: float, out: np.ndarray | None = None) -> np.ndarray:
        """(120, 160) uint8 luminance frame, or (n, 120, 160) for a rig of n mounts."""
        n = len(self.mounts)
        if self.exact:
            frames = self.render_rgb(x, y, yaw)
            grey = np.stack([observation_from_rgb(f) for f in frames])
        else:
            raw = self._draw(x, y, yaw, mode=1, target=self._target, resolved=self._resolved)
            grey = raw.reshape(OBS_HEIGHT, n, OBS_WIDTH).transpose(1, 0, 2)
        result = grey[0] if n == 1 else grey
        if out is not None:
            out[...] = result
            return out
        return np.ascontiguousarray(result)

    def render_rgb(self, x: float, y: float, yaw: float) -> np.ndarray:
        """(n, 480, 640, 3) uint8 camera frames as the image's camera delivers them (exact cameras only)."""
        if not self.exact:
            raise ValueError("render_rgb needs a camera made with exact=True (full 640x480 frames)")
        w, h = self._size
        raw = self._draw(x, y, yaw, mode=0, target=self._target, resolved=self._resolved)
        n = len(self.mounts)
        return raw.reshape(h, n, w, 3).transpose(1, 0, 2, 3)

    def render_labels(self, x: float, y: float, yaw: float) -> np.ndarray:
        """(n, H, W) uint8: which surface each pixel shows (``MeshScene.surface_index``), 0 = sky.

        At the camera's resolution (640x480 for an exact camera, else 160x120) and without
        multisampling, so every value is one surface's; alpha-cut texels show what lies beneath.
        """
        ctx = self.scene.ctx
        n = len(self.mounts)
        w, h = self._size
        if self._labels is None:
            self._labels = ctx.framebuffer(color_attachments=[ctx.renderbuffer((n * w, h), 1)],
                                           depth_attachment=ctx.depth_renderbuffer((n * w, h)))
        raw = self._draw(x, y, yaw, mode=2, target=self._labels, resolved=None, components=1, clear=(0.0, 0.0, 0.0))
        return raw.reshape(h, n, w).transpose(1, 0, 2)

    def _draw(self, x: float, y: float, yaw: float, mode: int, target, resolved, components=None,
              clear=None) -> np.ndarray:
        ctx = self.scene.ctx
        w, h = self._size
        components = components or self._components
        target.use()
        if clear is None:
            sky = np.asarray(SKY_RGB)
            clear = (float(sky @ np.asarray(LUMA)),) * 3 if mode == 1 else SKY_RGB
        target.clear(*clear, 1.0, depth=1.0)
        ctx.enable(self._moderngl.DEPTH_TEST)
        ctx.depth_func = "<"
        n = len(self.mounts)
        self.scene.draw([self.view_projection(x, y, yaw, i) for i in range(n)], w, h, mode)
        source = target
        if resolved is not None:
            ctx.copy_framebuffer(resolved, target)
            source = resolved
        data = source.read(components=components, alignment=1)
        return np.frombuffer(data, dtype=np.uint8)


def car_pose(x: float, y: float, yaw: float) -> np.ndarray:
    """4x4 world transform of the car's origin on the ground."""
    c, s = math.cos(yaw), math.sin(yaw)
    m = np.eye(4)
    m[:2, :2] = [[c, -s], [s, c]]
    m[:2, 3] = (x, y)
    return m


def perspective(optics: CameraOptics) -> np.ndarray:
    """OpenGL projection of the Gazebo camera, with image row 0 at the top (y flipped).

    The flip makes ``framebuffer.read`` return rows in image order, so no copy flips them.
    """
    aspect = optics.width / optics.height
    fx = 1.0 / math.tan(optics.horizontal_fov / 2.0)
    fy = fx * aspect
    n, f = optics.near, optics.far
    return np.array([[fx, 0.0, 0.0, 0.0],
                     [0.0, -fy, 0.0, 0.0],
                     [0.0, 0.0, (f + n) / (n - f), 2.0 * f * n / (n - f)],
                     [0.0, 0.0, -1.0, 0.0]])


def project(view_projection: np.ndarray, points: np.ndarray, width: int = OBS_WIDTH,
            height: int = OBS_HEIGHT) -> tuple[np.ndarray, np.ndarray]:
    """Pixel coordinates (column, row; row 0 at the top) of world points, and which lie in front of the camera."""
    p = np.c_[points, np.ones(len(points))] @ view_projection.T
    w = p[:, 3]
    front = w > 1e-6
    ndc = p[:, :2] / np.where(front, w, 1.0)[:, None]
    col = (ndc[:, 0] + 1.0) * 0.5 * width
    row = (ndc[:, 1] + 1.0) * 0.5 * height  # the projection's y is flipped: +1 is the bottom row
    return np.c_[col, row], front


def observation_from_rgb(frame: np.ndarray) -> np.ndarray:
    """The image's camera observation: 640x480 RGB -> PIL bilinear 160x120 -> luminance, uint8."""
    from PIL import Image

    small = np.asarray(Image.fromarray(frame).resize((OBS_WIDTH, OBS_HEIGHT), resample=Image.BILINEAR),
                       dtype=np.float64)
    return np.clip(np.rint(small @ np.asarray(LUMA)), 0, 255).astype(np.uint8)

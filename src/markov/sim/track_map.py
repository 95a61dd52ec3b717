"""The ground as an image: a raster of surface classes, drawn once per track.

Rendering a camera then costs one gather per pixel instead of geometry per pixel, and the
wheels-on-track test is a lookup. Classes are road, white border line (painted on the road along
both edges), dashed centre line, and off-track ground. The road is everything between the inner
and outer border, as in the image's ``road_poly``, border lines included.
"""
from __future__ import annotations

import numpy as np

from markov.sim.track import Track

OFF_TRACK, ROAD, BORDER_LINE, CENTER_LINE = 0, 1, 2, 3

# Grey levels (the Y of the image's RGB->Y filter) of each class: dark tarmac, white paint,
# the yellow centre dashes, and a mid-grey floor off the track.
SHADES = np.array([105, 48, 235, 185], dtype=np.uint8)
SKY_SHADE = 165

BORDER_LINE_WIDTH = 0.05
CENTER_LINE_WIDTH = 0.04
DASH_LENGTH = 0.15
DASH_GAP = 0.15


class TrackMap:
    """Surface classes of a track on a regular grid.

    Args:
        track: the track to draw.
        resolution: metres per cell (0.01 = 1 cm).
        margin: off-track ground drawn around the track's bounding box, metres. Anything beyond
            is looked up as the nearest edge cell, which is off-track ground too.

    Attributes:
        surface: (H, W) uint8 class per cell; row 0 is ``origin_y``, column 0 is ``origin_x``.
        shade: (H, W) uint8 grey level per cell (``SHADES[surface]``).
    """

    def __init__(self, track: Track, resolution: float = 0.01, margin: float = 1.0) -> None:
        xmin, ymin, xmax, ymax = track.bounds()
        self.track = track
        self.resolution = float(resolution)
        self.origin_x = xmin - margin
        self.origin_y = ymin - margin
        self.width = int(np.ceil((xmax - xmin + 2 * margin) / resolution)) + 1
        self.height = int(np.ceil((ymax - ymin + 2 * margin) / resolution)) + 1

        if track.is_loop:
            road = _fill_even_odd([track.outer, track.inner], self)
        else:
            road = _fill_even_odd([np.vstack([track.outer, track.inner[::-1]])], self)
        surface = road.astype(np.uint8) * ROAD
        borders = self._stamp(track.inner, BORDER_LINE_WIDTH) | self._stamp(track.outer, BORDER_LINE_WIDTH)
        surface[borders & road] = BORDER_LINE
        surface[self._stamp(track.center, CENTER_LINE_WIDTH / 2.0, dashed=True) & road] = CENTER_LINE
        self.surface = surface
        self.shade = SHADES[surface]
        self._on_track_flat = (surface != OFF_TRACK).ravel()

    def cells(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Row and column of world points, clamped to the map."""
        col = np.clip(((np.asarray(x) - self.origin_x) / self.resolution).astype(np.int64), 0, self.width - 1)
        row = np.clip(((np.asarray(y) - self.origin_y) / self.resolution).astype(np.int64), 0, self.height - 1)
        return row, col

    def on_track(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Whether each point lies on the road (between the borders)."""
        row, col = self.cells(x, y)
        return self._on_track_flat[row * self.width + col]

    def _stamp(self, polyline: np.ndarray, radius: float, dashed: bool = False) -> np.ndarray:
        """Cells within ``radius`` of a polyline (optionally only its dashes)."""
        step = self.resolution / 2.0
        seg = np.diff(polyline, axis=0)
        seg_len = np.hypot(seg[:, 0], seg[:, 1])
        cum = np.concatenate([[0.0], np.cumsum(seg_len)])
        s = np.arange(0.0, cum[-1], step)
        if dashed:
            s = s[np.mod(s, DASH_LENGTH + DASH_GAP) < DASH_LENGTH]
        px = np.interp(s, cum, polyline[:, 0])
        py = np.interp(s, cum, polyline[:, 1])
        # Keep the cells whose centres lie within the radius of the exact sample point, so a
        # line is as wide on either side of its polyline (no rounding bias).
        r = int(np.ceil(radius / self.resolution)) + 1
        oy, ox = (a.ravel() for a in np.mgrid[-r:r + 1, -r:r + 1])
        row, col = self.cells(px, py)
        rows = row[:, None] + oy[None, :]
        cols = col[:, None] + ox[None, :]
        cx = self.origin_x + (cols + 0.5) * self.resolution
        cy = self.origin_y + (rows + 0.5) * self.resolution
        inside = (cx - px[:, None]) ** 2 + (cy - py[:, None]) ** 2 <= (radius - 1e-9) ** 2
        rows = np.clip(rows[inside], 0, self.height - 1)
        cols = np.clip(cols[inside], 0, self.width - 1)
        mask = np.zeros((self.height, self.width), dtype=bool)
        mask[rows, cols] = True
        return mask


def _fill_even_odd(rings: list[np.ndarray], grid: TrackMap) -> np.ndarray:
    """Cells whose centres lie inside the rings under the even-odd rule (scan-line fill)."""
    edges_a = np.vstack([ring for ring in rings])
    edges_b = np.vstack([np.roll(ring, -1, axis=0) for ring in rings])
    x0, y0 = edges_a[:, 0], edges_a[:, 1]
    x1, y1 = edges_b[:, 0], edges_b[:, 1]
    res = grid.resolution
    inside = np.zeros((grid.height, grid.width), dtype=bool)
    chunk = max(1, 2_000_000 // max(len(x0), 1))
    for start in range(0, grid.height, chunk):
        rows = np.arange(start, min(start + chunk, grid.height))
        yc = grid.origin_y + (rows + 0.5) * res
        ycol = yc[:, None]
        crosses = ((y0 <= ycol) & (ycol < y1)) | ((y1 <= ycol) & (ycol < y0))
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x0 + (ycol - y0) * (x1 - x0) / (y1 - y0)
        r_idx, e_idx = np.nonzero(crosses)
        cols = np.ceil((xc[r_idx, e_idx] - grid.origin_x) / res - 0.5).astype(np.int64)
        cols = np.clip(cols, 0, grid.width)
        toggles = np.zeros((len(rows), grid.width + 1), dtype=np.int32)
        np.add.at(toggles, (r_idx, cols), 1)
        inside[rows] = (np.cumsum(toggles, axis=1)[:, :grid.width] & 1).astype(bool)
    return inside

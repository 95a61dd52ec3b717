"""Track worlds for the simulator's tests: one generated here, and the image's two when ../shared has them."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from world_builder import NAME, build_world  # noqa: E402

FIXTURE_TRACKS = Path(__file__).resolve().parents[2].parent / "shared" / "fixtures" / "tracks"
IMAGE_TRACKS = ("reInvent2019_track", "Oval_track")


@pytest.fixture(scope="session")
def small_world_dir(tmp_path_factory) -> Path:
    """A tracks folder in the image's layout holding one generated track, ``test_loop``."""
    return build_world(tmp_path_factory.mktemp("tracks"))


@pytest.fixture(scope="session")
def small_world_name() -> str:
    return NAME


@pytest.fixture(scope="session")
def fixture_tracks() -> Path:
    """../shared/fixtures/tracks (the image's reInvent2019_track and Oval_track); skips when absent."""
    if not (FIXTURE_TRACKS / "worlds").is_dir():
        pytest.skip(f"{FIXTURE_TRACKS} not present (a fresh clone has no ../shared; CI has it)")
    return FIXTURE_TRACKS


@pytest.fixture(scope="session")
def gl():
    """Skip where no OpenGL context can be made (CI installs Mesa's EGL, see .ci/run)."""
    from markov.sim.mesh_camera import gl_available

    reason = gl_available()
    if reason is not None:
        pytest.skip(reason)

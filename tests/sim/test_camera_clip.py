"""evaluate --camera-gif: an animated GIF of the very observations the policy got in lap 1; bad values are one line."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

from markov.cli.main import main
from markov.export import archives
from markov.export.frozen_graph import freeze_session, load_frozen_graph
from markov.model_metadata import parse_model_metadata
from markov.sim.env import DeepRacerEnv
from markov.sim.evaluation import choose_action

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from policy_graphs import build_policy  # noqa: E402  (the export tests' small image-named graphs)

ACTIONS = [{"steering_angle": 0, "speed": 1.0}, {"steering_angle": 20, "speed": 0.8}]


def car(tmp_path_factory, sensor: str) -> tuple[Path, dict]:
    metadata = {"action_space": ACTIONS, "sensor": [sensor], "version": "5"}
    policy = build_policy(metadata)
    frozen = freeze_session(policy.session, policy.metadata)
    path = tmp_path_factory.mktemp("car") / "model.tar.gz"
    archives.write_archive(path, archives.car_archive_files(frozen, json.dumps(metadata).encode()))
    return path, metadata


@pytest.fixture(scope="module")
def camera_car(tmp_path_factory):
    return car(tmp_path_factory, "FRONT_FACING_CAMERA")


@pytest.fixture(scope="module")
def stereo_car(tmp_path_factory):
    return car(tmp_path_factory, "STEREO_CAMERAS")


def observations_the_policy_got(archive: Path, metadata: dict, count: int, **env_options) -> list[np.ndarray]:
    """Lap 1 driven again outside evaluate, as it drives it: the first ``count`` observations fed to the model."""
    sensor = metadata["sensor"][0]
    parsed = parse_model_metadata(metadata)
    env = DeepRacerEnv(parsed, start_position="fixed", **env_options)
    seen = []
    with load_frozen_graph(archives.read_archive(archive)["agent/model.pb"]) as model:
        observation, _ = env.reset()
        done = False
        while not done and len(seen) < count:
            seen.append(observation[sensor])
            observation, _, terminated, truncated, _ = env.step(choose_action(model.predict(observation), parsed))
            done = terminated or truncated
    env.close()
    return seen


def gif_frames(path: Path) -> tuple[list[np.ndarray], int]:
    """The GIF's frames as grey arrays, and its total play time in ms."""
    with Image.open(path) as gif:
        frames = [(np.asarray(frame.convert("L")), frame.info["duration"]) for frame in ImageSequence.Iterator(gif)]
    return [f for f, _ in frames], sum(d for _, d in frames)


def still_frames_dropped(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A GIF stores a frame that repeats the one before as a longer delay of that one (Pillow's writer)."""
    return [f for i, f in enumerate(frames) if i == 0 or not np.array_equal(f, frames[i - 1])]


def test_the_gif_beside_laps_png_holds_the_observations_the_policy_got(camera_car, tmp_path, capsys):
    archive, metadata = camera_car
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(archive), "--laps", "1", "--max-steps", "60", "--out-dir", str(out),
                 "--camera-gif", "--gif-seconds", "1"]) == 0
    (evaluation,) = out.glob("evaluation-*")
    clip = evaluation / "camera.gif"
    assert str(clip) in capsys.readouterr().out.splitlines()[-1]  # the "Wrote ..." line
    frames, played_ms = gif_frames(clip)
    seen = observations_the_policy_got(archive, metadata, 15)
    assert len(seen) == 15  # the lap lasted longer than the clip
    expected = still_frames_dropped([np.repeat(np.repeat(o[:, :, 0], 2, axis=0), 2, axis=1) for o in seen])
    assert frames[0].shape == (240, 320)
    assert len(frames) == len(expected) >= 12  # the car moves: nearly every step is a new picture
    assert np.array_equal(frames[0][::2, ::2], seen[0][:, :, 0])  # the first observation, pixel for pixel
    assert all(np.array_equal(got, want) for got, want in zip(frames, expected))
    assert not np.array_equal(frames[0], frames[-1])
    assert abs(played_ms - 1000) <= 10  # 15 frames at the camera's 15 Hz


def test_stereo_frames_sit_side_by_side_and_the_clip_stops_with_the_lap(stereo_car, tmp_path):
    archive, metadata = stereo_car
    clip = tmp_path / "clips" / "stereo.gif"
    assert main(["evaluate", "--model", str(archive), "--laps", "1", "--max-steps", "60", "--out-dir",
                 str(tmp_path / "eval"), "--camera-gif", str(clip), "--gif-seconds", "30"]) == 0
    frames, played_ms = gif_frames(clip)
    seen = observations_the_policy_got(archive, metadata, 30 * 15)
    assert len(seen) < 60  # the untrained car leaves the track long before 30 s: the clip is the whole lap
    assert frames[0].shape == (240, 640)
    assert np.array_equal(frames[0][::2, :320:2], seen[0][:, :, 0]) and np.array_equal(frames[0][::2, 320::2], seen[0][:, :, 1])
    assert len(frames) == len(still_frames_dropped([np.concatenate([o[:, :, 0], o[:, :, 1]], axis=1) for o in seen]))
    assert abs(played_ms - len(seen) * 1000 / 15) <= 10


def test_the_mesh_worlds_camera_view(gl, camera_car, small_world_dir, small_world_name, tmp_path):
    archive, metadata = camera_car
    clip = tmp_path / "mesh.gif"
    assert main(["evaluate", "--model", str(archive), "--laps", "1", "--max-steps", "30", "--out-dir", str(tmp_path / "eval"),
                 "--track", small_world_name, "--tracks-dir", str(small_world_dir), "--camera-gif", str(clip)]) == 0
    frames, _ = gif_frames(clip)
    seen = observations_the_policy_got(archive, metadata, 1, track=small_world_name, tracks_dir=small_world_dir)
    assert np.array_equal(frames[0][::2, ::2], seen[0][:, :, 0]) and len(frames) > 1


@pytest.mark.parametrize("flags, says", [
    (["--gif-seconds", "-1"], "--gif-seconds -1: must be more than 0"),
    (["--camera-gif", "--gif-seconds", "0"], "--gif-seconds 0: must be more than 0"),
    (["--camera-gif", "{tmp}/a-file/clip.gif"], "a-file is a file, not a folder"),
    (["--camera-gif", "{tmp}"], "is a folder; give a file name"),
    (["--camera-gif", "{tmp}/clip.mp4"], "give a name ending in .gif"),
])
def test_bad_values_are_one_line_before_any_lap(camera_car, tmp_path, capsys, flags, says):
    (tmp_path / "a-file").write_text("in the way")
    flags = [flag.replace("{tmp}", str(tmp_path)) for flag in flags]
    out = tmp_path / "eval"
    assert main(["evaluate", "--model", str(camera_car[0]), "--out-dir", str(out), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not list(out.glob("evaluation-*"))  # refused before driving


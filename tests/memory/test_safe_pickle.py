"""The restricted unpickler: the image's payloads decode, payloads that run code are refused unexecuted."""
from __future__ import annotations

import builtins
import os
import pickle
import subprocess
import sys
from collections import deque
from pathlib import Path

import numpy as np
import pytest

from fixture_files import EPISODES
from markov.memory.safe_pickle import LazyStack, UnsafePayloadError, safe_loads


class Reduces:
    """Pickles as ``callable(*args)``: what a hostile publisher would send."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def hostile_payloads(target: Path) -> dict[str, bytes]:
    """Each payload, if unpickled by plain ``pickle.loads``, creates ``target``."""
    code = f"open({str(target)!r}, 'w').close()"
    attacks = {
        "os.system": Reduces(os.system, f"touch '{target}'"),
        "subprocess": Reduces(subprocess.check_call, [sys.executable, "-c", code]),
        "eval": Reduces(eval, code),
        "builtins.exec": Reduces(builtins.exec, code),
        "numpy.savetxt": Reduces(np.savetxt, str(target), np.zeros(2)),
        "ndarray.tofile via getattr": Reduces(np.zeros(2).tofile, str(target)),
    }
    # Wrapped as data messages, so they look like (index, Episode) replies.
    return {name: pickle.dumps((0, attack), protocol=4) for name, attack in attacks.items()}


@pytest.mark.parametrize("name", list(hostile_payloads(Path("x"))))
def test_hostile_payload_is_refused_and_runs_nothing(tmp_path, name):
    control, target = tmp_path / "control", tmp_path / "target"
    pickle.loads(hostile_payloads(control)[name])  # plain pickle does run it
    assert control.exists()
    with pytest.raises(UnsafePayloadError, match="is not allowed"):
        safe_loads(hostile_payloads(target)[name])
    assert not target.exists()


@pytest.mark.parametrize("name", ["front_facing_camera", "front_facing_camera_lidar", "stereo_cameras",
                                  "stereo_cameras_lidar"])
def test_image_sample_transitions_decode(name):
    transition = safe_loads((EPISODES / f"{name}.pkl").read_bytes())["agent"]
    assert transition.reward == 1.0 and not transition.game_over
    assert sum(transition.info["all_action_probabilities"]) == pytest.approx(1.0, abs=1e-3)
    camera = transition.state.get("FRONT_FACING_CAMERA", transition.state.get("STEREO_CAMERAS"))
    frames = np.asarray(camera)
    assert frames.dtype == np.uint8 and frames.shape[:2] == (120, 160)


def test_image_episode_frames_stay_uint8_lazy_stacks():
    _, episode = safe_loads((EPISODES / "episode_message_camera.pkl").read_bytes())
    observation = episode.transitions[0].state["FRONT_FACING_CAMERA"]
    assert type(observation).__name__ == "LazyStack" and isinstance(observation.history, deque)
    assert observation.history[0].dtype == np.uint8
    assert np.asarray(observation).shape == (120, 160, 1)
    assert np.asarray(observation, dtype=np.float32).dtype == np.float32


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_numpy_values_decode_under_every_pickle_protocol(protocol):
    values = {"frame": np.arange(12, dtype=np.uint8).reshape(3, 4), "action": np.int64(3), "p": np.float32(0.5),
              "flag": np.bool_(True), "lidar": np.linspace(0.15, 1.0, 64), "set": {1, 2}, "raw": b"\x00\xff"}
    decoded = safe_loads(pickle.dumps(values, protocol=protocol))
    assert decoded.keys() == values.keys()
    for key, value in values.items():
        assert np.array_equal(decoded[key], value) if isinstance(value, np.ndarray) else decoded[key] == value
    assert decoded["frame"].dtype == np.uint8


def test_codecs_encode_only_for_latin1():
    latin1 = pickle.dumps(Reduces(__import__("_codecs").encode, "\xff", "latin1"), protocol=2)
    assert safe_loads(latin1) == b"\xff"
    zipped = pickle.dumps(Reduces(__import__("_codecs").encode, b"x", "zlib_codec"), protocol=2)
    with pytest.raises(UnsafePayloadError, match="zlib_codec"):
        safe_loads(zipped)


def test_stand_in_lazy_stack_repickles_as_a_plain_array():
    stack = LazyStack(deque([np.ones((2, 3), np.uint8)], maxlen=1), axis=-1)
    restored = safe_loads(pickle.dumps(stack))
    assert isinstance(restored, np.ndarray) and restored.shape == (2, 3, 1) and restored.dtype == np.uint8

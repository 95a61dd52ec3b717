"""DeepRacer-v0: Gymnasium's own checker, the vector API, seeding, and the spaces of each sensor kind."""
from __future__ import annotations

import json
import warnings

import gymnasium
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import markov.sim  # noqa: F401 -- registers DeepRacer-v0
from markov.sim.gym_env import ENV_ID
from markov.sim.randomization import PRESET

CAMERA = "FRONT_FACING_CAMERA"


def write_metadata(tmp_path, sensors, continuous: bool):
    if continuous:
        action_space = {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 2.0}}
    else:
        action_space = [{"steering_angle": a, "speed": 1.0} for a in (-20, 0, 20)]
    path = tmp_path / "model_metadata.json"
    path.write_text(json.dumps({"action_space": action_space, "sensor": sensors,
                                "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                                "training_algorithm": "sac" if continuous else "clipped_ppo",
                                "action_space_type": "continuous" if continuous else "discrete",
                                "version": "5"}))
    return path


def test_check_env_passes_with_the_defaults_and_without_warnings():  # warnings would be errors
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(gymnasium.make(ENV_ID).unwrapped)
        check_env(gymnasium.make(ENV_ID, render_mode="rgb_array", randomization=PRESET).unwrapped)


@pytest.mark.parametrize("sensors, continuous", [
    (["STEREO_CAMERAS", "LIDAR"], True),
    (["FRONT_FACING_CAMERA", "SECTOR_LIDAR"], False),
])
def test_check_env_passes_for_other_sensors_and_action_spaces(tmp_path, sensors, continuous):
    env = gymnasium.make(ENV_ID, model_metadata=write_metadata(tmp_path, sensors, continuous), track="twisty")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)
    assert set(env.observation_space.spaces) == set(sensors)
    if continuous:
        assert env.action_space == gymnasium.spaces.Box(-1.0, 1.0, shape=(2,), dtype=np.float32)
        env.reset(seed=0)
        env.step(np.array([0.0, 0.0], dtype=np.float32))  # the prepare step
        params = env.step(np.array([-1.0, 1.0], dtype=np.float32))[4]["reward_params"]
        assert (params["steering_angle"], params["speed"]) == (-30.0, 2.0)  # the JSON's bounds
    else:
        assert env.action_space == gymnasium.spaces.Discrete(3)


def test_the_module_prefixed_id_imports_markov_sim_itself():
    env = gymnasium.make("markov.sim:DeepRacer-v0", track="oval", max_steps=30)
    observation, _ = env.reset(seed=0)
    assert observation[CAMERA].shape == (120, 160, 1) and observation[CAMERA].dtype == np.uint8


def test_seeded_reset_repeats_after_episodes_were_played():
    env = gymnasium.make(ENV_ID, max_steps=8, randomization=PRESET)
    first, info = env.reset(seed=123)
    for _ in range(3):
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            done = terminated or truncated
        env.reset()
    again, info_again = env.reset(seed=123)
    assert np.array_equal(first[CAMERA], again[CAMERA])
    assert info["start_ndist"] == info_again["start_ndist"] and info_again["episode_number"] == 0
    other, info_other = env.reset(seed=124)
    assert info_other["start_ndist"] != info["start_ndist"]


def test_vector_env_steps_n_environments_that_start_apart():
    envs = gymnasium.make_vec(ENV_ID, num_envs=3, max_steps=10)
    try:
        assert isinstance(envs, gymnasium.vector.SyncVectorEnv)
        observations, infos = envs.reset(seed=7)
        assert observations[CAMERA].shape == (3, 120, 160, 1)
        assert len(set(infos["start_ndist"].tolist())) == 3  # seeds 7, 8, 9
        finished = np.zeros(3, dtype=bool)
        for _ in range(12):
            observations, rewards, terminated, truncated, infos = envs.step(np.array([2, 2, 2]))
            assert rewards.shape == (3,) and observations[CAMERA].shape == (3, 120, 160, 1)
            finished |= terminated | truncated
        assert finished.all()  # every one reached its 10-step limit (or left the track) and was reset
    finally:
        envs.close()


def test_async_vector_env_matches_the_sync_one():
    sync = gymnasium.make_vec(ENV_ID, num_envs=2, max_steps=10)
    parallel = gymnasium.make_vec(ENV_ID, num_envs=2, max_steps=10, asynchronous=True)
    try:
        assert isinstance(parallel, gymnasium.vector.AsyncVectorEnv)
        a, _ = sync.reset(seed=3)
        b, _ = parallel.reset(seed=3)
        for _ in range(4):
            a, ra, *_ = sync.step(np.array([1, 3]))
            b, rb, *_ = parallel.step(np.array([1, 3]))
        assert np.array_equal(a[CAMERA], b[CAMERA]) and np.array_equal(ra, rb)
    finally:
        sync.close()
        parallel.close()


def test_episode_statistics_wrappers_can_add_their_episode_key():
    env = gymnasium.wrappers.RecordEpisodeStatistics(gymnasium.make(ENV_ID, max_steps=12))
    env.reset(seed=0)
    done, total = False, 0.0
    while not done:
        _, reward, terminated, truncated, info = env.step(2)
        total += reward
        done = terminated or truncated
    assert info["episode"]["l"] == 12 and info["episode"]["r"] == pytest.approx(total)


def test_render_gives_the_front_camera_as_rgb():
    env = gymnasium.make(ENV_ID, render_mode="rgb_array")
    observation, _ = env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (120, 160, 3) and frame.dtype == np.uint8
    assert np.array_equal(frame[:, :, 0], observation[CAMERA][:, :, 0])


def test_an_image_track_world_through_the_mesh_camera(small_world_dir, small_world_name, gl):
    env = gymnasium.make(ENV_ID, track=small_world_name, tracks_dir=small_world_dir, renderer="mesh",
                         randomization=PRESET)
    assert env.unwrapped.sim.renderer == "mesh"
    check_env(env.unwrapped)


@pytest.mark.slow  # each spawned process loads TensorFlow before Mesa (markov.sim.mesh_camera)
def test_async_mesh_environments_after_a_gl_context_in_this_process(small_world_dir, small_world_name, gl):
    # This process has a GL context (the fixture made one): forked children would deadlock in it.
    envs = gymnasium.make_vec(ENV_ID, num_envs=2, asynchronous=True, track=small_world_name,
                              tracks_dir=small_world_dir, renderer="mesh", max_steps=5)
    try:
        observations, _ = envs.reset(seed=0)
        for _ in range(3):
            observations, rewards, *_ = envs.step(np.array([2, 2]))
        assert observations[CAMERA].shape == (2, 120, 160, 1) and observations[CAMERA].std() > 0
    finally:
        envs.close()


def test_the_tracks_folder_comes_from_deepracer_tracks_when_not_given(small_world_dir, small_world_name, monkeypatch):
    monkeypatch.setenv("DEEPRACER_TRACKS", str(small_world_dir))
    env = gymnasium.make(ENV_ID, track=small_world_name, renderer="flat")
    assert env.unwrapped.sim.world is not None and env.unwrapped.sim.world.name == small_world_name

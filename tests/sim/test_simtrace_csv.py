"""Simtrace rows parse with the columns deepracer-utils reads."""
import csv

import pandas as pd

from markov.sim.env import DeepRacerEnv
from markov.sim.simtrace import SIMTRACE_COLUMNS

HEADER = ("episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,"
          "closest_waypoint,track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,wall_clock")


def test_rows_parse_with_the_expected_columns(tmp_path):
    import time

    started = time.time()
    path = tmp_path / "0-iteration.csv"
    env = DeepRacerEnv(track="oval", simtrace=path, max_steps=30)
    steps = 0
    for _ in range(2):
        env.reset()
        done = False
        while not done:
            _, _, terminated, truncated, _ = env.step(0)  # steer hard left at 0.8 m/s
            steps += 1
            done = terminated or truncated
    env.close()
    assert path.read_text().splitlines()[0] == HEADER == ",".join(SIMTRACE_COLUMNS)
    df = pd.read_csv(path)
    assert list(df.columns) == list(SIMTRACE_COLUMNS) and len(df) == steps
    assert df["episode"].tolist()[0] == 0 and sorted(df["episode"].unique()) == [0, 1]
    for column in ("X", "Y", "yaw", "steer", "throttle", "reward", "progress", "track_len", "tstamp", "pause_duration"):
        assert pd.api.types.is_float_dtype(df[column]), column
    assert df["steps"].dtype.kind == "i" and df["closest_waypoint"].dtype.kind == "i"
    assert set(df["done"]) == {True, False} and df["all_wheels_on_track"].dtype == bool
    assert df["episode_status"].iloc[0] == "prepare"
    assert set(df["episode_status"]) <= {"prepare", "in_progress", "off_track", "reversed", "lap_complete", "time_up"}
    last = df.groupby("episode").tail(1)
    assert last["done"].all() and set(last["episode_status"]) <= {"off_track", "reversed", "time_up"}
    assert (df["tstamp"].diff().dropna() > 0).all()
    assert df["action"].tolist()[0] == 0 and df["steer"].iloc[0] == -30.0
    # The image's two last columns: no obstacles here; the host's Unix time at each step.
    assert len(df.columns) == 19 and (df["obstacle_crash_counter"] == 0).all()
    assert started - 1 <= df["wall_clock"].min() and df["wall_clock"].max() <= time.time() + 1
    assert (df["wall_clock"].diff().dropna() >= 0).all()


def test_continuous_actions_are_written_as_the_image_writes_them(tmp_path):
    from markov.model_metadata import parse_model_metadata
    meta = parse_model_metadata({
        "action_space": {"steering_angle": {"low": -30, "high": 30}, "speed": {"low": 0.5, "high": 1}},
        "action_space_type": "continuous", "sensor": ["FRONT_FACING_CAMERA"], "version": "5"})
    path = tmp_path / "trace.csv"
    env = DeepRacerEnv(meta, track="oval", simtrace=path, max_steps=2)
    env.reset()
    env.step([5.0, 0.75])
    env.close()
    rows = list(csv.DictReader(path.open()))
    assert rows[0]["action"] == "[5.0 0.75]"

"""A broken reward function stops with the file, the line and the params that broke it."""
import math

import pytest

from markov.errors import ConfigError
from markov.sim.env import DeepRacerEnv
from markov.sim.reward_function import RewardFunctionError, load_reward_function

PARAMS = {"x": 1.0, "y": 2.0, "progress": 5.0, "steps": 3, "speed": 1.0, "all_wheels_on_track": True}


def write(tmp_path, body):
    path = tmp_path / "reward.py"
    path.write_text(body)
    return path


def test_exception_names_file_line_and_params(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    speed = params['speed']\n    return speed / 0\n")
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(path)(dict(PARAMS))
    err = caught.value
    message = str(err)
    assert f"{path}:3:" in message and "ZeroDivisionError" in message and "\n" not in message
    assert "progress=5" in message
    assert err.line == 3 and err.params["x"] == 1.0 and isinstance(err, ConfigError)


@pytest.mark.parametrize("body, needle, line", [
    ("def reward_function(params):\n    if params['x'] > 0:\n        return 'high'\n    return 1.0\n", "'high'", 3),
    ("def reward_function(params):\n    return None\n", "None", 2),
    ("def reward_function(params):\n    x = 1\n    return float('nan')\n", "nan", 3),
    ("def reward_function(params):\n    return math.inf\nimport math\n", "inf", 2),
    ("def reward_function(params):\n    return 1e6\n", "[-1e5, 1e5]", 2),
])
def test_bad_return_values_name_the_returning_line(tmp_path, body, needle, line):
    path = write(tmp_path, body)
    with pytest.raises(RewardFunctionError) as caught:
        load_reward_function(path)(dict(PARAMS))
    assert needle in str(caught.value) and caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}:")


def test_numbers_of_any_kind_are_accepted():
    import numpy as np
    assert load_reward_function(lambda p: np.float32(0.5))(PARAMS) == 0.5
    assert load_reward_function(lambda p: 2)(PARAMS) == 2.0


@pytest.mark.parametrize("body, needle", [
    ("def reward_function(params)\n    return 1\n", ":1: syntax error"),
    ("import no_such_module_here\n", "ModuleNotFoundError"),
    ("def reward(params):\n    return 1\n", "defines no function 'reward_function(params)'"),
])
def test_files_that_cannot_load_name_the_problem(tmp_path, body, needle):
    path = write(tmp_path, body)
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        load_reward_function(path)


def test_missing_file():
    with pytest.raises(ConfigError, match="not found"):
        load_reward_function("/no/such/reward.py")


def test_the_environment_stops_on_a_failing_reward(tmp_path):
    path = write(tmp_path, "def reward_function(params):\n    return 1.0 if params['steps'] < 4 else math.nan\nimport math\n")
    env = DeepRacerEnv(track="oval", reward_function=path)
    env.reset()
    rewards = [env.step(2)[1] for _ in range(3)]
    assert rewards == [0.0, 1.0, 1.0]
    with pytest.raises(RewardFunctionError) as caught:
        env.step(2)
    assert caught.value.params["steps"] == 4 and math.isfinite(caught.value.params["x"])

"""Activation of markov.compat in fresh interpreters: TF2-ready rl_coach left alone, gym absent."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from markov.compat.coach_finder import coach_needs_bridge

SRC = Path(__file__).resolve().parents[2] / "src"


def _fake_coach(root: Path, head_source: str) -> Path:
    heads = root / "rl_coach" / "architectures" / "tensorflow_components" / "heads"
    heads.mkdir(parents=True)
    for package in (root / "rl_coach", heads.parent.parent, heads.parent, heads):
        (package / "__init__.py").write_text("")
    (heads / "ppo_head.py").write_text(head_source)
    return root / "rl_coach"


def _python(code: str, *path_entries: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(p) for p in (*path_entries, SRC)),
               TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_bridge_is_needed_exactly_when_tensorflow_components_use_tf_contrib(tmp_path):
    upstream = _fake_coach(tmp_path / "upstream", "import tensorflow as tf\nd = tf.contrib.distributions\n")
    fork = _fake_coach(tmp_path / "fork", "import tensorflow as tf\nd = tf.compat.v1.distributions\n")
    assert coach_needs_bridge(str(upstream)) is True
    assert coach_needs_bridge(str(fork)) is False
    assert coach_needs_bridge(None) is False


@pytest.mark.slow
def test_a_tf2_ready_rl_coach_is_left_alone(tmp_path):
    _fake_coach(tmp_path, "import tensorflow as tf\nd = tf.compat.v1.distributions\n")
    result = _python("""
        import sys
        import markov.compat
        import rl_coach.architectures.tensorflow_components.heads.ppo_head as head
        import tensorflow as tf
        assert not markov.compat.is_active()
        assert not any(type(f).__name__ == "CoachFinder" for f in sys.meta_path)
        assert head.tf is tf and tf.executing_eagerly()
        print("left alone", head.__file__)
    """, tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"left alone {tmp_path}" in result.stdout


@pytest.mark.slow
def test_coach_graph_modules_import_without_gym_and_gym_stays_absent_for_others():
    result = _python("""
        import importlib.abc, sys

        class NoGym(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name == "gym" or name.startswith("gym."):
                    raise ModuleNotFoundError(f"No module named {name!r}", name=name)

        sys.meta_path.insert(0, NoGym())
        import markov.compat
        from markov.compat.optional_modules import DeferredModule
        import rl_coach.environments.gym_environment as gym_environment
        from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters
        from rl_coach.agents.soft_actor_critic_agent import SoftActorCriticAgentParameters
        from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
        assert isinstance(gym_environment.gym, DeferredModule)
        try:
            gym_environment.gym.make("CartPole-v0")
        except ImportError as error:
            assert "'gym' could not be imported" in str(error), error
        else:
            raise AssertionError("a gym stand-in must fail when used")
        try:
            import gym
        except ImportError:
            print("gym absent for others")
    """)
    assert result.returncode == 0, result.stderr
    assert "gym absent for others" in result.stdout

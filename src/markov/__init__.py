"""DeepRacer training package: Coach graphs, S3/local store, Redis episodes, simulator, export.

Importing ``markov`` is cheap: TensorFlow and the Coach bridge load only when a submodule that
needs them (``markov.compat``, ``markov.graph``, ``markov.export``) is imported.
"""
import importlib.util as _importlib_util

if _importlib_util.find_spec("rl_coach") is None:  # pragma: no cover - depends on the environment
    raise ImportError(
        "rl_coach is not installed; install it with: "
        "python -m pip install --no-deps rl-coach==1.0.1  (see README.md, 'Set-up')"
    )

__version__ = "0.1.0"

"""Run rl-coach 1.0.1 (written for TensorFlow 1.x, Python 3.6) on TensorFlow 2 and current Python.

``import markov.compat`` is the one switch: it calls ``install()``, which is idempotent.

What it does, and to whom:

- TensorFlow runs in TF1 graph mode for the whole process (``tf.compat.v1.disable_v2_behavior()``):
  Coach builds graphs and sessions, uses reference variables and ``get_shape()[-1].value``.
- A meta-path finder (``coach_finder``) loads every ``rl_coach.*`` module from its installed source,
  unmodified, but with its own ``__builtins__`` whose ``__import__`` (``coach_imports``) gives rl_coach:
  - for ``tensorflow``: ``tf1_namespace.coach_tensorflow``, i.e. ``tf.compat.v1`` plus
    ``tf.layers`` (``layers``: the same variable names TF1 made), ``tf.contrib.layers/framework/
    distributions`` and ``tf.distributions`` (``distributions``: Categorical and diagonal Gaussian
    with KL, no tensorflow-probability); ``tf.contrib.opt.ScipyOptimizerInterface`` and
    ``tf.nn.rnn_cell`` (LBFGS, LSTM middleware) refuse with a ``ConfigError``;
  - for ``numpy``, ``collections`` and ``distutils.dir_util``: views with the names numpy 1.24+,
    Python 3.10 and Python 3.12 removed (``removed_names``);
  - for absent optional packages (pygame, skimage, gym, minio, kubernetes, ...) and always for
    ``annoy``: stand-ins that raise a clear ``ImportError`` on first use (``optional_modules``).
- Two Coach classes get a wrapped method after loading (``coach_fixes``): the logger stores mixed
  ``''``/float signals in object columns (pandas 3), and the renderer builds without pygame.

Nothing installed is edited, and every module outside rl_coach keeps the real ``tensorflow``,
``numpy`` and standard library. If the installed rl_coach is already TF2-ready (a fork without
``tf.contrib``), ``install()`` does nothing.

Import this before any rl_coach module that uses TensorFlow: such modules imported earlier keep the
real ``tensorflow`` and fail; ``install()`` logs a warning naming them.
"""
from __future__ import annotations

import logging
import sys

logger = logging.getLogger(__name__)

_bridge_active = False


def install() -> bool:
    """Activate the bridge once per process; returns whether it is active (False for a TF2-ready rl_coach)."""
    global _bridge_active
    from markov.compat import coach_finder

    if _bridge_active:
        return True
    package_dir = coach_finder.coach_package_dir()
    if not coach_finder.coach_needs_bridge(package_dir):
        logger.info("rl_coach at %s is TF2-ready (no tf.contrib); markov.compat leaves it alone", package_dir)
        return False

    import tensorflow as tf

    tf.compat.v1.disable_v2_behavior()
    if coach_finder.find_installed() is None:
        sys.meta_path.insert(0, coach_finder.CoachFinder())
    early = coach_finder.loaded_without_bridge()
    if early:
        logger.warning("rl_coach modules imported before markov.compat keep TF2 and will fail: %s", ", ".join(early))
    _bridge_active = True
    logger.debug("markov.compat bridge active for rl_coach at %s", package_dir)
    return True


def is_active() -> bool:
    """Whether ``install()`` activated the bridge in this process."""
    return _bridge_active


install()

"""Moved: evaluation drives the simulator, so it lives in :mod:`markov.sim.evaluation`.

This name stays so that code importing ``markov.export.evaluation`` keeps working.
"""
from markov.sim.evaluation import (  # noqa: F401
    LapResult, check_simulator_can_feed, choose_action, evaluate, evaluate_car_model,
)

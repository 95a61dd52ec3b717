"""Shared helpers for graph tests: golden fixtures and a graph builder (imported, not a conftest).

Building a Coach graph takes seconds on 2 cores, so test modules build each graph once
(module-scoped fixtures) through :func:`build_graph`.
"""
from __future__ import annotations

import json
from pathlib import Path

from fixture_files import GRAPHS as GOLDEN_DIR

GOLDEN_FILES = sorted(GOLDEN_DIR.glob("*.json"))


def load_golden(path: Path) -> dict:
    return json.loads(path.read_text())


def build_graph(metadata: dict, hyperparameters: dict | None = None, experiment_path: Path | None = None,
                checkpoint_save_dir: Path | None = None, checkpoint_restore_path: Path | str | None = None,
                seed: int | None = None):
    """Parse, build and create a graph manager; returns ``(manager, parsed metadata)``."""
    from markov.graph.manager import build_graph_manager, create_graph
    from markov.hyperparameters import parse_hyperparameters
    from markov.model_metadata import parse_model_metadata

    parsed = parse_model_metadata(metadata)
    manager = build_graph_manager(parsed, parse_hyperparameters(hyperparameters or {}))
    create_graph(manager, experiment_path=experiment_path or "/tmp/deepracer-graph-tests",
                 checkpoint_save_dir=checkpoint_save_dir, checkpoint_restore_path=checkpoint_restore_path, seed=seed)
    return manager, parsed


def build_and_save_golden(path: Path, directory: Path):
    """Build the graph of a golden dump with its hyperparameters and save checkpoint 0 under ``directory/agent``.

    Returns ``(golden dict, manager, checkpoint directory)``; the caller closes ``manager.sess``.
    """
    golden = load_golden(path)
    manager, _ = build_graph(golden["model_metadata"], golden["hyperparameters"], experiment_path=directory,
                             checkpoint_save_dir=directory / "agent")
    manager.save_checkpoint()
    return golden, manager, directory / "agent"

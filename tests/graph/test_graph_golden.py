"""Checkpoint compatibility with the simulation image, one test per golden graph dump.

A checkpoint we write for the golden model_metadata must hold exactly the image's
``checkpointed_variables``, names and shapes (docs/protocol.md §3.4), else rollout workers keep
random weights for what they cannot match.
"""
from __future__ import annotations

import pytest

from graph_fixtures import GOLDEN_FILES, build_and_save_golden, load_golden
from markov.graph import contract
from markov.graph.checkpoint import read_checkpoint_variables
from markov.model_metadata import parse_model_metadata


def _golden_set(golden: dict) -> dict[str, tuple[int, ...]]:
    return {name: tuple(shape) for name, shape in golden["checkpointed_variables"]}


@pytest.fixture(scope="module", params=GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def saved_golden(request, tmp_path_factory):
    golden, manager, directory = build_and_save_golden(request.param, tmp_path_factory.mktemp(request.param.stem))
    yield golden, manager, directory
    manager.sess.close()


def test_checkpoint_holds_exactly_the_golden_variables(saved_golden):
    golden, _, directory = saved_golden
    stored = read_checkpoint_variables(str(directory / "0_Step-0.ckpt"))
    assert stored == _golden_set(golden)


def test_saver_selects_the_golden_variables(saved_golden):
    golden, manager, _ = saved_golden
    assert manager.checkpoint_saver.variable_shapes() == _golden_set(golden)


def test_graph_also_holds_targets_and_optimizer_state_that_are_not_saved(saved_golden):
    golden, manager, _ = saved_golden
    names = {v.op.name for v in manager.graph.get_collection("variables")}
    golden_graph_names = {name.split(":")[0] for name, _ in golden["graph_variables"]}
    # every variable the image's graph has under a target scope, we have too (not saved, §3.3)
    assert {n for n in golden_graph_names if "/target/" in n and "gradients_from_head" in n} <= names
    assert any(name.endswith("/Adam") for name in names)


@pytest.mark.parametrize("path", GOLDEN_FILES, ids=[p.stem for p in GOLDEN_FILES])
def test_contract_derived_from_layer_tables_matches_golden(path):
    golden = load_golden(path)
    assert contract.checkpoint_variables(parse_model_metadata(golden["model_metadata"])) == _golden_set(golden)

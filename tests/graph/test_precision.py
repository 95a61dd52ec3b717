"""The precision switch: what ``auto`` picks on which hardware, the session option it sets, and
that a bf16-trained checkpoint is the same float32 checkpoint a rollout worker restores."""
from __future__ import annotations

import logging

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.framework import types_pb2
from tensorflow.core.protobuf import rewriter_config_pb2

from markov.errors import ConfigError
from markov.graph import contract
from markov.graph.checkpoint import latest_checkpoint, read_checkpoint_variables
from markov.graph.manager import build_graph_manager, create_graph, session_config
from markov.graph.precision import (AUTO, BF16, FP16, FP32, Hardware, choose_precision, detect_hardware,
                                    read_cpu_flags, resolve_precision)
from markov.hyperparameters import parse_hyperparameters
from markov.model_metadata import parse_model_metadata

ON = rewriter_config_pb2.RewriterConfig.ON
CAMERA = "FRONT_FACING_CAMERA"
AVX512 = frozenset({"fpu", "sse4_2", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni"})
SAPPHIRE_RAPIDS = AVX512 | {"avx512_bf16", "amx_bf16", "amx_tile", "amx_int8"}
COOPER_LAKE = AVX512 | {"avx512_bf16"}
THIS_CPU_HAS_BF16 = bool(detect_hardware().cpu_bf16_flags) and not detect_hardware().has_gpu
needs_bf16_cpu = pytest.mark.skipif(not THIS_CPU_HAS_BF16, reason="this CPU has neither AVX-512-BF16 nor AMX (or a GPU "
                                                                  "takes the networks): bf16 would be emulated")


# --- what auto picks ---------------------------------------------------------------------

@pytest.mark.parametrize("flags", [SAPPHIRE_RAPIDS, COOPER_LAKE, AVX512 | {"amx_bf16"}],
                         ids=["amx+avx512_bf16", "avx512_bf16", "amx_bf16"])
def test_auto_picks_bf16_where_the_cpu_multiplies_bf16(flags):
    choice = choose_precision(AUTO, Hardware(flags))
    assert choice.precision == BF16
    assert "bf16" in choice.reason and ("amx_bf16" in choice.reason or "avx512_bf16" in choice.reason)


@pytest.mark.parametrize("flags", [AVX512, frozenset({"avx2", "fma"}), frozenset()], ids=["avx512", "avx2", "unknown"])
def test_auto_stays_fp32_without_native_bf16(flags):
    choice = choose_precision(AUTO, Hardware(flags))
    assert choice.precision == FP32
    assert "neither AMX nor AVX-512-BF16" in choice.reason


def test_an_explicit_precision_wins_over_the_hardware():
    assert choose_precision(FP32, Hardware(SAPPHIRE_RAPIDS)).precision == FP32
    emulated = choose_precision(BF16, Hardware(AVX512))
    assert emulated.precision == BF16 and "slower" in emulated.reason
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        choose_precision(FP16, Hardware(SAPPHIRE_RAPIDS))
    with pytest.raises(ConfigError, match="use one of auto, fp32, bf16, fp16"):
        choose_precision("fp8", Hardware(SAPPHIRE_RAPIDS))


def test_on_a_gpu_auto_takes_fp16_where_it_is_fast():
    assert choose_precision(AUTO, Hardware(SAPPHIRE_RAPIDS, ((8, 0),))).precision == FP16
    assert choose_precision(AUTO, Hardware(AVX512, ((7, 5), (8, 6)))).precision == FP16
    assert choose_precision(AUTO, Hardware(SAPPHIRE_RAPIDS, ((6, 1),))).precision == FP32  # the CPU's bf16 is unused
    with pytest.raises(ConfigError, match="networks run on the GPU"):
        choose_precision(BF16, Hardware(SAPPHIRE_RAPIDS, ((9, 0),)))


def test_cpu_flags_are_read_from_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Xeon\nflags\t\t: fpu avx512f avx512_bf16 amx_bf16\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert read_cpu_flags(cpuinfo) == {"fpu", "avx512f", "avx512_bf16", "amx_bf16"}
    assert read_cpu_flags(tmp_path / "missing") == frozenset()
    assert choose_precision(AUTO, Hardware(read_cpu_flags(cpuinfo))).precision == BF16


def test_resolve_logs_one_line_saying_which_and_why(caplog):
    with caplog.at_level(logging.INFO, logger="markov.graph.precision"):
        choice = resolve_precision(AUTO, Hardware(COOPER_LAKE))
    assert [record.getMessage() for record in caplog.records] == [
        "Training precision: bf16 (auto: this CPU has avx512_bf16, oneDNN bf16 rewrite; variables and checkpoints "
        "stay fp32)"]
    assert choice.precision == BF16


# --- the session option ------------------------------------------------------------------

def test_the_session_holds_the_bf16_rewrite_iff_bf16():
    rewrite = session_config(BF16).graph_options.rewrite_options
    assert rewrite.auto_mixed_precision_onednn_bfloat16 == ON
    assert rewrite.auto_mixed_precision != ON
    for precision in (FP32, FP16):
        assert session_config(precision).graph_options.rewrite_options.auto_mixed_precision_onednn_bfloat16 != ON
    assert session_config(FP16).graph_options.rewrite_options.auto_mixed_precision == ON
    # fp32, what rollout workers and export use, is the session of before the switch existed
    assert session_config(FP32) == session_config()
    assert not session_config().graph_options.HasField("rewrite_options")
    with pytest.raises(ValueError, match="resolve 'auto'"):
        session_config(AUTO)


def test_the_trainers_session_turns_constant_folding_off_and_nothing_else():
    trainer = session_config(BF16, fold_constants=False)
    assert trainer.graph_options.rewrite_options.constant_folding == rewriter_config_pb2.RewriterConfig.OFF
    trainer.graph_options.rewrite_options.ClearField("constant_folding")
    assert trainer == session_config(BF16)


# --- a bf16 training step on the real graph ----------------------------------------------

def _episodes(rng, count: int, steps: int) -> list:
    from rl_coach.core_types import Episode, Transition

    episodes = []
    for _ in range(count):
        frames = rng.integers(0, 256, (steps + 1, 120, 160, 1), dtype=np.uint8)
        episode = Episode()
        for step in range(steps):
            probabilities = rng.dirichlet(np.ones(3)).astype(np.float32)
            action = int(rng.integers(0, 3))
            episode.insert(Transition(state={CAMERA: frames[step]}, action=action, reward=float(rng.random()),
                                      next_state={CAMERA: frames[step + 1]}, game_over=step == steps - 1,
                                      info={"all_action_probabilities": probabilities, "action": action}))
        episodes.append(episode)
    return episodes


def _sixteen_bit_casts(manager, frames: np.ndarray) -> int:
    """Casts to bf16/fp16 in the graph the session actually ran for a policy prediction."""
    network = manager.get_agent().networks["main"].online_network
    metadata = tf.compat.v1.RunMetadata()
    manager.sess.run(network.outputs, feed_dict=network.create_feed_dict({CAMERA: frames}),
                     options=tf.compat.v1.RunOptions(output_partition_graphs=True), run_metadata=metadata)
    return sum(1 for graph in metadata.partition_graphs for node in graph.node
               if node.op == "Cast" and node.attr["DstT"].type in (types_pb2.DT_BFLOAT16, types_pb2.DT_HALF))


@pytest.fixture(scope="module")
def bf16_trained(tmp_path_factory):
    """A PPO graph trained one iteration in bf16 and checkpointed: (manager, metadata, checkpoint dir, before)."""
    from markov.training.ingest import ingest_transitions, prepare_training

    directory = tmp_path_factory.mktemp("bf16")
    metadata = parse_model_metadata({"sensor": [CAMERA], "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
                                     "version": "5",
                                     "action_space": [{"steering_angle": a, "speed": 1.0} for a in (-30, 0, 30)]})
    hyperparameters = parse_hyperparameters({"batch_size": 16, "num_epochs": 1})
    manager = build_graph_manager(metadata, hyperparameters)
    create_graph(manager, experiment_path=directory, checkpoint_save_dir=directory / "agent", use_cpu=True, seed=0,
                 precision=BF16)
    watched = manager.checkpoint_saver.variables["main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel"]
    before = manager.sess.run(watched)
    episodes = _episodes(np.random.default_rng(0), 2, 16)
    steps = ingest_transitions(manager, (t for episode in episodes for t in episode.transitions))
    prepare_training(manager, len(episodes), steps, 16, False)
    assert manager.should_train()
    manager.train()
    manager.save_checkpoint()
    yield manager, metadata, directory / "agent", (watched, before)
    manager.sess.close()


@needs_bf16_cpu
def test_a_bf16_session_runs_the_networks_in_bf16(bf16_trained, tmp_path):
    manager, metadata, _, (watched, before) = bf16_trained
    frames = np.random.default_rng(1).integers(0, 256, (4, 120, 160, 1), dtype=np.uint8)
    assert _sixteen_bit_casts(manager, frames) > 0
    assert not np.array_equal(manager.sess.run(watched), before)  # the step trained

    fp32 = build_graph_manager(metadata, parse_hyperparameters({}))
    create_graph(fp32, experiment_path=tmp_path, use_cpu=True)
    try:
        assert _sixteen_bit_casts(fp32, frames) == 0
    finally:
        fp32.sess.close()


@needs_bf16_cpu
def test_checkpoints_after_a_bf16_step_hold_the_fp32_variables_of_the_contract(bf16_trained):
    manager, metadata, directory, _ = bf16_trained
    prefix = latest_checkpoint(directory).path
    assert read_checkpoint_variables(prefix) == contract.checkpoint_variables(metadata)
    dtypes = tf.train.load_checkpoint(prefix).get_variable_to_dtype_map()
    assert set(dtypes.values()) == {tf.float32}
    assert {v.dtype.base_dtype for v in manager.graph.get_collection("variables") if v.dtype.is_floating} == {tf.float32}


@needs_bf16_cpu
def test_graphdef_and_frozen_graph_of_a_bf16_session_are_fp32(bf16_trained):
    from markov.export.frozen_graph import freeze_session

    manager, metadata, directory, _ = bf16_trained
    frozen = tf.compat.v1.GraphDef.FromString(freeze_session(manager.sess, metadata, manager.graph))
    written = tf.compat.v1.GraphDef.FromString((directory / "graphdef.pb").read_bytes())
    for graph_def in (frozen, written):
        types = {value.type for node in graph_def.node for value in node.attr.values() if value.HasField("type")}
        assert types_pb2.DT_FLOAT in types
        assert not types & {types_pb2.DT_BFLOAT16, types_pb2.DT_HALF}

"""Our saver: image-compatible contents, round trip, and restore of image-made checkpoints."""
from __future__ import annotations

import numpy as np
import pytest

from markov.checkpoint_names import checkpoint_name
import tensorflow as tf

from graph_fixtures import GOLDEN_DIR, build_and_save_golden, build_graph
from markov.errors import ConfigError
from markov.graph.checkpoint import (
    latest_checkpoint, match_checkpoint_tensors, parse_coach_checkpoint, read_checkpoint_variables,
)

v1 = tf.compat.v1
GOLDEN_PPO = GOLDEN_DIR / "cam_shallow_ppo.json"


def write_checkpoint(path: str, tensors: dict[str, np.ndarray]) -> None:
    """A TF checkpoint holding exactly ``tensors``, as another program (the image) would write it."""
    graph = tf.Graph()
    with graph.as_default():
        variables = [v1.Variable(value, name=name) for name, value in tensors.items()]
        saver = v1.train.Saver({v.op.name: v for v in variables})
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, path, write_meta_graph=False, write_state=False)


def values(manager) -> dict[str, np.ndarray]:
    names = sorted(manager.checkpoint_saver.variables)
    return dict(zip(names, manager.sess.run([manager.checkpoint_saver.variables[n] for n in names])))


# --- pure functions -------------------------------------------------------------------------

def test_checkpoint_name_and_parse():
    assert checkpoint_name(3, 1200) == "3_Step-1200.ckpt"
    assert parse_coach_checkpoint("12_Step-3456.ckpt") == (12, "12_Step-3456.ckpt")
    assert parse_coach_checkpoint("not a checkpoint") is None


def test_match_prefers_exact_names_and_ignores_optimizer_state():
    wanted = {"main_level/agent/main/online/network_0/X/Conv2d_0/kernel": (8, 8, 1, 32)}
    stored = {**wanted, "main_level/agent/main/online/main_level/agent/main/online/network_0/X/Conv2d_0/kernel/Adam":
              (8, 8, 1, 32), "main_level/agent/main/online/global_step": ()}
    assert match_checkpoint_tensors(wanted, stored) == {name: name for name in wanted}


def test_match_reads_global_as_online():
    wanted = {"main_level/agent/main/online/network_0/v_values_head_0/output/bias": (1,)}
    stored = {"main_level/agent/main/global/network_0/v_values_head_0/output/bias": (1,)}
    assert match_checkpoint_tensors(wanted, stored) == {
        "main_level/agent/main/online/network_0/v_values_head_0/output/bias":
            "main_level/agent/main/global/network_0/v_values_head_0/output/bias"}


def test_match_falls_back_to_auto_named_sac_layers_of_same_shape():
    scope = "main_level/agent/q/online/network_0/q_values_head_0/q1_head"
    wanted = {f"{scope}/dense_2/kernel": (11266, 256), f"{scope}/dense_3/kernel": (256, 256)}
    # an image process that had built more unnamed layers before numbers them higher (§3.3)
    stored = {f"{scope}/dense_8/kernel": (11266, 256), f"{scope}/dense_9/kernel": (256, 256)}
    assert match_checkpoint_tensors(wanted, stored) == {
        f"{scope}/dense_2/kernel": f"{scope}/dense_8/kernel", f"{scope}/dense_3/kernel": f"{scope}/dense_9/kernel"}


def test_match_leaves_out_other_shapes():
    wanted = {"main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel": (512, 5)}
    stored = {"main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel": (512, 7)}
    assert match_checkpoint_tensors(wanted, stored) == {}


def test_latest_checkpoint_reads_coach_checkpoint_first(tmp_path):
    (tmp_path / ".coach_checkpoint").write_text("7_Step-900.ckpt")  # bare name, no newline, as Coach writes it
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "3_Step-10.ckpt"\n')
    found = latest_checkpoint(tmp_path)
    assert (found.number, found.name, found.path) == (7, "7_Step-900.ckpt", str(tmp_path / "7_Step-900.ckpt"))


def test_latest_checkpoint_falls_back_to_tf_state_then_index_files(tmp_path):
    (tmp_path / "checkpoint").write_text('model_checkpoint_path: "/abs/old/3_Step-10.ckpt"\n')
    assert latest_checkpoint(tmp_path).name == "3_Step-10.ckpt"
    (tmp_path / "checkpoint").unlink()
    for name in ("2_Step-5.ckpt.index", "10_Step-50.ckpt.index", "9_Step-70.ckpt.index"):
        (tmp_path / name).write_bytes(b"")
    assert (latest_checkpoint(tmp_path).number, latest_checkpoint(tmp_path).name) == (10, "10_Step-50.ckpt")


def test_latest_checkpoint_in_empty_directory_names_it(tmp_path):
    with pytest.raises(ConfigError, match=str(tmp_path)):
        latest_checkpoint(tmp_path)


# --- with a graph -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved_ppo(tmp_path_factory):
    golden, manager, directory = build_and_save_golden(GOLDEN_PPO, tmp_path_factory.mktemp("ppo"))
    yield golden, manager, directory
    manager.sess.close()


def test_save_writes_the_published_file_set(saved_ppo):
    _, manager, directory = saved_ppo
    names = {p.name for p in directory.iterdir()}
    assert {"0_Step-0.ckpt.index", "0_Step-0.ckpt.data-00000-of-00001", "0_Step-0.ckpt.meta", "checkpoint",
            ".coach_checkpoint", "graphdef.pb"} <= names
    assert (directory / ".coach_checkpoint").read_text() == "0_Step-0.ckpt"
    assert manager.checkpoint_id == 1


def test_round_trip_restores_every_value_and_continues_the_id(saved_ppo, tmp_path):
    golden, original, directory = saved_ppo
    restored, _ = build_graph(golden["model_metadata"], golden["hyperparameters"], experiment_path=tmp_path,
                              checkpoint_restore_path=directory)
    try:
        expected, actual = values(original), values(restored)
        assert expected.keys() == actual.keys()
        for name in expected:
            np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)
        assert restored.checkpoint_id == 1 and restored.restored_checkpoint.name == "0_Step-0.ckpt"
        # the old-policy (target) network starts from the restored weights
        target = restored.graph.get_tensor_by_name(
            "main_level/agent/main/target/network_1/ppo_head_0/policy_fc/kernel:0")
        np.testing.assert_array_equal(restored.sess.run(target),
                                      expected["main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel"])
    finally:
        restored.sess.close()


def test_restores_an_image_checkpoint_without_adam_slots_and_with_extras(saved_ppo, tmp_path):
    golden, manager, _ = saved_ppo
    rng = np.random.default_rng(0)
    tensors = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in golden["checkpointed_variables"]}
    tensors["main_level/agent/main/online/global_step"] = np.int64(5)  # extras a Coach-upstream save would hold
    path = str(tmp_path / "4_Step-800.ckpt")
    write_checkpoint(path, tensors)
    assert not any("Adam" in name for name in read_checkpoint_variables(path))

    matches = manager.checkpoint_saver.restore(manager.sess, path)
    assert len(matches) == len(golden["checkpointed_variables"])
    restored = values(manager)
    for name, _ in golden["checkpointed_variables"]:
        np.testing.assert_array_equal(restored[name], tensors[name], err_msg=name)


def test_checkpoint_of_another_model_is_refused_with_its_path(saved_ppo, tmp_path):
    _, manager, _ = saved_ppo
    path = str(tmp_path / "0_Step-0.ckpt")
    write_checkpoint(path, {"main_level/agent/main/online/network_1/ppo_head_0/policy_fc/kernel":
                            np.zeros((512, 7), np.float32)})
    with pytest.raises(ConfigError, match=r"0_Step-0\.ckpt: checkpoint does not fit this model_metadata\.json"):
        manager.checkpoint_saver.restore(manager.sess, path)


def test_only_the_four_newest_checkpoints_stay_on_disk(tmp_path):
    """Like the image (§4.3), a long run does not fill the disk with 47 MB checkpoints."""
    from markov.graph.checkpoint import LOCAL_CHECKPOINTS_TO_KEEP

    import json

    golden = json.loads((GOLDEN_DIR / "cam_shallow_ppo.json").read_text())
    manager, _ = build_graph(golden["model_metadata"], experiment_path=tmp_path, checkpoint_save_dir=tmp_path / "ckpt")
    for _ in range(LOCAL_CHECKPOINTS_TO_KEEP + 2):
        manager.save_checkpoint()
    kept = sorted(path.name for path in (tmp_path / "ckpt").glob("*.index"))
    assert kept == [f"{n}_Step-0.ckpt.index" for n in range(2, LOCAL_CHECKPOINTS_TO_KEEP + 2)]

"""Checkpoint names, their files and the pointer files: one pattern for all (docs/protocol.md §4.1, §6.1)."""
import pytest

from markov.checkpoint_names import (
    CheckpointFile,
    checkpoint_name,
    frozen_model_filename,
    highest_checkpoint,
    name_from_tf_state,
    parse_checkpoint_file,
    parse_checkpoint_number,
    parse_coach_checkpoint,
    parse_frozen_model_number,
    split_checkpoint_name,
)


@pytest.mark.parametrize("filename, parsed", [
    ("12_Step-3400.ckpt.index", CheckpointFile(12, 3400, "index")),
    ("0_Step-0.ckpt.data-00000-of-00001", CheckpointFile(0, 0, "data-00000-of-00001")),
    ("3_Step-9.ckpt.meta", CheckpointFile(3, 9, "meta")),
    ("3_Step-9.ckpt", None), ("model_3.pb", None), (".coach_checkpoint", None), ("checkpoint", None),
    ("x3_Step-9.ckpt.index", None),
])
def test_checkpoint_files(filename, parsed):
    assert parse_checkpoint_file(filename) == parsed
    if parsed is not None:
        assert parsed.name == checkpoint_name(parsed.number, parsed.steps)
        assert filename.startswith(parsed.name + ".")


def test_strict_names_and_coachs_loose_pointer_parse():
    assert split_checkpoint_name("12_Step-3400.ckpt") == (12, 3400)
    assert split_checkpoint_name("12_Step-3400.ckpt.index") is None
    assert split_checkpoint_name("model.ckpt-5") is None
    assert parse_coach_checkpoint("model.ckpt-5") == (5, "model.ckpt-5")  # what rollout workers accept
    assert parse_checkpoint_number(" 7_Step-9.ckpt\n") == 7


def test_highest_checkpoint_by_number_then_steps():
    files = ["2_Step-5.ckpt.index", "10_Step-50.ckpt.meta", "9_Step-70.ckpt.index", "10_Step-40.ckpt.index",
             "checkpoint", "model_11.pb"]
    assert highest_checkpoint(files) == "10_Step-50.ckpt"
    assert highest_checkpoint(files, "index") == "10_Step-40.ckpt"
    assert highest_checkpoint(["checkpoint"]) is None


@pytest.mark.parametrize("text, name", [
    ('model_checkpoint_path: "3_Step-10.ckpt"\nall_model_checkpoint_paths: "3_Step-10.ckpt"\n', "3_Step-10.ckpt"),
    ('model_checkpoint_path: "/abs/old/3_Step-10.ckpt"\n', "3_Step-10.ckpt"),
    ('model_checkpoint_path: "C:\\\\Users\\\\me\\\\4_Step-1.ckpt"\n', "4_Step-1.ckpt"),  # 2020 Windows trainers
    ("", None), ("garbage\n", None),
])
def test_name_from_tf_state(text, name):
    assert name_from_tf_state(text) == name


@pytest.mark.parametrize("name, number", [("12_Step-3400.ckpt", 12), ("0_Step-0.ckpt", 0), ("model.ckpt", None)])
def test_parse_checkpoint_number(name, number):
    assert parse_checkpoint_number(name) == number


@pytest.mark.parametrize("name, number", [
    (frozen_model_filename(7), 7), ("model_12.pb", 12),
    ("model_.pb", None), ("model_3.pb.partial", None), ("model_3.pbtxt", None), ("my_model_3.pb", None),
])
def test_frozen_model_names_parse_back_to_their_number(name, number):
    assert parse_frozen_model_number(name) == number

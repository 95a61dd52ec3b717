"""best/last/N resolve the way DRfC's car and DRoA tools and the image's trainer resolve them."""
import json

import pytest

from markov.errors import ConfigError
from markov.export.checkpoint_selection import (
    CheckpointName,
    LocalModelFolder,
    StoreModelFolder,
    available_checkpoints,
    open_local_model_folder,
    parse_checkpoint_name,
    parse_step,
    select_checkpoint,
)


def make_folder(path, numbers, best=None, last=None, coach=None, steps=lambda n: n * 100):
    path.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        for suffix in (".index", ".meta", ".data-00000-of-00001"):
            (path / f"{n}_Step-{steps(n)}.ckpt{suffix}").write_bytes(b"x")
    if best is not None or last is not None:
        entry = lambda n: None if n is None else {"name": f"{n}_Step-{steps(n)}.ckpt", "avg_eval_metric": 50.0, "time_stamp": 1.0}
        (path / "deepracer_checkpoints.json").write_text(json.dumps({"best_checkpoint": entry(best), "last_checkpoint": entry(last)}))
    if coach is not None:
        (path / ".coach_checkpoint").write_text(f"{coach}_Step-{steps(coach)}.ckpt")
    return LocalModelFolder(path)


def test_best_and_last_follow_deepracer_checkpoints_json(tmp_path):
    folder = make_folder(tmp_path / "model", [3, 4, 5, 6], best=4, last=6, coach=6)
    assert select_checkpoint(folder, "best") == CheckpointName(4, 400)
    assert select_checkpoint(folder, "last") == CheckpointName(6, 600)
    assert select_checkpoint(folder, 5).name == "5_Step-500.ckpt"


def test_last_without_json_uses_coach_checkpoint_like_the_image(tmp_path):
    folder = make_folder(tmp_path / "model", [1, 2, 3], coach=2)
    assert select_checkpoint(folder, "last").number == 2
    assert select_checkpoint(folder, "best").number == 2


def test_best_without_a_recorded_best_falls_back_to_last(tmp_path):
    folder = make_folder(tmp_path / "model", [1, 2], best=None, last=2, coach=1)
    assert select_checkpoint(folder, "best").number == 2


def test_no_pointer_files_takes_the_highest_number(tmp_path):
    folder = make_folder(tmp_path / "model", [2, 10, 9])
    assert select_checkpoint(folder, "last").number == 10


def test_pointer_to_deleted_checkpoint_is_one_clear_line(tmp_path):
    folder = make_folder(tmp_path / "model", [7, 8], best=3, last=8)
    with pytest.raises(ConfigError, match=r"best_checkpoint names 3_Step-300.ckpt, whose files are not there; available: 7, 8"):
        select_checkpoint(folder, "best")
    with pytest.raises(ConfigError, match="no checkpoint 5; available: 7, 8"):
        select_checkpoint(folder, 5)


def test_incomplete_checkpoints_are_not_available(tmp_path):
    folder = make_folder(tmp_path / "model", [1, 2])
    (tmp_path / "model" / "2_Step-200.ckpt.meta").unlink()
    assert available_checkpoints(folder) == [CheckpointName(1, 100)]


def test_run_folder_model_folder_and_agent_folder_are_all_accepted(tmp_path):
    make_folder(tmp_path / "run" / "model", [1])
    assert open_local_model_folder(tmp_path / "run").path == tmp_path / "run" / "model"
    assert open_local_model_folder(tmp_path / "run" / "model").path == tmp_path / "run" / "model"
    make_folder(tmp_path / "checkpoint_sagemaker" / "agent", [0], coach=0)
    assert open_local_model_folder(tmp_path / "checkpoint_sagemaker").path.name == "agent"
    with pytest.raises(ConfigError, match="holds no checkpoint"):
        open_local_model_folder(tmp_path / "checkpoint_sagemaker" / "..")


def test_parse_names_and_steps():
    assert parse_checkpoint_name("12_Step-3456.ckpt\n") == CheckpointName(12, 3456)
    assert CheckpointName(12, 3456).frozen_model == "model_12.pb"
    with pytest.raises(ConfigError, match="not a checkpoint name"):
        parse_checkpoint_name("model.ckpt-12")
    assert parse_step("BEST") == "best" and parse_step("7") == 7
    with pytest.raises(ConfigError, match="--step 'first'"):
        parse_step("first")


def test_bad_json_names_the_file(tmp_path):
    folder = make_folder(tmp_path / "model", [1])
    (tmp_path / "model" / "deepracer_checkpoints.json").write_text("{not json")
    with pytest.raises(ConfigError, match="deepracer_checkpoints.json: not valid JSON"):
        select_checkpoint(folder, "best")


def test_store_folder_reads_the_same_pointers_from_s3(tmp_path):
    boto3 = pytest.importorskip("boto3")
    moto = pytest.importorskip("moto")
    from markov.store.s3 import S3Store

    with moto.mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="bucket")
        local = make_folder(tmp_path / "model", [3, 4], best=3, last=4, coach=4)
        for name in local.names():
            client.put_object(Bucket="bucket", Key=f"rl-deepracer-sagemaker/model/{name}", Body=(local.path / name).read_bytes())
        client.put_object(Bucket="bucket", Key="rl-deepracer-sagemaker/ip/hyperparameters.json", Body=b"{}")
        folder = StoreModelFolder(S3Store("bucket", client=client), "rl-deepracer-sagemaker/model")
        assert select_checkpoint(folder, "best").number == 3
        assert select_checkpoint(folder, "last").number == 4
        assert folder.read_run_file("ip/hyperparameters.json") == b"{}"
        folder.fetch("3_Step-300.ckpt.index", tmp_path / "i")
        assert (tmp_path / "i").read_bytes() == b"x"

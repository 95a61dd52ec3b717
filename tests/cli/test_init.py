"""``deepracer-trainer init`` against a real boto3 client on moto."""
from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from markov.cli.main import main
from markov.defaults import MODEL_METADATA, REWARD_FUNCTION

CUSTOM = ["custom_files/hyperparameters.json", "custom_files/model_metadata.json", "custom_files/reward_function.py"]


@pytest.fixture
def s3(aws_env, monkeypatch):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-value")  # must never be printed
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


def keys_in(s3, bucket="models"):
    return sorted(item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", ()))


def test_creates_bucket_uploads_defaults_and_prints_the_command(s3, capsys):
    assert main(["init", "--s3-bucket", "models", "--s3-prefix", "my-model"]) == 0
    assert keys_in(s3) == CUSTOM
    body = s3.get_object(Bucket="models", Key="custom_files/model_metadata.json")["Body"].read()
    assert body == MODEL_METADATA.read_bytes()
    out = capsys.readouterr().out
    assert "Created bucket s3://models" in out
    assert ("python -m training_worker --s3_bucket models --s3_prefix my-model "
            "--model_metadata_s3_key s3://models/custom_files/model_metadata.json --aws_region us-east-1") in out
    assert "SM_TRAINING_ENV=" in out
    assert "very-secret-value" not in out


def test_twice_is_safe_and_user_files_are_kept_without_force(s3, tmp_path, capsys):
    assert main(["init", "--s3-bucket", "models"]) == 0
    assert main(["init", "--s3-bucket", "models"]) == 0
    assert capsys.readouterr().out.count(": unchanged") == 3

    reward = tmp_path / "reward_function.py"
    reward.write_text("def reward_function(params):\n    return 2.0\n")
    assert main(["init", "--s3-bucket", "models", "--reward-function", str(reward)]) == 0
    assert "use --force to overwrite" in capsys.readouterr().out
    stored = lambda: s3.get_object(Bucket="models", Key="custom_files/reward_function.py")["Body"].read()  # noqa: E731
    assert stored() == REWARD_FUNCTION.read_bytes()

    assert main(["init", "--s3-bucket", "models", "--reward-function", str(reward), "--force"]) == 0
    assert "replaced" in capsys.readouterr().out
    assert stored() == reward.read_bytes()


def test_hyperparameters_file_is_the_trainers_sm_training_env(s3, tmp_path, capsys):
    hp = tmp_path / "my hp.json"
    hp.write_text(json.dumps({"batch_size": 32}))
    assert main(["init", "--s3-bucket", "models", "--hyperparameters", str(hp)]) == 0
    assert f"export SM_TRAINING_ENV='{hp}'" in capsys.readouterr().out


@pytest.mark.parametrize("option, content, message", [
    ("--model-metadata", '{"sensor": ["FRONT_FACING_CAMERA"]}', "model_metadata.json"),
    ("--reward-function", "def reward(params):\n    return 1.0\n", "does not define reward_function"),
    ("--reward-function", "def reward_function(params)\n", "syntax error"),
    ("--hyperparameters", '{"batch_size": "many"}', "batch_size"),
])
def test_bad_files_are_refused_before_any_upload(s3, tmp_path, capsys, option, content, message):
    path = tmp_path / ("model_metadata.json" if option == "--model-metadata" else "file")
    path.write_text(content)
    assert main(["init", "--s3-bucket", "models", option, str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and str(path) in err
    assert "models" not in [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_a_used_prefix_is_pointed_out(s3, capsys):
    s3.create_bucket(Bucket="models")
    s3.put_object(Bucket="models", Key="rl-deepracer-sagemaker/model/.coach_checkpoint", Body=b"3_Step-1.ckpt")
    assert main(["init", "--s3-bucket", "models"]) == 0
    out = capsys.readouterr().out
    assert "Using bucket" in out and "already holds 1 objects" in out


def test_endpoint_is_printed_without_credentials(s3, monkeypatch, capsys):
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    from markov.cli.init import next_steps
    text = next_steps("b", "p", "http://user:pw@localhost:9000", "us-east-1", MODEL_METADATA)
    assert "export S3_ENDPOINT_URL=http://localhost:9000" in text
    assert "pw" not in text.replace("python", "")
    assert "AWS_SECRET_ACCESS_KEY='<your secret key>'" in text


def test_export_droa_finds_the_custom_files_init_uploaded(s3, tmp_path, capsys):
    """docs/linux.md's flow: init, a trainer publishes model/ and ip/, then export --format droa needs no flags."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
    from policy_graphs import build_policy

    assert main(["init", "--s3-bucket", "models", "--s3-prefix", "my-model"]) == 0
    policy = build_policy(json.loads(MODEL_METADATA.read_text()))
    policy.save(tmp_path, "0_Step-0.ckpt")
    for path in tmp_path.glob("0_Step-0.ckpt.*"):
        s3.upload_file(str(path), "models", f"my-model/model/{path.name}")
    s3.put_object(Bucket="models", Key="my-model/model/.coach_checkpoint", Body=b"0_Step-0.ckpt")
    s3.put_object(Bucket="models", Key="my-model/model/model_metadata.json", Body=MODEL_METADATA.read_bytes())
    capsys.readouterr()
    out = tmp_path / "droa.zip"
    assert main(["export", "--checkpoint", "s3://models/my-model", "--format", "droa", "--out", str(out)]) == 0
    from markov.export.archives import check_droa_archive

    files = check_droa_archive(out)
    assert files["reward_function.py"] == REWARD_FUNCTION.read_bytes()
    assert json.loads(files["ip/hyperparameters.json"])["loss_type"] == "mean_squared_error"

"""The top-level adapters Coach and the entry points use: s3_client.SageS3Client and s3_boto_data_store."""
from __future__ import annotations

import pytest
from rl_coach.data_stores.data_store import DataStore

from markov.errors import StorageError
from markov.store.local import LocalStore
from s3_boto_data_store import S3BotoDataStore, S3BotoDataStoreParameters
from s3_client import SageS3Client

from store_helpers import save_checkpoint

PREFIX = "rl-deepracer-sagemaker"


def data_store(tmp_path, side, **kwargs):
    params = S3BotoDataStoreParameters(bucket="bucket", s3_prefix=PREFIX, checkpoint_dir=tmp_path / side / "agent",
                                       aws_region="us-east-1", **kwargs)
    return S3BotoDataStore(params, frozen_model=lambda name: name.encode())


def test_trainer_and_rollout_data_stores_talk_through_s3(s3_client, tmp_path):
    trainer, rollout = data_store(tmp_path, "trainer"), data_store(tmp_path, "rollout")
    assert isinstance(trainer, DataStore)
    assert rollout.load_from_store() is None
    assert rollout.get_coach_checkpoint_number() == -1
    save_checkpoint(trainer.params.checkpoint_dir, 0, 0)
    assert trainer.save_to_store() == "0_Step-0.ckpt"
    trainer.signal_ready()
    assert rollout.wait_for_checkpoints(timeout_s=1) == "0_Step-0.ckpt"
    rollout.wait_for_trainer_ready(timeout_s=1)
    save_checkpoint(trainer.params.checkpoint_dir, 1, 40)
    trainer.save_policy(None)
    assert rollout.get_coach_checkpoint_number() == 1
    assert rollout.load_from_store(expected_checkpoint_number=1) == "1_Step-40.ckpt"
    assert s3_client.get_object(Bucket="bucket", Key=f"{PREFIX}/model/model_1.pb")["Body"].read() == b"1_Step-40.ckpt"
    assert not rollout.end_of_policies()
    trainer.flush_finished()
    assert rollout.end_of_policies()
    assert trainer.get_info() == f"s3://bucket/{PREFIX}/model/"


def test_pretrained_from_another_bucket(s3_client, tmp_path):
    s3_client.create_bucket(Bucket="old-bucket")
    for suffix in (".index", ".meta"):
        s3_client.put_object(Bucket="old-bucket", Key=f"old/model/5_Step-9.ckpt{suffix}", Body=b"x")
    s3_client.put_object(Bucket="old-bucket", Key="old/model/.coach_checkpoint", Body=b"5_Step-9.ckpt")
    trainer = data_store(tmp_path, "trainer")
    pretrained = trainer.load_pretrained("old-bucket", "old", tmp_path / "pretrained", checkpoint="last")
    assert (pretrained.name, pretrained.next_number) == ("5_Step-9.ckpt", 6)


def test_local_store_dir_is_the_bucket(tmp_path):
    trainer = data_store(tmp_path, "trainer", local_store_dir=tmp_path / "bucket")
    assert isinstance(trainer.store, LocalStore)
    save_checkpoint(trainer.params.checkpoint_dir, 0, 0)
    trainer.save_to_store()
    assert (tmp_path / "bucket" / PREFIX / "model" / ".coach_checkpoint").read_text() == "0_Step-0.ckpt"


def test_sage_s3_client_accepts_uris_and_other_buckets(s3_client, tmp_path):
    s3_client.create_bucket(Bucket="custom")
    s3_client.put_object(Bucket="custom", Key="custom_files/model_metadata.json", Body=b"{}")
    client = SageS3Client("bucket", PREFIX, aws_region="us-east-1")
    path = client.download_model_metadata("s3://custom/custom_files/model_metadata.json", tmp_path / "m.json")
    client.upload_model_metadata(path)
    client.upload_hyperparameters('{"lr": 0.0003}')
    client.write_ip_config("10.1.2.3")
    assert client.get_ip(timeout_s=0) == "10.1.2.3"
    assert client.upload_file("s3://bucket/x//y.txt", path) == "x/y.txt"
    keys = sorted(o["Key"] for o in s3_client.list_objects_v2(Bucket="bucket")["Contents"])
    assert keys == [f"{PREFIX}/ip/done", f"{PREFIX}/ip/hyperparameters.json", f"{PREFIX}/ip/ip.json",
                    f"{PREFIX}/model/model_metadata.json", "x/y.txt"]
    with pytest.raises(StorageError, match="s3://bucket/custom_files/missing.json"):
        client.download_model_metadata("custom_files/missing.json", tmp_path / "n.json")

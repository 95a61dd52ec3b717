from __future__ import annotations

import posixpath

import pytest

from markov.errors import ConfigError
from markov.store import keys
from markov.store.keys import ModelKeys


@pytest.mark.parametrize(
    "prefix, postfix, expected",
    [
        ("rl-deepracer-sagemaker", "model/.lock", "rl-deepracer-sagemaker/model/.lock"),
        ("a//b", "ip/done", "a/b/ip/done"),
        ("a/./b", "ip/done", "a/b/ip/done"),
        ("a/b/", "ip/done", "a/b/ip/done"),
        ("a/b/../c", "model/x", "a/c/model/x"),
        ("", "model/model_metadata.json", "model/model_metadata.json"),
        ("/abs", "model/x", "/abs/model/x"),
    ],
)
def test_join_matches_the_image_normpath_on_linux(prefix, postfix, expected):
    assert keys.join(prefix, postfix) == expected
    # The image's expression (docs/protocol.md §4.5), evaluated with POSIX semantics.
    assert expected == posixpath.normpath(posixpath.join(prefix, postfix))


@pytest.mark.parametrize("parts", [("",), ("..", "x"), ("a/../..", "x"), (".",)])
def test_join_refuses_keys_outside_the_bucket(parts):
    with pytest.raises(ConfigError):
        keys.join(*parts)


def test_model_keys_cover_the_layout():
    k = ModelKeys("p")
    assert (k.model_metadata, k.hyperparameters, k.ip_config, k.ip_done) == (
        "p/model/model_metadata.json", "p/ip/hyperparameters.json", "p/ip/ip.json", "p/ip/done")
    assert (k.lock, k.ready, k.finished, k.coach_checkpoint) == (
        "p/model/.lock", "p/model/.ready", "p/model/.finished", "p/model/.coach_checkpoint")
    assert k.deepracer_checkpoints == "p/model/deepracer_checkpoints.json"
    assert k.tf_checkpoint_state == "p/model/checkpoint"
    assert k.preset == "p/presets/preset.py"
    assert k.model_dir == "p/model/"
    assert k.model_file("3_Step-60.ckpt.index") == "p/model/3_Step-60.ckpt.index"
    assert k.frozen_model(3) == "p/model/model_3.pb"
    assert k.sample(2) == "p/samples/sample_2.pkl"


def test_model_keys_keep_the_prefix_string_for_redis():
    assert ModelKeys("a//b/").prefix == "a//b/"
    assert ModelKeys("a//b/").lock == "a/b/model/.lock"


@pytest.mark.parametrize("bad", ["..\\x", "sub/x", "a\\b"])
def test_model_file_takes_bare_names_only(bad):
    with pytest.raises(ConfigError):
        ModelKeys("p").model_file(bad)


@pytest.mark.parametrize(
    "value, bucket, key",
    [
        ("s3://b1/custom_files/model_metadata.json", "b1", "custom_files/model_metadata.json"),
        ("S3://b1//custom_files/./m.json", "b1", "custom_files/m.json"),
        ("custom_files/model_metadata.json", "dflt", "custom_files/model_metadata.json"),
        ("/custom_files/m.json", "dflt", "/custom_files/m.json"),
    ],
)
def test_split_s3_uri(value, bucket, key):
    assert keys.split_s3_uri(value, default_bucket="dflt") == (bucket, key)


@pytest.mark.parametrize("value, default", [("s3://bucket", None), ("s3:///key", None), ("plain/key", None)])
def test_split_s3_uri_errors_name_the_value(value, default):
    with pytest.raises(ConfigError, match="s3://"):
        keys.split_s3_uri(value, default_bucket=default)

"""The trainer accepts the guide's and the image's invocations (docs/protocol.md §1.2, §1.3)."""
from pathlib import Path

import pytest

from markov.config import parse_trainer_config
from markov.errors import ConfigError
from markov.public_address import choose_public_address

GUIDE_ARGS = [
    "--RLCOACH_PRESET", "deepracer", "--aws_region", "us-east-1",
    "--model_metadata_s3_key", "s3://bucket/custom_files/model_metadata.json",
    "--pretrained_s3_bucket", "bucket", "--pretrained_s3_prefix", "old-model", "--pretrained_checkpoint", "LAST",
    "--s3_bucket", "bucket", "--s3_prefix", "rl-deepracer-sagemaker",
]


def test_guide_invocation_and_env():
    config = parse_trainer_config(
        GUIDE_ARGS + ["--batch_size", "64", "--lr", "0.0003"],
        {"S3_ENDPOINT_URL": "http://localhost:9000", "ALGO_MODEL_DIR": "/tmp/algo", "SM_TRAINING_ENV": "/tmp/hp.json",
         "REDIS_HOST": "redis", "REDIS_PORT": "6380", "REDIS_PASSWORD": "s3cret", "REDIS_DB": "2",
         "DEEPRACER_POLL_TIME": "0.5", "MAX_MEMORY_STEPS": "5000"},
    )
    assert (config.s3_bucket, config.s3_prefix) == ("bucket", "rl-deepracer-sagemaker")
    assert config.s3_endpoint_url == "http://localhost:9000"
    assert config.model_dir == Path("/tmp/algo")
    assert config.sm_training_env == "/tmp/hp.json"
    assert config.use_pretrained and config.pretrained_checkpoint == "last"
    assert (config.redis.host, config.redis.port, config.redis.db, config.redis.password) == ("redis", 6380, 2, "s3cret")
    assert config.redis.poll_time == 0.5
    assert config.max_memory_steps == 5000
    assert config.ignored_args == ()  # hyperparameters repeated as flags are expected, not warned about
    assert "s3cret" not in repr(config)


def test_flags_override_env_and_unknown_flags_are_reported():
    config = parse_trainer_config(
        GUIDE_ARGS + ["--redis_host", "10.0.0.5", "--s3_endpoint_url", "http://minio:9000", "--sagemaker_job", "x",
                      "--checkpoint-dir", "ckpt", "--work_dir", "w"],
        {"REDIS_HOST": "ignored", "S3_ENDPOINT_URL": "http://ignored"},
    )
    assert config.redis.host == "10.0.0.5"
    assert config.s3_endpoint_url == "http://minio:9000"
    assert config.ignored_args == ("sagemaker_job",)
    assert config.checkpoint_dir == Path("ckpt")
    assert config.pretrained_checkpoint_dir == Path("w/pretrained_checkpoint_sagemaker")
    assert config.model_dir == Path("w/model")


def test_image_defaults():
    config = parse_trainer_config(["--model_metadata_s3_key", "custom_files/model_metadata.json"], {})
    assert (config.s3_bucket, config.s3_prefix, config.aws_region) == ("sagemaker-s3", "sagemaker", "us-east-1")
    assert (config.redis.host, config.redis.port, config.redis.db) == ("localhost", 6379, 0)
    assert config.redis.poll_time == 1.0
    assert not config.use_pretrained
    assert config.pretrained_checkpoint == "best"


def test_reruns_continue_unless_new_model_and_outages_are_waited_for():
    config = parse_trainer_config(["--model_metadata_s3_key", "k"], {})
    assert not config.new_model and config.store_outage_timeout == 900.0  # at least 10 minutes (issue 15)
    config = parse_trainer_config(["--model_metadata_s3_key", "k", "--new-model"],
                                  {"DEEPRACER_STORE_OUTAGE_TIMEOUT": "1200"})
    assert config.new_model and config.store_outage_timeout == 1200.0
    assert parse_trainer_config(["--model_metadata_s3_key", "k", "--new_model", "--store_outage_timeout", "30"],
                                {"DEEPRACER_STORE_OUTAGE_TIMEOUT": "1200"}).store_outage_timeout == 30.0


@pytest.mark.parametrize(
    "argv, env, message",
    [
        ([], {}, "--model_metadata_s3_key is required"),
        (["--model_metadata_s3_key", "k", "--redis_port", "abc"], {}, "--redis_port / REDIS_PORT = 'abc' is not an integer"),
        (["--model_metadata_s3_key", "k"], {"MAX_MEMORY_STEPS": "0"}, "MAX_MEMORY_STEPS = 0 is out of range"),
        (["--model_metadata_s3_key", "k"], {"DEEPRACER_POLL_TIME": "soon"}, "DEEPRACER_POLL_TIME = 'soon' is not a number"),
        (["--model_metadata_s3_key", "k", "--RLCOACH_PRESET", "atari"], {}, "--RLCOACH_PRESET 'atari' is not supported"),
        (["--model_metadata_s3_key", "k"], {"DEEPRACER_STORE_OUTAGE_TIMEOUT": "long"},
         "--store_outage_timeout / DEEPRACER_STORE_OUTAGE_TIMEOUT = 'long' is not a number"),
    ],
)
def test_bad_settings_get_one_line(argv, env, message):
    with pytest.raises(ConfigError) as err:
        parse_trainer_config(argv, env)
    assert message in str(err.value)


def test_public_address_choice():
    assert choose_public_address("host.docker.internal")[0] == "host.docker.internal"
    lan = choose_public_address(None, hostname=lambda: "box", resolve=lambda name: ["127.0.1.1", "192.168.1.20"])
    assert lan[0] == "192.168.1.20"
    loop = choose_public_address(None, hostname=lambda: "box", resolve=lambda name: ["127.0.0.1"])
    assert loop[0] == "127.0.0.1" and "--redis_public_ip" in loop[1]

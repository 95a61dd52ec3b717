"""deepracer_checkpoints.json, as rollout worker 0 writes it and the trainer and exporters read it."""
import json

import pytest

from markov.checkpoint_records import checkpoint_records_json, parse_checkpoint_records


def test_round_trip_with_metrics():
    raw = checkpoint_records_json("3_Step-300.ckpt", "5_Step-500.ckpt", best_metric=87.5)
    content = json.loads(raw)
    assert content["best_checkpoint"]["avg_eval_metric"] == 87.5
    assert content["last_checkpoint"]["avg_eval_metric"] is None
    assert isinstance(content["last_checkpoint"]["time_stamp"], float)
    assert parse_checkpoint_records(raw) == ("3_Step-300.ckpt", "5_Step-500.ckpt")


def test_drfc_file_with_avg_comp_pct_and_no_best():
    raw = json.dumps({"last_checkpoint": {"name": "7_Step-1.ckpt", "avg_comp_pct": 55.0, "time_stamp": 1.0}}).encode()
    assert parse_checkpoint_records(raw) == (None, "7_Step-1.ckpt")


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_malformed_content_is_a_value_error(raw):
    with pytest.raises(ValueError):
        parse_checkpoint_records(raw)

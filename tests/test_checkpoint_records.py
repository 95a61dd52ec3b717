"""deepracer_checkpoints.json, as rollout worker 0 writes it and the trainer and exporters read it."""
import json

import pytest

from markov.checkpoint_records import (
    BEST,
    LAST,
    checkpoint_records_json,
    choose_checkpoint,
    parse_best_score,
    parse_checkpoint_records,
)


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


def test_best_score_for_the_rollouts_candidates():
    raw = checkpoint_records_json("3_Step-300.ckpt", "5_Step-500.ckpt", best_metric=87.5)
    assert parse_best_score(raw) == ("3_Step-300.ckpt", 87.5)
    assert parse_best_score(checkpoint_records_json("3_Step-300.ckpt", "5_Step-500.ckpt")) is None  # no metric
    drfc = json.dumps({"best_checkpoint": {"name": "7_Step-1.ckpt", "avg_comp_pct": 55.0}}).encode()
    assert parse_best_score(drfc) is None
    with pytest.raises(ValueError):
        parse_best_score(json.dumps({"best_checkpoint": {"name": "1_Step-1.ckpt", "avg_eval_metric": "x"}}).encode())


def test_choose_checkpoint_order():
    def never():
        raise AssertionError("read although an earlier source named a checkpoint")

    records = ("3_Step-300.ckpt", "5_Step-500.ckpt")
    assert choose_checkpoint(BEST, records, pointer=never) == ("3_Step-300.ckpt", "deepracer_checkpoints.json best_checkpoint")
    assert choose_checkpoint(LAST, records, pointer=never)[0] == "5_Step-500.ckpt"
    # DRfC's rule: no best recorded yet means the last one
    assert choose_checkpoint(BEST, (None, "5_Step-500.ckpt")) == \
        ("5_Step-500.ckpt", "deepracer_checkpoints.json last_checkpoint (no best recorded)")
    assert choose_checkpoint(BEST, pointer=lambda: "6_Step-600.ckpt", tf_state=never) == \
        ("6_Step-600.ckpt", ".coach_checkpoint")
    assert choose_checkpoint(LAST, pointer=lambda: None, tf_state=lambda: "2_Step-9.ckpt", highest=never)[0] == \
        "2_Step-9.ckpt"
    assert choose_checkpoint(LAST, tf_state=lambda: None, highest=lambda: "9_Step-1.ckpt")[0] == "9_Step-1.ckpt"
    assert choose_checkpoint(LAST) == (None, "no checkpoint")

"""deepracer_checkpoints.json in the store (docs/protocol.md §6.3), on both backends."""
from __future__ import annotations

import json

from markov.store.keys import ModelKeys
from markov.store.records import read_checkpoint_records, write_checkpoint_records

KEYS = ModelKeys("rl-deepracer-sagemaker")


def test_records_roundtrip_and_garbage(store):
    assert read_checkpoint_records(store, KEYS).best_number == -1
    write_checkpoint_records(store, KEYS, best="4_Step-1.ckpt", last="6_Step-2.ckpt")
    records = read_checkpoint_records(store, KEYS)
    assert (records.best_number, records.last_number) == (4, 6)
    content = json.loads(store.get_bytes(KEYS.deepracer_checkpoints))
    assert set(content["best_checkpoint"]) == {"name", "avg_eval_metric", "time_stamp"}
    store.put_bytes(KEYS.deepracer_checkpoints, b"{not json")
    assert read_checkpoint_records(store, KEYS).best is None

"""Riding out a store that is away (markov.store.outage): backoff, a line every 30 s, a one-line give-up."""
from __future__ import annotations

import logging

import pytest

from markov.errors import StorageError
from markov.store.backend import BucketNotFoundError, EndpointUnreachableError, StoreUnavailableError
from markov.store.outage import ride_out


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self):
        return self.now


def away_for(seconds, clock, error=EndpointUnreachableError("cannot reach the S3 endpoint http://127.0.0.1:1")):
    def action():
        if clock.now < seconds:
            raise error
        return "published"
    return action


def test_waits_with_backoff_and_logs_every_30_s(caplog):
    clock = Clock()
    with caplog.at_level(logging.INFO):
        result = ride_out(away_for(300, clock), "publishing checkpoint 7_Step-70.ckpt", 600,
                          setting="--store_outage_timeout", sleep=clock.sleep, clock=clock)
    assert result == "published"
    assert clock.sleeps[:5] == [1, 2, 4, 8, 15] and max(clock.sleeps) == 15
    waits = [r for r in caplog.records if "not answering" in r.getMessage()]
    assert 300 / 30 - 1 <= len(waits) <= 300 / 30 + 1
    assert "publishing checkpoint 7_Step-70.ckpt" in waits[0].getMessage()
    assert "The store is back after" in caplog.text


def test_gives_up_after_the_timeout_with_one_line_naming_the_setting():
    clock = Clock()
    with pytest.raises(StorageError) as info:
        ride_out(away_for(10_000, clock, StoreUnavailableError("S3 put_object failed: 503")), "publishing checkpoint 3",
                 60, setting="--store_outage_timeout", sleep=clock.sleep, clock=clock)
    message = str(info.value)
    assert message.startswith("gave up publishing checkpoint 3") and "--store_outage_timeout" in message
    assert "\n" not in message
    assert 60 <= clock.now <= 61


def test_other_storage_errors_fail_at_once():
    clock = Clock()

    def missing():
        raise BucketNotFoundError("S3 bucket 'b' does not exist")

    with pytest.raises(BucketNotFoundError):
        ride_out(missing, "connecting", 600, setting="--connect_timeout", sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_a_full_disk_is_a_disk_full_error_naming_the_file(tmp_path):
    import errno

    from markov.store.atomic import atomic_write
    from markov.store.backend import DiskFullError

    def full(_out):
        raise OSError(errno.ENOSPC, "No space left on device")

    target = tmp_path / "model" / ".coach_checkpoint"
    with pytest.raises(DiskFullError, match=r"no space left on the device of .*\.coach_checkpoint"):
        atomic_write(target, full)
    assert list(target.parent.iterdir()) == []  # the temporary file is gone too
    with pytest.raises(PermissionError):  # other errors stay what they are
        atomic_write(target, lambda _out: (_ for _ in ()).throw(PermissionError(errno.EACCES, "denied")))

"""The image's sample collector: a few fetched transitions, written to the bucket for model validation.

With ``max_sample_count`` > 0 in the hyperparameters, every ``sampling_frequency``-th transition
the trainer fetches is pickled as ``{agent_name: Transition}`` (protocol 2) to
``<prefix>/samples/sample_<k>.pkl``, k = 0, 1, ... up to ``max_sample_count`` files (docs/protocol.md
§4.3, §9: the same per-step dict the model-validation worker loads). Samples are optional: a
failed upload is logged and ends sampling, never training.
"""
from __future__ import annotations

import logging
import pickle
from typing import Any, Iterable, Iterator

from markov.errors import StorageError
from markov.store.backend import ObjectStore
from markov.store.keys import ModelKeys

log = logging.getLogger(__name__)

PICKLE_PROTOCOL = 2  # the image's; its readers may be old Pythons (§9)


class SampleCollector:
    """Counts transitions and uploads every ``sampling_frequency``-th one, ``max_sample_count`` in all."""

    def __init__(self, store: ObjectStore, keys: ModelKeys, max_sample_count: int, sampling_frequency: int = 1,
                 agent: str = "agent") -> None:
        self.store = store
        self.keys = keys
        self.max_sample_count = max(0, int(max_sample_count or 0))
        self.sampling_frequency = max(1, int(sampling_frequency or 1))
        self.agent = agent
        self.sample_count = 0
        self._since_last = 0

    @property
    def active(self) -> bool:
        return self.sample_count < self.max_sample_count

    def sample(self, transition: Any) -> None:
        """Count one fetched transition; upload it when it is the ``sampling_frequency``-th since the last."""
        if not self.active:
            return
        self._since_last += 1
        if self._since_last < self.sampling_frequency:
            return
        self._since_last = 0
        key = self.keys.sample(self.sample_count)
        try:
            self.store.put_bytes(key, pickle.dumps({self.agent: transition}, protocol=PICKLE_PROTOCOL))
        except StorageError as exc:
            log.warning("Could not upload the sample %s (%s); no more samples are collected", key, exc)
            self.max_sample_count = self.sample_count
            return
        self.sample_count += 1
        log.debug("Uploaded sample %s", self.store.uri(key))

    def collect(self, transitions: Iterable[Any]) -> Iterator[Any]:
        """Pass ``transitions`` through, sampling each; costs nothing once the collector is done."""
        for transition in transitions:
            if self.active:
                self.sample(transition)
            yield transition

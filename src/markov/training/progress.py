"""One progress line per training iteration, as text or as a JSON line (``--log-format json``)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from statistics import fmean


@dataclass
class IterationReport:
    """The figures of one training iteration."""

    iteration: int
    episodes: int
    steps: int
    episode_rewards: list[float] = field(default_factory=list)
    episode_progress: list[float | None] = field(default_factory=list)
    policy_loss: float | None = None
    value_loss: float | None = None
    entropy: float | None = None
    kl: float | None = None
    checkpoint: str | None = None
    fetch_s: float = 0.0
    train_s: float = 0.0
    upload_s: float = 0.0

    @property
    def mean_reward(self) -> float | None:
        return fmean(self.episode_rewards) if self.episode_rewards else None

    @property
    def max_reward(self) -> float | None:
        return max(self.episode_rewards) if self.episode_rewards else None

    @property
    def mean_progress(self) -> float | None:
        known = [p for p in self.episode_progress if p is not None]
        return fmean(known) if known else None

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["episode_rewards"], data["episode_progress"]
        data.update(mean_reward=self.mean_reward, max_reward=self.max_reward, mean_progress=self.mean_progress)
        return {key: _finite_or_none(value) for key, value in data.items()}

    def as_text(self) -> str:
        parts = [
            f"Iteration {self.iteration}:",
            f"episodes={self.episodes}",
            f"steps={self.steps}",
            f"reward mean={_num(self.mean_reward)} max={_num(self.max_reward)}",
        ]
        if self.mean_progress is not None:
            parts.append(f"progress mean={self.mean_progress:.1f}%")
        parts += [
            f"policy_loss={_num(self.policy_loss)}",
            f"value_loss={_num(self.value_loss)}",
            f"entropy={_num(self.entropy)}",
            f"kl={_num(self.kl)}",
            f"time fetch={self.fetch_s:.1f}s train={self.train_s:.1f}s upload={self.upload_s:.1f}s",
        ]
        if self.checkpoint:
            parts.append(f"checkpoint={self.checkpoint}")
        return " ".join(parts)

    def as_json(self) -> str:
        return json.dumps({"event": "iteration", **self.as_dict()}, sort_keys=True)


def _finite_or_none(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4g}"

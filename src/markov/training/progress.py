"""One progress line per training iteration, as text or as a JSON line (``--log-format json``)."""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from statistics import fmean


@dataclass
class IterationReport:
    """The figures of one training iteration.

    Beside Coach's losses, KL and entropy it carries the diagnostics Stable-Baselines3 prints
    for PPO: ``explained_variance`` (how well the value head predicted this iteration's returns
    before training; 1 is perfect, 0 no better than their mean), ``clip_fraction`` (the share of
    likelihood ratios PPO's clipping changed) and ``transitions_per_s`` (transitions of the
    iteration over its whole wall time: fetch, train and upload). SAC has no clip fraction or
    explained variance: they stay None.
    """

    iteration: int
    episodes: int
    steps: int
    episode_rewards: list[float] = field(default_factory=list)
    episode_progress: list[float | None] = field(default_factory=list)
    policy_loss: float | None = None
    value_loss: float | None = None
    entropy: float | None = None
    kl: float | None = None
    explained_variance: float | None = None
    clip_fraction: float | None = None
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

    @property
    def transitions_per_s(self) -> float | None:
        seconds = self.fetch_s + self.train_s + self.upload_s
        return self.steps / seconds if seconds > 0 else None

    def as_dict(self) -> dict:
        data = asdict(self)
        del data["episode_rewards"], data["episode_progress"]
        data.update(mean_reward=self.mean_reward, max_reward=self.max_reward, mean_progress=self.mean_progress,
                    transitions_per_s=self.transitions_per_s)
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
        ]
        if self.explained_variance is not None or self.clip_fraction is not None:
            parts += [f"explained_variance={_num(self.explained_variance)}",
                      f"clip_fraction={_num(self.clip_fraction)}"]
        parts += [
            f"time fetch={self.fetch_s:.1f}s train={self.train_s:.1f}s upload={self.upload_s:.1f}s",
            f"transitions/s={_num(self.transitions_per_s)}",
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

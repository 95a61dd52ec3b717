"""Play one episode in the simulator and record it as the Coach ``Episode`` the trainer expects.

Transitions are filled as the image's rollout fills them (docs/protocol.md §3.1, §9): state and
next_state are dicts of filtered observations keyed by sensor, the action is the network's,
``game_over`` marks the last step, and info carries ``all_action_probabilities`` and ``action``.
Info also carries ``progress`` so the trainer can report progress per iteration.
"""
from __future__ import annotations

from dataclasses import dataclass

from markov.sim.env import LAP_COMPLETE, DeepRacerEnv


@dataclass(frozen=True)
class EpisodeResult:
    """What one episode achieved, for progress lines and checkpoint records."""

    steps: int
    reward: float
    progress: float
    status: str
    lap_time: float | None

    @property
    def lap_complete(self) -> bool:
        return self.status == LAP_COMPLETE

    def as_dict(self) -> dict:
        return {"steps": self.steps, "reward": self.reward, "progress": self.progress, "status": self.status,
                "lap_time": self.lap_time}


def play_episode(env: DeepRacerEnv, policy) -> tuple[object, EpisodeResult]:
    """Drive one episode with ``policy.act``; returns (Coach Episode, result)."""
    from rl_coach.core_types import Episode, Transition

    episode = Episode()
    observation, info = env.reset()
    total, steps, done = 0.0, 0, False
    while not done:
        decision = policy.act(observation)
        next_observation, reward, terminated, truncated, info = env.step(decision.env_action)
        done = terminated or truncated
        steps += 1
        total += float(reward)
        episode.insert(Transition(state=observation, action=decision.network_action, reward=float(reward),
                                  next_state=next_observation, game_over=done,
                                  info={**decision.info, "progress": float(info["progress"])}))
        observation = next_observation
    result = EpisodeResult(steps=steps, reward=total, progress=float(info["progress"]),
                           status=str(info["episode_status"]), lap_time=info.get("lap_time"))
    return episode, result

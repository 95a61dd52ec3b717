"""Coach's screen lines in the format the simulation image prints and tools parse (docs/protocol.md §8).

Coach 1.0.1 colours its lines, or without colours puts a timestamp first and an
``Exploration=`` field in ``Training>`` lines. Log parsers split these lines on ``,`` and read
fields by position (Episode is field 2, Total reward field 3), and DRfC reads ``Entropy=`` from
``Policy training>`` as a SageMaker metric, so the image's exact layout matters:
``Training> Name=main_level/agent, Worker=0, Episode=1, Total reward=2.0, Steps=20, Training iteration=0``.
"""
from __future__ import annotations

import logging
from typing import Mapping

coach_log = logging.getLogger("rl_coach.screen")

# Training> lines of the image carry no exploration value (§8).
_DROPPED = {"Training": ("Exploration",)}


def format_coach_line(data: Mapping[str, object], prefix: str) -> str:
    """``<prefix>> k=v, k=v`` in the image's field order; ``Worker=0`` follows ``Name`` in Training lines."""
    items = [(key, value) for key, value in data.items() if key not in _DROPPED.get(prefix, ())]
    if prefix == "Training" and "Worker" not in data and items and items[0][0] == "Name":
        items.insert(1, ("Worker", 0))  # the image's trainer has task_index 0 (§8)
    return f"{prefix}> " + ", ".join(f"{key}={value}" for key, value in items)


def use_image_log_format() -> None:
    """Make Coach's screen logger print the image's plain layout through ``logging``."""
    import markov.compat  # noqa: F401  (Coach modules must load through the bridge)
    from rl_coach.logger import screen

    screen.set_use_colors(False)
    screen.log_dict = lambda data, prefix="": coach_log.info(format_coach_line(data, prefix))
    screen.log_title = lambda title: coach_log.info("## %s", title)

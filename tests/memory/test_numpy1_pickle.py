"""2020-mode episode payloads name numpy's globals as numpy 1.x does, and still decode here."""
import pickletools

import numpy as np

from markov.memory import channels
from markov.memory.safe_pickle import safe_loads


def _episode():
    from rl_coach.core_types import Episode, Transition

    episode = Episode()
    for step in range(3):
        frame = np.full((120, 160, 3), step, dtype=np.uint8)
        episode.insert(Transition(state={"observation": frame}, action=np.int64(step), reward=1.0,
                                  next_state={"observation": frame}, game_over=step == 2,
                                  info={"all_action_probabilities": np.full(5, 0.2, np.float32)}))
    return episode


def _globals(payload: bytes) -> set[str]:
    """Every module.name the pickle imports (GLOBAL, or STACK_GLOBAL after two strings)."""
    found, strings = set(), []
    for opcode, arg, _ in pickletools.genops(payload):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(arg)
        elif opcode.name == "STACK_GLOBAL":
            found.add(f"{strings[-2]}.{strings[-1]}")
        elif opcode.name == "GLOBAL":
            found.add(arg.replace(" ", "."))
    return found


def test_2020_payload_uses_numpy_1_names_and_decodes():
    episode = _episode()
    payload = channels.encode_episode(7, episode, channels.PROTOCOL_2020)
    names = _globals(payload)
    assert "numpy.core.multiarray._reconstruct" in names and "numpy.core.multiarray.scalar" in names
    assert not [n for n in names if n.startswith("numpy._core")]  # numpy < 1.26 has no numpy._core
    index, decoded = safe_loads(payload)
    assert index == 7 and len(decoded.transitions) == 3
    last = decoded.transitions[2]
    assert last.state["observation"].shape == (120, 160, 3) and last.state["observation"][0, 0, 2] == 2
    assert type(last.action) is np.int64 and last.action == 2 and last.game_over


def test_current_payloads_keep_the_fast_pickler():
    episode = _episode()
    assert channels.encode_episode(1, episode) == __import__("pickle").dumps((1, episode), protocol=channels.PICKLE_PROTOCOL)

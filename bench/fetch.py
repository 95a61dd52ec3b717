"""Benchmark: fetch one iteration of episodes over Redis, against the no-protocol floor.

A rollout process serves 20 episodes of 150 steps with 120x160x1 uint8 frames to the trainer
backend over loopback. Printed: the fetch time, the floor (pickle, send over a plain TCP socket and
unpickle the same episodes, pipelined the same way), their ratio (goal: at most 1.2), each side's
peak RSS, and the same fetch through the 2020 generation's fixed 1 s request polling.

Each measurement runs in fresh processes (so peak RSS is per measurement); the trainer side keeps
every transition, as Coach's memory does.

    python bench/fetch.py [--episodes 20] [--steps 150] [--repeat 3] [--skip-2020]
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import pickle
import resource
import socket
import struct
import sys
import threading
import time

import numpy as np
import psutil

from markov.config import RedisConfig
from markov.memory import channels as wire
from markov.memory.redis_server import LOOPBACK, RedisServer, free_port

PREFIX = "bench"
HEIGHT, WIDTH = 120, 160


def make_episodes(count: int, steps: int) -> list:
    """Episodes like the image's: each frame is shared by one transition's next_state and the next one's state."""
    from rl_coach.core_types import Episode, Transition

    rng = np.random.default_rng(0)
    episodes = []
    for _ in range(count):
        frames = [rng.integers(0, 256, (HEIGHT, WIDTH, 1), dtype=np.uint8) for _ in range(steps + 1)]
        episode = Episode()
        for step in range(steps):
            episode.insert(Transition(
                state={"FRONT_FACING_CAMERA": frames[step]}, action=np.int64(step % 5), reward=1.0,
                next_state={"FRONT_FACING_CAMERA": frames[step + 1]}, game_over=step == steps - 1,
                info={"all_action_probabilities": np.full(5, 0.2, np.float32)}))
        episodes.append(episode)
    return episodes


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


# -- the floor: pickle, a plain socket, unpickle -------------------------------------------------

def floor_sender(port: int, episodes: int, steps: int, go) -> None:
    data = make_episodes(episodes, steps)
    with socket.create_connection((LOOPBACK, port)) as sock:
        go.wait()
        for index, episode in enumerate(data):
            payload = pickle.dumps((index, episode), protocol=wire.PICKLE_PROTOCOL)
            sock.sendall(struct.pack("!Q", len(payload)) + payload)


def floor_receiver(episodes: int, steps: int, results) -> None:
    import rl_coach.core_types  # noqa: F401  (same imports as the trainer side)

    go = mp.get_context("spawn").Event()
    with socket.create_server((LOOPBACK, 0)) as server:
        sender = mp.get_context("spawn").Process(target=floor_sender, args=(server.getsockname()[1], episodes, steps, go))
        sender.start()
        conn, _ = server.accept()
    rss_before = psutil.Process().memory_info().rss / 2**20
    kept = []
    with conn:
        reader = conn.makefile("rb", buffering=1 << 20)
        started = time.perf_counter()
        go.set()
        for _ in range(episodes):
            (size,) = struct.unpack("!Q", reader.read(8))
            _, episode = pickle.loads(reader.read(size))
            kept.extend(episode.transitions)
        seconds = time.perf_counter() - started
    sender.join()
    results.put({"seconds": seconds, "steps": len(kept), "rss_before": rss_before, "peak_rss": peak_rss_mb()})


# -- our fetch -------------------------------------------------------------------------------------

def rollout_process(config: RedisConfig, episodes: int, steps: int, prestore: bool, ready, go, done) -> None:
    from markov.memory.rollout_backend import RolloutBackend

    data = make_episodes(episodes, steps)
    with RolloutBackend(config, PREFIX, episodes_per_iteration=episodes) as backend:
        if prestore:
            for episode in data:
                backend.store_episode(episode)
        ready.set()
        go.wait()
        if not prestore:
            for episode in data:
                backend.store_episode(episode)  # pickled here, on the clock
        done.wait()


def fetch_trainer(config: RedisConfig, episodes: int, steps: int, prestore: bool, results) -> None:
    from markov.memory.trainer_backend import TrainerBackend

    ctx = mp.get_context("spawn")
    ready, go, done = ctx.Event(), ctx.Event(), ctx.Event()
    worker = ctx.Process(target=rollout_process, args=(config, episodes, steps, prestore, ready, go, done))
    worker.start()
    trainer = TrainerBackend(config, PREFIX)
    trainer.start()
    ready.wait()
    rss_before = psutil.Process().memory_info().rss / 2**20
    started = time.perf_counter()
    go.set()
    kept = list(trainer.fetch(episodes))
    seconds = time.perf_counter() - started
    done.set()
    worker.join()
    trainer.close()
    results.put({"seconds": seconds, "steps": len(kept), "rss_before": rss_before, "peak_rss": peak_rss_mb(),
                 "duplicates": trainer.last_fetch.duplicates})


def legacy_2020_trainer(config: RedisConfig, episodes: int, steps: int, prestore: bool, results) -> None:
    """The 2020 Windows trainer's loop: a thread publishes the wanted index, then sleeps 1 s (docs/protocol.md §5.7)."""
    import redis

    from markov.memory.safe_pickle import preload, safe_loads

    preload()
    ctx = mp.get_context("spawn")
    ready, go, done = ctx.Event(), ctx.Event(), ctx.Event()
    worker = ctx.Process(target=rollout_process, args=(config, episodes, steps, prestore, ready, go, done))
    worker.start()
    names = wire.channels_for(PREFIX, protocol=config.protocol)
    client = redis.Redis(host=config.host, port=config.port)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(names.replies)
    state = {"wanted": 0, "running": True}

    def request_loop() -> None:
        while state["running"]:
            client.publish(names.requests, wire.encode_request(state["wanted"]))
            time.sleep(1.0)

    ready.wait()
    rss_before = psutil.Process().memory_info().rss / 2**20
    started = time.perf_counter()
    go.set()
    poller = threading.Thread(target=request_loop, daemon=True)
    poller.start()
    kept = []
    while True:
        message = pubsub.get_message(timeout=5.0)
        if message is None or message["type"] != "message":
            continue
        index, body = safe_loads(message["data"])
        if index == episodes + 1:
            break
        if index == state["wanted"]:
            kept.extend(body.transitions)
            state["wanted"] += 1
    seconds = time.perf_counter() - started
    state["running"] = False
    done.set()
    worker.join()
    pubsub.close()
    client.close()
    results.put({"seconds": seconds, "steps": len(kept), "rss_before": rss_before, "peak_rss": peak_rss_mb()})


def measure(target, *args) -> dict:
    ctx = mp.get_context("spawn")
    results = ctx.Queue()
    process = ctx.Process(target=target, args=(*args, results))
    process.start()
    result = results.get(timeout=600)
    process.join()
    return result


def best_of(repeat: int, target, *args) -> dict:
    runs = [measure(target, *args) for _ in range(repeat)]
    return min(runs, key=lambda run: run["seconds"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement; the fastest is reported")
    parser.add_argument("--skip-2020", action="store_true", help="skip the 2020 1 s polling run (about N+1 seconds)")
    args = parser.parse_args(argv)

    payload = len(pickle.dumps((0, make_episodes(1, args.steps)[0]), protocol=wire.PICKLE_PROTOCOL))
    print(f"{args.episodes} episodes x {args.steps} steps of {HEIGHT}x{WIDTH}x1 uint8 frames; "
          f"{payload / 2**20:.2f} MB per pickled episode, {args.episodes * payload / 2**20:.1f} MB per iteration")
    with RedisServer(port=free_port(), bind=(LOOPBACK,)) as server:
        current = RedisConfig(host=server.host, port=server.port)
        floor = best_of(args.repeat, floor_receiver, args.episodes, args.steps)
        fetch = best_of(args.repeat, fetch_trainer, current, args.episodes, args.steps, False)
        stored = best_of(args.repeat, fetch_trainer, current, args.episodes, args.steps, True)
        old = RedisConfig(host=server.host, port=server.port, protocol=wire.PROTOCOL_2020)
        legacy = None if args.skip_2020 else measure(legacy_2020_trainer, old, args.episodes, args.steps, True)

    def line(name: str, run: dict) -> str:
        return (f"{name:<46} {run['seconds']:7.3f} s   peak RSS {run['peak_rss']:6.0f} MB "
                f"(before fetch {run['rss_before']:4.0f} MB)   {run['steps']} steps")

    print(line("floor: pickle + TCP socket + unpickle", floor))
    print(line("fetch over Redis (rollout pickles on the clock)", fetch))
    print(line("fetch over Redis (episodes stored beforehand)", stored))
    print(f"ratio fetch / floor: {fetch['seconds'] / floor['seconds']:.2f} (goal <= 1.2)")
    if legacy is not None:
        print(line("2020 trainer, 1 s request polling (stored)", legacy))
    return 0


if __name__ == "__main__":
    sys.exit(main())

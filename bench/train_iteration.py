"""Benchmark: Clipped PPO training iterations on the CPU, the trainer's side of an iteration.

Each iteration hands 20 synthetic episodes of 30-59 steps (about 850 transitions, random uint8
120x160x1 front-camera frames) to the agent through ``ingest_transitions`` and trains them the
way the training loop does (``prepare_training``, ``should_train``, ``train``): shallow network,
default hyperparameters (10 epochs, batch 64). Printed per iteration: ingest and training
seconds, transition-epochs per second; then the peak RSS of the process and the estimated FLOPs
of an iteration, from the layer tables. The community image's trainer does this workload in
32-36 s per iteration on 2 cores (about 250 transition-epochs/s, 1.75 GB peak RSS).

    python bench/train_iteration.py [--iterations 3] [--episodes 20] [--intra N] [--inter N] [--profile FILE]

``--intra``/``--inter`` override the session's intra- and inter-op thread counts (default: the
trainer's ``session_config()``; 0 lets TensorFlow choose); ``--profile`` writes cProfile
statistics of the timed part to FILE.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import resource
import sys
import tempfile
import time

import numpy as np

HEIGHT, WIDTH = 120, 160
CAMERA = "FRONT_FACING_CAMERA"
NUM_ACTIONS = 5


def make_episodes(rng: np.random.Generator, count: int) -> list:
    """Episodes of 30-59 steps shaped like a rollout's: each frame is one step's next_state and the next one's state."""
    from rl_coach.core_types import Episode, Transition

    episodes = []
    for _ in range(count):
        steps = int(rng.integers(30, 60))
        frames = rng.integers(0, 256, (steps + 1, HEIGHT, WIDTH, 1), dtype=np.uint8)
        actions = rng.integers(0, NUM_ACTIONS, steps)
        episode = Episode()
        for step in range(steps):
            probabilities = rng.dirichlet(np.ones(NUM_ACTIONS)).astype(np.float32)
            episode.insert(Transition(
                state={CAMERA: frames[step]}, action=np.int64(actions[step]), reward=float(rng.random()),
                next_state={CAMERA: frames[step + 1]}, game_over=step == steps - 1,
                info={"all_action_probabilities": probabilities, "action": int(actions[step]),
                      "progress": 100.0 * (step + 1) / steps}))
        episodes.append(episode)
    return episodes


def forward_flops_per_sample(num_actions: int = NUM_ACTIONS) -> int:
    """Multiply-adds x2 of one forward pass of the shallow front-camera PPO network (docs/protocol.md §3.2).

    Conv: 2*k*k*cin*cout*out_h*out_w; dense: 2*in*out (per pixel inside an image embedder).
    Coach's Clipped PPO gives each head its own embedder and middleware
    (``use_separate_networks_per_head``: ``network_0`` for the V head, ``network_1`` for the
    policy head), so a forward pass runs the body twice.
    """
    from markov.graph import layer_tables as tables
    from markov.model_metadata import FRONT_FACING_CAMERA, SHALLOW

    def layers_flops(input_shape, layers) -> tuple[int, tuple]:
        total = 0
        shape = tuple(input_shape)
        for layer, kernel, out in zip(layers, tables.layer_kernel_shapes(shape, layers),
                                      tables.layer_output_shapes(shape, layers)):
            pixels = int(np.prod(out[:-1])) if len(out) > 1 else 1
            total += 2 * int(np.prod(kernel)) * pixels
            shape = out
        return total, shape

    embedder, _ = layers_flops(tables.observation_shape(FRONT_FACING_CAMERA),
                               tables.embedder_layers(FRONT_FACING_CAMERA, SHALLOW))
    middleware, (features,) = layers_flops((tables.flattened_size(FRONT_FACING_CAMERA, SHALLOW),),
                                           tables.middleware_layers(SHALLOW))
    heads = 2 * features * (1 + num_actions)
    return 2 * (embedder + middleware) + heads


def iteration_flops(transitions: int, epochs: int, batch_size: int) -> tuple[float, float]:
    """(forward, backward) FLOPs of one Clipped PPO iteration in Coach 1.0.1.

    Forward passes: the value estimate of every transition (``fill_advantages``), then per epoch
    and minibatch the old policy (target network) and the training pass; Coach trains only whole
    minibatches. Backward is taken as twice the training forward.
    """
    per_sample = forward_flops_per_sample()
    trained = (transitions // batch_size) * batch_size
    forward = per_sample * (transitions + 2 * epochs * trained)
    backward = 2 * per_sample * epochs * trained
    return float(forward), float(backward)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def build_manager(intra: int | None, inter: int | None, experiment_path: str):
    from markov.defaults import MODEL_METADATA
    from markov.graph import manager as graph_manager_module
    from markov.hyperparameters import HyperParameters
    from markov.model_metadata import load_model_metadata
    from markov.training.coach_log import use_image_log_format

    use_image_log_format()  # Coach's lines go to logging, which this script leaves at WARNING
    if intra is not None or inter is not None:
        default_config = graph_manager_module.session_config

        def session_config():
            config = default_config()
            if intra is not None:
                config.intra_op_parallelism_threads = intra
            if inter is not None:
                config.inter_op_parallelism_threads = inter
            return config

        graph_manager_module.session_config = session_config
    hyperparameters = HyperParameters()
    manager = graph_manager_module.build_graph_manager(load_model_metadata(MODEL_METADATA), hyperparameters)
    graph_manager_module.create_graph(manager, experiment_path=experiment_path, use_cpu=True)
    return manager, hyperparameters


def train_one_iteration(manager, hyperparameters, episodes: list) -> tuple[int, float, float]:
    """The training loop's order (``markov.training.loop``); returns (transitions, ingest s, train s)."""
    from markov.training.ingest import ingest_transitions, prepare_training, train_batch_size

    began = time.perf_counter()
    steps = ingest_transitions(manager, (t for episode in episodes for t in episode.transitions))
    ingested = time.perf_counter()
    prepare_training(manager, len(episodes), steps, train_batch_size(hyperparameters.batch_size, steps), False)
    if not manager.should_train():
        raise RuntimeError("Coach did not want to train after a full iteration of episodes")
    manager.train()
    return steps, ingested - began, time.perf_counter() - ingested


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--intra", type=int, default=None, help="intra-op threads (default: session_config())")
    parser.add_argument("--inter", type=int, default=None, help="inter-op threads (default: session_config())")
    parser.add_argument("--profile", default=None, help="write cProfile statistics of the timed part here")
    args = parser.parse_args(argv)

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    load_before = os.getloadavg()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as experiment_path:
        manager, hyperparameters = build_manager(args.intra, args.inter, experiment_path)
        build_s = time.perf_counter() - started
        config = manager.sess._config
        epochs, batch_size = hyperparameters.num_epochs, hyperparameters.batch_size
        build_rss = peak_rss_mb()
        print(f"graph built in {build_s:.1f} s, peak RSS {build_rss:.0f} MB; session threads intra={config.intra_op_parallelism_threads} "
              f"inter={config.inter_op_parallelism_threads}; {os.cpu_count()} CPUs; "
              f"load average before {load_before[0]:.2f}")
        print(f"{'iter':>4} {'transitions':>11} {'ingest s':>9} {'train s':>8} {'total s':>8} {'trans-epochs/s':>15}")
        rng = np.random.default_rng(0)
        profiler = cProfile.Profile() if args.profile else None
        rows = []
        for iteration in range(1, args.iterations + 1):
            episodes = make_episodes(rng, args.episodes)
            if profiler:
                profiler.enable()
            steps, ingest_s, train_s = train_one_iteration(manager, hyperparameters, episodes)
            if profiler:
                profiler.disable()
            rate = steps * epochs / (ingest_s + train_s)
            rows.append((steps, ingest_s, train_s, rate))
            print(f"{iteration:>4} {steps:>11} {ingest_s:>9.2f} {train_s:>8.2f} {ingest_s + train_s:>8.2f} {rate:>15.0f}",
                  flush=True)
            del episodes
        manager.sess.close()

    steps = np.mean([row[0] for row in rows])
    seconds = np.mean([row[1] + row[2] for row in rows])
    forward, backward = iteration_flops(int(round(steps)), epochs, batch_size)
    print(f"mean: {seconds:.2f} s per iteration, {steps * epochs / seconds:.0f} transition-epochs/s "
          f"(image: 32-36 s, ~250 transition-epochs/s on 2 cores)")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (image: 1.75 GB)")
    print(f"FLOPs per iteration (estimated): forward {forward / 1e9:.0f} G, backward {backward / 1e9:.0f} G, "
          f"total {(forward + backward) / 1e9:.0f} G -> {(forward + backward) / seconds / 1e9:.1f} GFLOP/s; "
          f"forward per sample {forward_flops_per_sample() / 1e6:.1f} M")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if profiler:
        profiler.dump_stats(args.profile)
        print(f"cProfile statistics: {args.profile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

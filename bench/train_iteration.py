"""Benchmark: Clipped PPO training iterations on the CPU in fp32 and bf16, interleaved in one run.

Each iteration hands 20 synthetic episodes of 30-59 steps (about 850 transitions, random uint8
120x160x1 front-camera frames) to the agent through ``ingest_transitions`` and trains them the
way the training loop does (``prepare_training``, ``should_train``, ``train``): shallow network,
default hyperparameters (10 epochs, batch 64). Each precision trains in its own child process
(so that each has its own peak RSS), from the same seeded initial weights, on the same
episodes; the parent alternates them iteration by iteration, so that load from other jobs on
the machine falls on both alike. Printed per iteration: ingest and training seconds,
transition-epochs per second, Coach's KL divergence and entropy of the last epoch, the child's
peak RSS; then per precision the median seconds, the ratio of medians to fp32 and the peak
RSS with its break-down (after ``import tensorflow``, after building the graph and session).
The community image's trainer does this workload in 28-36 s per iteration on 2 cores (about
250 transition-epochs/s, 1.75-1.81 GB peak RSS).

    python bench/train_iteration.py [--iterations 3] [--episodes 20] [--variants fp32,bf16]
                                    [--intra N] [--inter N] [--profile PREFIX]

``--variants`` lists what to compare, the first being the reference of the ratios: a precision
(``fp32``, ``bf16``, or ``auto`` for what the trainer would pick here) with the trainer's
session otherwise, optionally followed by ``:`` and options joined by ``+``: ``coach-steps``
for Coach's own training step and target update instead of ``markov.graph.in_graph_steps``,
``fold`` for grappler's constant folding, which the trainer turns off, ``coach-old-policy`` for
Coach's target-network pass per mini-batch instead of the old policy from the value pass
(``markov.graph.ppo_agent``), ``tf-kernels`` for TensorFlow's own choice of CPU kernels (oneDNN
only on CPUs with AVX-512) instead of the trainer's oneDNN everywhere (``markov.graph.cpu_kernels``),
``no-onednn`` for Eigen's kernels (``TF_ENABLE_ONEDNN_OPTS=0``), ``intra=N``/``inter=N`` for the
session's thread pools. ``fp32:coach-steps+fold+coach-old-policy+tf-kernels`` is the trainer before
these changes; ``fp32:fold,fp32`` measures one lever.
``--intra``/``--inter`` override the session's intra- and inter-op thread counts (default:
the trainer's ``session_config()``; 0 lets TensorFlow choose); ``--profile`` writes cProfile
statistics of each variant's timed part to PREFIX.<variant>.
"""
from __future__ import annotations

import argparse
import cProfile
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time

import numpy as np

HEIGHT, WIDTH = 120, 160
CAMERA = "FRONT_FACING_CAMERA"
NUM_ACTIONS = 5
VARIANT_OPTIONS = {"coach-steps", "fold", "coach-old-policy", "no-onednn", "tf-kernels"}
WARM_UP_EPISODES = 4  # iteration 0: TensorFlow optimises each new session call once (longer in bf16); not timed


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


def iteration_flops(transitions: int, epochs: int, batch_size: int,
                    old_policy_per_minibatch: bool = False) -> tuple[float, float]:
    """(forward, backward) FLOPs of one Clipped PPO iteration.

    Forward passes: the value estimate of every transition (``fill_advantages``), then per epoch
    and minibatch the training pass and, in Coach 1.0.1's own loop (``old_policy_per_minibatch``),
    the old policy (target network) too; the trainer takes that from the value pass
    (``markov.graph.ppo_agent``). Coach trains only whole minibatches. Backward is taken as twice
    the training forward.
    """
    per_sample = forward_flops_per_sample()
    trained = (transitions // batch_size) * batch_size
    passes_per_epoch = 2 if old_policy_per_minibatch else 1
    forward = per_sample * (transitions + passes_per_epoch * epochs * trained)
    backward = 2 * per_sample * epochs * trained
    return float(forward), float(backward)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KB on Linux


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def build_manager(precision: str, intra: int | None, inter: int | None, experiment_path: str,
                  coach_steps: bool = False, fold_constants: bool = False, coach_old_policy: bool = False):
    from markov.defaults import MODEL_METADATA
    from markov.graph import manager as graph_manager_module
    from markov.hyperparameters import HyperParameters
    from markov.model_metadata import load_model_metadata
    from markov.training.coach_log import use_image_log_format

    use_image_log_format()  # Coach's lines go to logging, which this script leaves at WARNING
    if intra is not None or inter is not None:
        default_config = graph_manager_module.session_config

        def session_config(precision: str, fold_constants: bool):
            config = default_config(precision, fold_constants)
            if intra is not None:
                config.intra_op_parallelism_threads = intra
            if inter is not None:
                config.inter_op_parallelism_threads = inter
            return config

        graph_manager_module.session_config = session_config
    if coach_steps:
        graph_manager_module.install_in_graph_steps = lambda manager: 0
    if coach_old_policy:  # nothing stored by the value pass: every mini-batch asks the target network
        from markov.graph.ppo_agent import DeepRacerClippedPPOAgent

        DeepRacerClippedPPOAgent._keep_old_policy = lambda self, batch, outputs: None
    hyperparameters = HyperParameters()
    manager = graph_manager_module.build_graph_manager(load_model_metadata(MODEL_METADATA), hyperparameters)
    random.seed(0)  # Coach's Clipped PPO shuffles with random, its minibatches with numpy's global generator
    np.random.seed(0)
    graph_manager_module.create_graph(manager, experiment_path=experiment_path, use_cpu=True, seed=0,
                                      precision=precision, fold_constants=fold_constants)
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


def variant(connection, name: str, intra: int | None, inter: int | None, episodes_per_iteration: int,
            profile: str | None) -> None:
    """Child process: build one precision's graph, then train an iteration each time the parent asks."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    precision, _, options = name.partition(":")
    chosen = set(options.split("+")) - {""}
    threads = {option.partition("=")[0]: option.partition("=")[2] for option in chosen if "=" in option}
    chosen -= {f"{key}={value}" for key, value in threads.items()}
    if chosen - VARIANT_OPTIONS or set(threads) - {"intra", "inter"} or not all(v.isdigit() for v in threads.values()):
        raise SystemExit(f"--variants: {name!r}: options are {', '.join(sorted(VARIANT_OPTIONS))}, intra=N, inter=N")
    intra = int(threads["intra"]) if "intra" in threads else intra
    inter = int(threads["inter"]) if "inter" in threads else inter
    if chosen >= {"tf-kernels", "no-onednn"}:
        raise SystemExit(f"--variants: {name!r}: tf-kernels or no-onednn, not both")
    if "no-onednn" in chosen:  # read by TensorFlow when it loads
        os.environ["TF_ENABLE_ONEDNN_OPTS"] = "0"
    elif "tf-kernels" not in chosen:
        from markov.graph.cpu_kernels import prefer_onednn

        prefer_onednn()  # what the trainer does before TensorFlow loads
    started = time.perf_counter()
    import tensorflow  # noqa: F401  (measured on its own)

    import_rss = rss_mb()
    from markov.graph.precision import resolve_precision

    resolved = resolve_precision(precision).precision
    label = resolved + (f":{options}" if options else "")
    with tempfile.TemporaryDirectory() as experiment_path:
        manager, hyperparameters = build_manager(resolved, intra, inter, experiment_path,
                                                 coach_steps="coach-steps" in chosen, fold_constants="fold" in chosen,
                                                 coach_old_policy="coach-old-policy" in chosen)
        config = manager.sess._config
        connection.send({"label": label, "build_s": time.perf_counter() - started, "import_rss": import_rss,
                         "graph_rss": rss_mb(), "intra": config.intra_op_parallelism_threads,
                         "inter": config.inter_op_parallelism_threads,
                         "epochs": hyperparameters.num_epochs, "batch_size": hyperparameters.batch_size})
        agent = manager.get_agent()
        profiler = cProfile.Profile() if profile else None
        while (iteration := connection.recv()) is not None:
            episodes = make_episodes(np.random.default_rng(iteration), WARM_UP_EPISODES if iteration == 0
                                     else episodes_per_iteration)
            if profiler:
                profiler.enable()
            steps, ingest_s, train_s = train_one_iteration(manager, hyperparameters, episodes)
            if profiler:
                profiler.disable()
            del episodes
            connection.send({"steps": steps, "ingest_s": ingest_s, "train_s": train_s,
                             "kl": float(agent.kl_divergence.get_last_value()),
                             "entropy": float(agent.entropy.get_last_value()), "peak_rss": peak_rss_mb()})
        manager.sess.close()
    if profiler:
        profiler.dump_stats(f"{profile}.{label}")
    connection.send(None)


def isa_flags() -> str:
    """The CPU's vector and matrix extensions, as /proc/cpuinfo names them."""
    from markov.graph.precision import read_cpu_flags

    return " ".join(sorted(f for f in read_cpu_flags() if f.startswith(("avx", "amx", "fma"))))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=3, help="iterations per precision (default %(default)s)")
    parser.add_argument("--episodes", type=int, default=20)
    parser.add_argument("--variants", default="fp32,bf16",
                        help="comma-separated precisions, each optionally with ':' and options joined by '+' "
                             "(coach-steps, fold, coach-old-policy, tf-kernels, no-onednn, intra=N, inter=N); "
                             "the first is the reference of the ratios (default %(default)s)")
    parser.add_argument("--intra", type=int, default=None, help="intra-op threads (default: session_config())")
    parser.add_argument("--inter", type=int, default=None, help="inter-op threads (default: session_config())")
    parser.add_argument("--profile", default=None, help="write cProfile statistics to PREFIX.<precision>")
    args = parser.parse_args(argv)
    requested = [name.strip() for name in args.variants.split(",") if name.strip()]

    context = multiprocessing.get_context("spawn")
    load_before = os.getloadavg()
    print(f"{os.cpu_count()} CPUs, ISA: {isa_flags()}; load average before {load_before[0]:.2f}")
    variants = []
    for name in requested:  # built one after the other: each build takes both cores
        parent_end, child_end = context.Pipe()
        process = context.Process(target=variant, args=(child_end, name, args.intra, args.inter, args.episodes,
                                                        args.profile), daemon=True)
        process.start()
        info = parent_end.recv()
        print(f"{name} -> {info['label']}: graph built in {info['build_s']:.1f} s; RSS {info['import_rss']:.0f} MB "
              f"after import tensorflow, {info['graph_rss']:.0f} MB with graph and session; session threads "
              f"intra={info['intra']} inter={info['inter']}", flush=True)
        variants.append((name, info, parent_end, process, []))

    print(f"{'iter':>4} {'variant':>15} {'transitions':>11} {'ingest s':>9} {'train s':>8} {'total s':>8} "
          f"{'trans-epochs/s':>15} {'KL':>9} {'entropy':>8} {'peak RSS MB':>12}")
    for iteration in range(args.iterations + 1):
        for name, info, connection, _, rows in variants:
            connection.send(iteration)
            row = connection.recv()
            total = row["ingest_s"] + row["train_s"]
            if iteration:
                rows.append(row)
            print(f"{iteration or 'warm':>4} {info['label']:>15} {row['steps']:>11} {row['ingest_s']:>9.2f} {row['train_s']:>8.2f} "
                  f"{total:>8.2f} {row['steps'] * info['epochs'] / total:>15.0f} {row['kl']:>9.5f} "
                  f"{row['entropy']:>8.4f} {row['peak_rss']:>12.0f}", flush=True)
    for _, _, connection, process, _ in variants:
        connection.send(None)
        connection.recv()
        process.join()

    print(f"\n{'variant':>15} {'median s':>9} {'ratio':>6} {'trans-epochs/s':>15} {'peak RSS MB':>12} "
          f"{'after import':>13} {'with graph':>11}")
    reference = None
    for name, info, _, _, rows in variants:
        median = statistics.median(row["ingest_s"] + row["train_s"] for row in rows)
        reference = reference or median
        rate = statistics.median(row["steps"] for row in rows) * info["epochs"] / median
        print(f"{info['label']:>15} {median:>9.2f} {median / reference:>6.2f} {rate:>15.0f} "
              f"{max(row['peak_rss'] for row in rows):>12.0f} {info['import_rss']:>13.0f} {info['graph_rss']:>11.0f}")
    name, info, _, _, rows = variants[0]
    steps = statistics.median(row["steps"] for row in rows)
    forward, backward = iteration_flops(int(round(steps)), info["epochs"], info["batch_size"])
    coach = sum(iteration_flops(int(round(steps)), info["epochs"], info["batch_size"], old_policy_per_minibatch=True))
    print(f"FLOPs per iteration (estimated): forward {forward / 1e9:.0f} G, backward {backward / 1e9:.0f} G, "
          f"total {(forward + backward) / 1e9:.0f} G (Coach's own loop, coach-old-policy: {coach / 1e9:.0f} G); "
          f"forward per sample {forward_flops_per_sample() / 1e6:.1f} M")
    print(f"load average after: {os.getloadavg()[0]:.2f} (image: 28-36 s per iteration, 1.75-1.81 GB peak RSS)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

